"""Run the stage graph on Dask, resumably.

Each stage records its completion in ``OUT/_state/<stage>.json`` with the fingerprint of its
inputs and the hash of its config. A rerun skips completed stages whose inputs and config are
unchanged; a stage found ``running`` (the process was killed) or failed is redone from scratch:
its outputs are removed first and every table is written atomically, so no rows are duplicated.
A stage whose expectation suite fails stops the stages that depend on it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from radcurate.checks import CheckResult, SuiteResult, format_report, validate
from radcurate.cluster import open_client
from radcurate.fingerprints import fingerprint_path
from radcurate.outlock import lock_output
from radcurate.stage import INPUT_PREFIX, Stage, StageContext

from .config import config_hash, effective_config, split_section, validate_config
from .pipeline import PIPELINE, active, ordered
from .previous_outputs import drop_previous, recover, restore_previous, set_aside
from .quarantine_share import quarantine_share_suite
from .reviewed_keys import check_reviewed_keys

logger = logging.getLogger(__name__)
STATE_DIR = "_state"
VALIDATION_DIR = "validation"  # GE Data Docs per stage
DONE = "complete"


@dataclass
class StageOutcome:
    """What happened to one stage in this run."""

    name: str
    status: str  # ran | skipped | failed_validation | error | blocked
    result: dict[str, Any] = field(default_factory=dict)
    validation: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    message: str = ""
    input_fingerprint: str = ""
    config_hash: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("ran", "skipped")


@dataclass
class RunReport:
    run_id: str
    out_dir: Path
    outcomes: list[StageOutcome]
    manifest: Path | None = None

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


def run_pipeline(
    inputs: Mapping[str, str | os.PathLike | None],
    out_dir: str | os.PathLike,
    *,
    stages: Sequence[Stage] = PIPELINE,
    client: Any = None,
    scheduler: str | None = None,
    workers: int | None = None,
    worker_timeout: float | None = None,
    config: Mapping[str, Mapping[str, Any]] | None = None,
    progress: bool = False,
    force: bool = False,
    log=None,
) -> RunReport:
    """Run ``stages`` in dependency order over ``inputs`` (e.g. ``{"dicom": DIR, "reports": FILE}``)
    into ``out_dir`` and write ``OUT/manifest.json``. Uses ``client`` if given, else opens one
    (see :func:`open_client`). ``force`` redoes completed stages. ``log`` gets one line per event
    (default: stderr). A bad ``config`` raises :class:`~radcurate.dags.config.ConfigError` before
    anything is read or written."""
    from .manifest import write_manifest

    log = log or logger.info
    config = validate_config(config or {}, active(stages, config or {}))
    out = Path(out_dir)
    paths = {k: (Path(v).resolve() if v is not None else None) for k, v in inputs.items()}
    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
    graph = ordered(active(stages, config))
    preflight(graph, config, paths, out)
    outcomes: list[StageOutcome] = []
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        stack.enter_context(lock_output(out))  # raises OutputLocked (an OSError) when OUT is busy
        owned_client = client
        for stage in graph:
            blocked_by = [o.name for o in outcomes if o.name in stage.depends_on and not o.ok]
            if blocked_by:
                outcomes.append(
                    StageOutcome(
                        stage.name, "blocked", message=f"not run: {', '.join(blocked_by)} did not pass"
                    )
                )
                log(f"[{stage.name}] blocked: {', '.join(blocked_by)} did not pass")
                continue
            if owned_client is None and _needs_work(stage, out, paths, config, force):
                timeout = {} if worker_timeout is None else {"worker_timeout": worker_timeout}
                owned_client = stack.enter_context(open_client(scheduler, workers, **timeout))
            outcome = run_stage(
                stage,
                paths,
                out,
                client=owned_client,
                config=config.get(stage.name, {}),
                progress=progress,
                force=force,
                log=log,
            )
            outcomes.append(outcome)
    report = RunReport(run_id, out, outcomes)
    report.manifest = write_manifest(out, report, paths, config, graph)
    return report


def preflight(stages: Sequence[Stage], config: Mapping[str, Mapping[str, Any]],
              inputs: Mapping[str, Path | None], out_dir: Path) -> None:
    """What must hold before anything is written to OUT: each stage's own ``preflight`` (a DICOM
    folder with a file that could be DICOM, a report extract's columns, the secret's location and
    mode, lexicon contents), what its config points at (``config_inputs``: the secret readable and
    private, lexicons and reviewed labels present) and, across stages, reviewed labels keyed under
    this run's secret. Raises ``ValueError`` (or ``OSError``) saying what is wrong."""
    for stage in stages:
        own, _ = split_section(dict(config.get(stage.name, {})))
        if stage.preflight is not None:
            stage.preflight(own, inputs, Path(out_dir))
        if stage.config_inputs is not None:
            stage.config_inputs(own, Path(out_dir))
    if any(stage.name == "labeling" for stage in stages):
        check_reviewed_keys(config, inputs)


