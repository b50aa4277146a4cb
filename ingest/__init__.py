"""radcurate ingest: a PACS export (DICOM tree) and a RIS extract -> PHI-zone Parquet manifests.

``run_ingest(dicom_dir, reports_file, out_dir)`` writes ``OUT/phi/instances.parquet``,
``series.parquet``, ``studies.parquet``, ``reports.parquet`` and the stage's rows of
``OUT/quarantine.parquet``; the schemas are in :mod:`radcurate.ingest.schemas`.
"""

from .config import REPORT_COLUMNS, IngestConfig
from .headers import ingest_batch, read_file
from .run import OUTPUTS, STAGE, IngestSummary, make_batches, run_ingest
from .schemas import INSTANCE_SCHEMA, REPORT_SCHEMA, SERIES_SCHEMA, STUDY_SCHEMA
from .walk import list_files

__all__ = [
    "INSTANCE_SCHEMA",
    "OUTPUTS",
    "REPORT_COLUMNS",
    "REPORT_SCHEMA",
    "SERIES_SCHEMA",
    "STAGE",
    "STUDY_SCHEMA",
    "IngestConfig",
    "IngestSummary",
    "ingest_batch",
    "list_files",
    "make_batches",
    "read_file",
    "run_ingest",
]
