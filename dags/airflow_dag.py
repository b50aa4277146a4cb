"""Airflow 3 DAG: the same stages as ``radcurate run``, one TaskFlow task per stage.

Importable only where Airflow is installed (put this file, or a file importing it, in the DAG
folder). Airflow has no Dask executor: each task calls Dask itself, through the cluster at
``$RADCURATE_DASK_SCHEDULER`` if set, else a local cluster on the task's machine. Tasks pass
paths, not data; each stage resumes, validates and records its state exactly as the CLI does,
and a failed expectation suite fails the task, so its dependants never start. The last task
writes ``OUT/manifest.json`` whatever happened.

Trigger with params, e.g. ``{"dicom": "/data/pacs", "reports": "/data/ris/reports.csv",
"out": "/data/radcurate"}``.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from airflow.sdk import dag, get_current_context, task
from radcurate.dags.pipeline import PIPELINE

SCHEDULER_ENV = "RADCURATE_DASK_SCHEDULER"


def _inputs(dicom: str, reports: str) -> dict:
    from pathlib import Path

    # An unset param renders as "" (or "None"): no report extract.
    return {"dicom": Path(dicom), "reports": Path(reports) if reports not in ("", "None") else None}


def run_stage_task(stage_name: str, dicom: str, reports: str, out: str, config_file: str = "") -> dict:
    """Run one stage (skipped when complete and unchanged); raise when it does not pass."""
    from pathlib import Path

    from radcurate.dags.commands import load_config
    from radcurate.cluster import open_client
    from radcurate.dags.runner import run_stage

    stage = next(s for s in PIPELINE if s.name == stage_name)
    config = load_config(config_file or None)
    with open_client(os.environ.get(SCHEDULER_ENV)) as client:
        outcome = run_stage(
            stage,
            _inputs(dicom, reports),
            Path(out),
            client=client,
            config=config.get(stage_name, {}),
            log=print,
        )
    if not outcome.ok:
        raise RuntimeError(f"stage {stage_name} {outcome.status}: {outcome.message}")
    counts = {k: v for k, v in outcome.result.items() if isinstance(v, (int, float, str))}
    return {"status": outcome.status, **counts}


@dag(
    dag_id="radcurate",
    schedule=None,
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    params={"dicom": "", "reports": "", "out": "", "config": ""},
    tags=["radcurate"],
    doc_md=__doc__,
)
def radcurate_pipeline():
    args = dict(
        dicom="{{ params.dicom }}",
        reports="{{ params.reports }}",
        out="{{ params.out }}",
        config_file="{{ params.config }}",
    )
    tasks = {}
    for stage in PIPELINE:
        tasks[stage.name] = task(task_id=stage.name)(run_stage_task)(stage.name, **args)
    for stage in PIPELINE:
        for dep in stage.depends_on:
            tasks[dep] >> tasks[stage.name]

    @task(trigger_rule="all_done")
    def manifest(dicom: str, reports: str, out: str, config_file: str = "") -> str:
        from pathlib import Path

        from radcurate.dags.commands import load_config
        from radcurate.dags.manifest import write_manifest
        from radcurate.dags.runner import RunReport, outcomes_from_state

        run_id = str(get_current_context()["run_id"])
        report = RunReport(run_id, Path(out), outcomes_from_state(Path(out)))
        return str(
            write_manifest(
                Path(out), report, _inputs(dicom, reports), load_config(config_file or None), PIPELINE
            )
        )

    final = manifest(**args)
    for t in tasks.values():
        t >> final


radcurate_pipeline()