def run_stage(
    stage: Stage,
    inputs: Mapping[str, Path | None],
    out_dir: Path,
    *,
    client: Any = None,
    config: Mapping[str, Any] | None = None,
    progress: bool = False,
    force: bool = False,
    log=None,
) -> StageOutcome:
    """Run one stage (or skip it when complete and unchanged), validate it, record its state.

    Besides the stage's suite, the share of its input it quarantined is checked
    (``max_quarantined_share`` in its config section, see :mod:`.quarantine_share`)."""
    log = log or logger.info
    config, settings = split_section(dict(config or {}))
    fingerprint = input_fingerprint(stage, inputs, out_dir, config)
    chash = config_hash(effective_config(stage, {**config, **settings}))
    state = read_state(out_dir, stage.name)
    recover(stage.name, stage.outputs, out_dir, completed=state.get("status") == DONE)
    changed = _changed_outputs(state, out_dir) if state.get("status") == DONE else []
    if changed and not force:
        log(f"[{stage.name}] outputs changed since the stage completed ({', '.join(changed[:3])}): redoing it")
    if not force and not changed and _is_current(state, stage, out_dir, fingerprint, chash):
        log(f"[{stage.name}] up to date: skipped (completed {state.get('finished_at', '?')})")
        return StageOutcome(
            stage.name,
            "skipped",
            state.get("result", {}),
            state.get("validation", []),
            input_fingerprint=fingerprint,
            config_hash=chash,
        )
    if state.get("status") == "running":
        log(f"[{stage.name}] an earlier run was interrupted: redoing the stage from scratch")
    set_aside(stage.name, stage.outputs, out_dir)  # put back if this attempt fails (previous_outputs)
    clear_outputs(stage, out_dir)
    started = time.perf_counter()
    write_state(
        out_dir,
        stage.name,
        {"status": "running", "started_at": _now(), "input_fingerprint": fingerprint, "config_hash": chash},
    )
    ctx = StageContext(out_dir=out_dir, inputs=inputs, client=client, config=config, progress=progress)
    try:
        result = dict(stage.function(ctx))
    except (KeyboardInterrupt, SystemExit):
        raise  # the state stays "running": the next run puts the previous outputs back and redoes it
    except BaseException as exc:  # a native panic (pyo3's PanicException) is no Exception: an error all the same
        seconds = round(time.perf_counter() - started, 3)
        message = f"{type(exc).__name__}: {exc}"
        log(f"[{stage.name}] error: {message}")
        restore_previous(stage.name, stage.outputs, out_dir, keep_rejected=False)
        write_state(
            out_dir,
            stage.name,
            {"status": "error", "message": message, "input_fingerprint": fingerprint, "config_hash": chash},
        )
        return StageOutcome(
            stage.name,
            "error",
            seconds=seconds,
            message=message,
            input_fingerprint=fingerprint,
            config_hash=chash,
        )
    try:
        results = validate(out_dir, stage.suite(out_dir, inputs, result) if stage.suite else [],
                           docs_dir=Path(out_dir, VALIDATION_DIR, stage.name))
    except Exception as exc:  # a suite that cannot even be evaluated is a failed suite
        error = CheckResult(stage.name, "suite evaluated", None, False, f"error: {type(exc).__name__}: {exc}")
        results = [SuiteResult(stage.name, "-", False, [error])]
    share = quarantine_share_suite(stage.name, result, settings["max_quarantined_share"])
    if share is not None:
        results.append(share)
    validation = [r.to_dict() for r in results]
    seconds = round(time.perf_counter() - started, 3)
    passed = all(r.success for r in results)
    status = "ran" if passed else "failed_validation"
    rejected = None
    if passed:
        drop_previous(stage.name, out_dir)
    else:  # no rejected table stays under curated/: the previous version stays current
        rejected = restore_previous(stage.name, stage.outputs, out_dir, keep_rejected=True)
    write_state(
        out_dir,
        stage.name,
        {
            "status": DONE if passed else "failed_validation",
            "finished_at": _now(),
            "input_fingerprint": fingerprint,
            "config_hash": chash,
            "outputs": list(stage.outputs),
            # optional outputs (e.g. a crosswalk that is off) are not expected back on a rerun
            "written": [rel for rel in stage.outputs if Path(out_dir, rel).exists()],
            # verified on a rerun: a deleted or replaced output makes the stage run again
            "checksums": {rel: output_checksum(Path(out_dir, rel)) for rel in stage.outputs
                          if Path(out_dir, rel).exists()},
            "result": result,
            "validation": validation,
            "seconds": seconds,
        },
    )
    n_checks = sum(len(r.checks) for r in results)
    if passed:
        log(f"[{stage.name}] done in {seconds:.1f}s; {n_checks} expectations passed")
        message = ""
    else:
        message = "expectation suite failed:\n" + format_report(results, failures_only=True)
        if rejected is not None:
            message += (f"\nthe rejected outputs are in {rejected} (PHI zone); the previous version of "
                        "the stage's outputs stays current")
        log(f"[{stage.name}] {message}")
    return StageOutcome(stage.name, status, result, validation, seconds, message, fingerprint, chash)


