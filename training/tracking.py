"""Experiment tracking of a run: MLflow (params, per-epoch metrics, artifacts) and TensorBoard events.

MLflow is what research groups already browse runs with. By default each run folder holds its own
store: ``RUN/mlflow.db`` (SQLite, MLflow's supported local backend; its file store is in maintenance
mode) with artifacts in ``RUN/mlartifacts``, so a run folder copied elsewhere keeps its history
(``mlflow ui --backend-store-uri sqlite:///RUN/mlflow.db``). ``tracking`` may instead name any
tracking URI (a team's server), or ``none``. The MLflow run id is kept in ``RUN/tracking.json``, so
a resumed training and a later ``radcurate evaluate`` log into the same MLflow run.

TensorBoard event files are written under ``RUN/tensorboard`` (``tensorboard --logdir RUN``) with
torch's own ``SummaryWriter``. Nothing here is needed to train: with ``tracking: none`` and no
tensorboard package the run still writes ``history.json`` and ``run.json``.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Mapping

EXPERIMENT = "radcurate"


def _flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flat(v, key + "."))
        else:
            out[key] = json.dumps(v) if isinstance(v, (list, tuple)) else str(v)
    return out


def tracking_uri(run: Path, tracking: str) -> str | None:
    if tracking == "none":
        return None
    if tracking == "local":
        return f"sqlite:///{(Path(run).resolve() / 'mlflow.db').as_posix()}"
    return tracking


class Tracker:
    """MLflow run + TensorBoard writer of one run folder (rank 0 only; a no-op when disabled)."""

    def __init__(self, run: str | os.PathLike, tracking: str = "local", tensorboard: bool = True,
                 run_name: str | None = None):
        self.run = Path(run)
        self.client = None
        self.run_id: str | None = None
        self.writer = None
        uri = tracking_uri(self.run, tracking)
        state_path = self.run / "tracking.json"
        state = json.loads(state_path.read_text()) if state_path.is_file() else {}
        if uri is not None:
            for name in ("alembic", "mlflow"):  # table creation and migrations log at INFO
                logging.getLogger(name).setLevel(logging.WARNING)
            from mlflow.tracking import MlflowClient

            self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            if state.get("uri") == uri and state.get("run_id"):
                self.run_id = state["run_id"]
                if self.client.get_run(self.run_id).info.status != "RUNNING":
                    self.client.update_run(self.run_id, status="RUNNING")
            else:
                exp = self.client.get_experiment_by_name(EXPERIMENT)
                if exp is None:
                    art = (self.run.resolve() / "mlartifacts").as_uri() if tracking == "local" else None
                    exp_id = self.client.create_experiment(EXPERIMENT, artifact_location=art)
                else:
                    exp_id = exp.experiment_id
                self.run_id = self.client.create_run(exp_id, run_name=run_name or self.run.name).info.run_id
                state = {"uri": uri, "run_id": self.run_id, "experiment": EXPERIMENT}
                state_path.write_text(json.dumps(state, indent=1) + "\n")
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard not installed: history.json still has every number
                SummaryWriter = None
            if SummaryWriter is not None:
                self.writer = SummaryWriter(str(self.run / "tensorboard"))

    @property
    def uri(self) -> str | None:
        return None if self.client is None else self.client.tracking_uri

    def params(self, params: Mapping[str, Any]) -> None:
        if self.client is None:
            return
        from mlflow.entities import Param

        existing = self.client.get_run(self.run_id).data.params
        flat = {k[:250]: v[:6000] for k, v in _flat(params).items() if k[:250] not in existing}
        items = [Param(k, v) for k, v in flat.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(self.run_id, params=items[i:i + 100])

    def metrics(self, values: Mapping[str, float], step: int | None = None) -> None:
        finite = {k: float(v) for k, v in values.items()
                  if isinstance(v, (int, float)) and v == v and abs(v) != float("inf")}
        if self.client is not None and finite:
            import time

            from mlflow.entities import Metric

            now = int(time.time() * 1000)
            self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, step or 0) for k, v in finite.items()])
        if self.writer is not None and step is not None:
            for k, v in finite.items():
                self.writer.add_scalar(k.replace(".", "/"), v, step)
            self.writer.flush()

    def artifact(self, path: str | os.PathLike, folder: str | None = None) -> None:
        if self.client is not None and Path(path).is_file():
            self.client.log_artifact(self.run_id, str(path), folder)

    def tag(self, key: str, value: str) -> None:
        if self.client is not None:
            self.client.set_tag(self.run_id, key, value)

    def close(self, status: str = "FINISHED") -> None:
        if self.client is not None:
            self.client.set_terminated(self.run_id, status=status)
        if self.writer is not None:
            self.writer.close()
