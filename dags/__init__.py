"""radcurate dags: the stage graph, the Dask runner, expectation suites, manifest, CLI, Airflow DAG.

``run_pipeline({"dicom": DIR, "reports": FILE}, OUT)`` runs every stage of :data:`PIPELINE` on a
local Dask cluster (or ``scheduler="tcp://HOST:PORT"``), resumably, validating each stage with
its Great Expectations suite, and writes ``OUT/manifest.json``.
"""

from .expectations import Expectation, TableSuite, format_report, validate
from .pipeline import PIPELINE, Stage, StageContext, ordered
from .runner import RunReport, StageOutcome, open_client, run_pipeline, run_stage

__all__ = [
    "PIPELINE",
    "Expectation",
    "RunReport",
    "Stage",
    "StageContext",
    "StageOutcome",
    "TableSuite",
    "format_report",
    "open_client",
    "ordered",
    "run_pipeline",
    "run_stage",
    "validate",
]