def outcomes_from_state(out_dir: Path, stages: Sequence[Stage] = PIPELINE) -> list[StageOutcome]:
    """The latest recorded outcome of each stage (for a manifest written by another process,
    e.g. the Airflow DAG's last task); stages never started read as ``blocked``."""
    status_of = {DONE: "ran", "failed_validation": "failed_validation", "error": "error", "running": "error"}
    outcomes = []
    for stage in ordered(stages):
        state = read_state(out_dir, stage.name)
        outcomes.append(
            StageOutcome(
                stage.name,
                status_of.get(state.get("status"), "blocked"),
                state.get("result", {}),
                state.get("validation", []),
                state.get("seconds", 0.0),
                state.get("message", ""),
                state.get("input_fingerprint", ""),
                state.get("config_hash", ""),
            )
        )
    return outcomes


# --- state, fingerprints ----------------------------------------------------------------------


def state_path(out_dir: Path, stage: str) -> Path:
    return Path(out_dir, STATE_DIR, f"{stage}.json")


def read_state(out_dir: Path, stage: str) -> dict[str, Any]:
    try:
        return json.loads(state_path(out_dir, stage).read_text())
    except (OSError, ValueError):
        return {}


def write_state(out_dir: Path, stage: str, state: Mapping[str, Any]) -> None:
    """Atomic: a reader sees the old state or the new one, never half of it."""
    path = state_path(out_dir, stage)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps({"stage": stage, **state}, indent=2, default=str))
    os.replace(tmp, path)


def clear_outputs(stage: Stage, out_dir: Path) -> None:
    """Remove a stage's outputs and any temporary files an interrupted write left beside them."""
    for rel in stage.outputs:
        target = Path(out_dir, rel)
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        parent = target.parent
        if parent.is_dir():
            for leftover in parent.glob(f".{target.name}.*.tmp"):
                leftover.unlink(missing_ok=True)
    for leftover in Path(out_dir).glob(".quarantine.parquet.*.tmp"):
        leftover.unlink(missing_ok=True)


def input_fingerprint(stage: Stage, inputs: Mapping[str, Path | None], out_dir: Path,
                      config: Mapping[str, Any] | None = None) -> str:
    """SHA-256 over the stage's inputs: files by content, folders by (path, size, mtime) listing,
    plus what its config section points at (``stage.config_inputs``: reviewed labels, lexicons,
    the secret's key id — never the secret itself)."""
    h = hashlib.sha256()
    if stage.config_inputs is not None:
        own, _ = split_section(dict(config or {}))  # the runner's own settings are not the stage's
        for name, value in sorted(stage.config_inputs(own, Path(out_dir)).items()):
            h.update(f"config:{name}={value}\n".encode())
    for item in stage.inputs:
        if item.startswith(INPUT_PREFIX):
            path = inputs.get(item[len(INPUT_PREFIX) :])
        else:
            path = Path(out_dir, item)
        h.update(f"{item}={fingerprint_path(path)}\n".encode())
    return h.hexdigest()


def output_checksum(path: Path) -> str:
    """A file's SHA-256; a folder's listing (path, size, mtime) hashed, as for inputs."""
    return fingerprint_path(path)


def _changed_outputs(state: Mapping[str, Any], out_dir: Path) -> list[str]:
    """Outputs whose checksum differs from the one recorded when the stage completed."""
    recorded = state.get("checksums")
    if not isinstance(recorded, Mapping):
        return []
    return [rel for rel, digest in recorded.items() if output_checksum(Path(out_dir, rel)) != digest]


def _is_current(state: Mapping[str, Any], stage: Stage, out_dir: Path, fingerprint: str, chash: str) -> bool:
    return (
        state.get("status") == DONE
        and state.get("input_fingerprint") == fingerprint
        and state.get("config_hash") == chash
        and all(Path(out_dir, rel).exists() for rel in state.get("written", stage.outputs))
    )


def _needs_work(stage: Stage, out_dir: Path, inputs, config, force: bool) -> bool:
    """Open a cluster only for a stage that will actually run (a fully resumed run needs none)."""
    if force:
        return True
    state = read_state(out_dir, stage.name)
    if state.get("status") != DONE or _changed_outputs(state, out_dir):
        return True
    return not _is_current(
        state,
        stage,
        out_dir,
        input_fingerprint(stage, inputs, out_dir, config.get(stage.name, {})),
        config_hash(effective_config(stage, config.get(stage.name, {}))),
    )


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
