"""The ingest stage's expectations: keys present, UIDs unique, reports linked, counts that reconcile."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pyarrow.parquet as pq

from radcurate.checks import Expectation, TableSuite, not_null, quarantine_sources, row_count, unique
from radcurate.tables import table_rows

from .config import NAME


def ingest_suites(
    out_dir: str | Path, inputs: Mapping[str, Any], result: Mapping[str, Any]
) -> list[TableSuite]:
    """Ingest: keys present, UIDs unique, reports linked, and counts that reconcile with the disk.

    The file count is taken by walking the DICOM folder again here, independently of the stage:
    instances + quarantined files must equal the files on disk.
    """
    from .walk import display_path, list_files

    out_dir = Path(out_dir)
    files = [display_path(f) for f in list_files(inputs["dicom"], exclude=out_dir)]
    names = set(files)
    quarantine = quarantine_sources(out_dir, NAME)
    files_quarantined = sum(1 for s in quarantine if s in names)
    reports_quarantined = len(quarantine) - files_quarantined
    study_uids = pq.read_table(out_dir / "phi/studies.parquet", columns=["study_uid"]).column(0).to_pylist()
    reports_in = int(result.get("reports_in", 0))
    annotations = table_rows(out_dir / "phi/annotations.parquet")  # presentation states and SR
    return [
        TableSuite(
            "ingest.instances",
            "phi/instances.parquet",
            not_null("path", "relpath", "sha256", "sop_instance_uid", "series_uid", "study_uid")
            + unique("sop_instance_uid", "relpath")
            + (
                row_count(
                    len(files) - files_quarantined - annotations,
                    f"counts reconcile: {len(files)} files on disk - {files_quarantined} quarantined"
                    f" - {annotations} annotation objects",
                ),
            ),
        ),
        TableSuite(
            "ingest.annotations",
            "phi/annotations.parquet",
            not_null("path", "kind", "sop_instance_uid", "study_uid") + unique("sop_instance_uid"),
        ),
        TableSuite(
            "ingest.series",
            "phi/series.parquet",
            not_null("series_uid", "study_uid") + unique("series_uid"),
        ),
        TableSuite("ingest.studies", "phi/studies.parquet", not_null("study_uid") + unique("study_uid")),
        TableSuite(
            "ingest.reports",
            "phi/reports.parquet",
            not_null("report_id", "accession", "report_text", "study_uid")
            + (
                Expectation(
                    "ExpectColumnValuesToBeInSet",
                    {"column": "study_uid", "value_set": study_uids},
                    "reports linked: every report points at an ingested study",
                ),
                row_count(
                    reports_in - reports_quarantined,
                    f"counts reconcile: {reports_in} report rows - {reports_quarantined} quarantined",
                ),
            ),
        ),
        TableSuite(
            "ingest.quarantine",
            "quarantine.parquet",
            not_null("source", "reason"),
            where=("stage", "ingest"),
        ),
    ]
