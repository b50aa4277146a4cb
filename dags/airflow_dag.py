"""Airflow 3 DAG: the same stages as ``radcurate run``, one TaskFlow task per stage of PIPELINE.

Importable only where Airflow is installed (``pip install "radcurate[airflow]"``); point the DAG
folder at ``dags/`` (its ``.airflowignore`` leaves only this file to the parser) or import this file
from your own. Tasks are generated from :data:`~radcurate.dags.pipeline.PIPELINE`, so a stage added
there appears here. Tasks pass paths, not data; each stage resumes, validates and records its state
exactly as ``radcurate run`` does.

- **Params** are required and validated when the run is triggered: ``dicom`` and ``out`` absolute
  paths, ``reports`` an absolute path or empty, ``config`` a config file or empty, ``workers`` the
  local Dask workers per task (empty: one per core; 0: no Dask). The first task, ``check_inputs``
  (a setup task), checks that the inputs exist and that the config file is valid, and touches
  nothing on disk; if it fails, no stage runs.
- **Failures fail the DagRun:** a stage that errors or fails its expectation suite fails its task
  (no retries: a rerun of the DagRun resumes), its dependants do not run, and the DagRun ends
  failed. ``manifest`` is a teardown task: it writes ``OUT/manifest.json`` whatever happened, and
  its own success does not make a failed run succeed.
- **Dask inside tasks:** with ``$RADCURATE_DASK_SCHEDULER`` (``tcp://HOST:PORT``) every task is a
  client of that cluster — the choice for CeleryExecutor/KubernetesExecutor deployments. Otherwise
  each task starts a local cluster whose worker processes are **forked** from the task process: the
  default ``spawn`` would re-run the ``airflow`` entry point in every worker and fail under
  LocalExecutor ("Nanny failed to start").

Trigger with e.g. ``{"dicom": "/data/pacs", "reports": "/data/ris/reports.csv",
"out": "/data/radcurate"}``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping

from airflow.sdk import Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException
from radcurate.dags.pipeline import PIPELINE

SCHEDULER_ENV = "RADCURATE_DASK_SCHEDULER"
log = logging.getLogger("radcurate.dags.airflow")

PARAMS = {
    "dicom": Param(type="string", pattern="^/", description="absolute path of the DICOM tree (PACS export)"),
    "reports": Param("", type="string", pattern="^(/.*)?$",
                     description="absolute path of the RIS extract (.csv or .parquet); empty: none"),
    "out": Param(type="string", pattern="^/", description="absolute path of the output folder"),
    "config": Param("", type="string", pattern="^(/.*)?$",
                    description="absolute path of a YAML/JSON config file (a section per stage); empty: defaults"),
    "workers": Param(None, type=["null", "integer"], minimum=0,
                     description="local Dask worker processes per task (empty: one per core; 0: no Dask)"),
}


def _inputs(params: Mapping[str, Any]) -> dict[str, Path | None]:
    return {"dicom": Path(params["dicom"]), "reports": Path(params["reports"]) if params.get("reports") else None}


def check_inputs() -> None:
    """Fail before any work when an input is missing or the config is invalid; writes nothing."""
    from radcurate.dags.config import ConfigError, load_config

    params = get_current_context()["params"]
    inputs = _inputs(params)
    problems = []
    if not inputs["dicom"].is_dir():
        problems.append(f"dicom: not a folder: {inputs['dicom']}")
    if inputs["reports"] is not None and not inputs["reports"].is_file():
        problems.append(f"reports: not a file: {inputs['reports']}")
    out = Path(params["out"])
    if out.exists() and not out.is_dir():
        problems.append(f"out: exists and is not a folder: {out}")
    elif inputs["dicom"].is_dir() and inputs["dicom"].resolve() in (out.resolve(), *out.resolve().parents):
        problems.append("out: must not be the DICOM folder or inside it")
    try:
        load_config(params.get("config") or None)
    except ConfigError as exc:
        problems.append(f"config {params['config']}: {exc}")
    if problems:
        raise AirflowFailException("; ".join(problems))


@contextlib.contextmanager
def dask_client(workers: int | None) -> Iterator[Any]:
    """The cluster at ``$RADCURATE_DASK_SCHEDULER``, else a local one with forked workers."""
    import dask
    import distributed  # noqa: F401  (loads its config defaults before we override one of them)

    from radcurate.cluster import open_client

    for name in ("distributed", "dask"):  # Dask's INFO chatter (nanny/worker start and stop) off
        logging.getLogger(name).setLevel(logging.WARNING)
    address = os.environ.get(SCHEDULER_ENV)
    if address:
        with open_client(address) as client:
            yield client
        return
    with dask.config.set({"distributed.worker.multiprocessing-method": "fork"}), open_client(None, workers) as client:
        yield client


def run_stage_task(stage_name: str) -> dict:
    """Run one stage (skipped when complete and unchanged); fail the task when it does not pass."""
    from radcurate.dags.config import load_config
    from radcurate.dags.runner import run_stage

    params = get_current_context()["params"]
    stage = next(s for s in PIPELINE if s.name == stage_name)
    config = load_config(params.get("config") or None)
    with dask_client(params.get("workers")) as client:
        outcome = run_stage(stage, _inputs(params), Path(params["out"]), client=client,
                            config=config.get(stage_name, {}), log=log.info)
    if not outcome.ok:
        # not retried: the DagRun is rerun as a whole and resumes from the last completed stage
        raise AirflowFailException(f"stage {stage_name} {outcome.status}: {outcome.message}")
    counts = {k: v for k, v in outcome.result.items() if isinstance(v, (int, float, str))}
    return {"status": outcome.status, **counts}


def manifest() -> str:
    """``OUT/manifest.json`` from the stages' recorded states (teardown: runs whatever happened)."""
    from radcurate.dags.config import load_config
    from radcurate.dags.manifest import write_manifest
    from radcurate.dags.runner import RunReport, outcomes_from_state

    context = get_current_context()
    params = context["params"]
    out = Path(params["out"])
    report = RunReport(str(context["run_id"]), out, outcomes_from_state(out))
    config = load_config(params.get("config") or None)
    return str(write_manifest(out, report, _inputs(params), config, PIPELINE))


@dag(
    dag_id="radcurate",
    schedule=None,
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    params=PARAMS,
    tags=["radcurate"],
    doc_md=__doc__,
    default_args={"retries": 0},
)
def radcurate_pipeline():
    check = task(task_id="check_inputs")(check_inputs)().as_setup()
    tasks = {stage.name: task(task_id=stage.name)(run_stage_task)(stage.name) for stage in PIPELINE}
    for stage in PIPELINE:
        for dep in stage.depends_on:
            tasks[dep] >> tasks[stage.name]
        if not stage.depends_on:
            check >> tasks[stage.name]
    final = task(task_id="manifest")(manifest)().as_teardown(setups=check)
    for t in tasks.values():
        t >> final


radcurate_pipeline()
