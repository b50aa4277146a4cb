"""radcurate ingest: a PACS export (DICOM tree) and a RIS extract -> PHI-zone Parquet manifests.

``run_ingest(dicom_dir, reports_file, out_dir)`` writes ``OUT/phi/instances.parquet``,
``series.parquet``, ``studies.parquet``, ``reports.parquet`` (schemas in
:mod:`radcurate.ingest.schemas`) and this stage's rows of ``OUT/quarantine.parquet``.

Accounting: every file under ``dicom_dir`` is either one instance row or one quarantine row
(``source`` = its path relative to ``dicom_dir``); every report row is either linked or one
quarantine row (``source`` = its accession, or ``<file>:row N`` when it has none). A DICOMDIR
is an index, not an instance: it is counted as a quarantine row with reason ``dicomdir`` (its
detail says how many files it lists and how many of those are missing), and the files it lists
are ingested like any other file, with ``in_dicomdir`` set.

Quarantine reasons: ``empty_file``, ``unreadable``, ``bad_file_name``, ``not_dicom``,
``truncated`` (header or pixel data shorter than declared), ``corrupt_header``, ``dicomdir``,
``missing_uid`` (no SOP Instance/Series/Study UID), ``no_pixel_data`` (an "... Image Storage"
SOP class without Pixel Data), ``duplicate_sop_instance`` (the first file by sorted path is
kept), ``unreadable_folder`` (a folder that cannot be listed), ``not_regular_file`` (FIFO,
socket, device: never opened); for reports ``malformed_row``, ``undecodable_text``,
``report_too_large``, ``bad_exam_date``, ``missing_accession``, ``empty_report``,
``unmatched_accession``. A file-level problem of the extract (unreadable, a required column
missing) raises :class:`~radcurate.extract.ExtractError` instead.
"""

from radcurate.lazy import lazy_exports

_EXPORTS = {
    "STAGE": "stage", "OUTPUTS": "stage",
    "REPORT_COLUMNS": "config", "IngestConfig": "config",
    "ingest_batch": "headers", "read_file": "headers",
    "IngestSummary": "run", "make_batches": "run", "run_ingest": "run",
    "INSTANCE_SCHEMA": "schemas", "REPORT_SCHEMA": "schemas", "SERIES_SCHEMA": "schemas", "STUDY_SCHEMA": "schemas",
    "display_path": "walk", "list_files": "walk",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
