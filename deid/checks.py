"""The deid stage's expectations: keys present and unique, counts that reconcile with ingest,
reports linked to image studies, and no patient's raw name, MRN or accession in curated text."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pyarrow.parquet as pq

from radcurate.checks import Expectation, TableSuite, not_null, row_count, unique
from radcurate.tables import table_rows

LEAK_CHECK_PATIENTS = 500  # patients whose identifiers are searched for in curated report text


def _identifier_patterns(out_dir: Path, limit: int = LEAK_CHECK_PATIENTS) -> list[str]:
    """Regexes for the raw identifiers of up to ``limit`` patients (names in their written forms,
    MRNs, accessions), taken from the PHI zone, to search the curated text for leaks."""
    import re

    path = out_dir / "phi/reports.parquet"
    if not path.exists():
        return []
    rows = pq.read_table(path, columns=["patient_id", "patient_name", "accession"]).to_pandas()
    rows = rows.drop_duplicates("patient_id").head(limit)
    patterns: set[str] = set()
    for pid, name, acc in rows.itertuples(index=False):
        for ident in (pid, acc):
            if isinstance(ident, str) and len(ident.strip()) >= 5:
                patterns.add(r"\b" + re.escape(ident.strip()) + r"\b")
        parts = [p for p in re.split(r"[\^,]+", name or "") if p.strip()] if isinstance(name, str) else []
        if len(parts) >= 2:
            last, first = parts[0].strip(), parts[1].strip().split()[0]
            for form in (f"{first} {last}", f"{last}, {first}", f"{last}^{first}"):
                patterns.add("(?i)" + re.escape(form))
    return sorted(patterns)


def deid_suites(out_dir: str | Path, inputs: Mapping[str, Any], result: Mapping[str, Any]) -> list[TableSuite]:
    """Deid: keys present and unique, counts reconcile with ingest, reports linked to image studies,
    and no patient's raw name, MRN or accession in the curated report text."""
    out_dir = Path(out_dir)
    files_in = int(result.get("files_in", table_rows(out_dir / "phi/instances.parquet")))
    reports_in = int(result.get("reports_in", table_rows(out_dir / "phi/reports.parquet")))
    study_keys = pq.read_table(out_dir / "curated/studies.parquet", columns=["study_key"]).column(0).to_pylist()
    leak = _identifier_patterns(out_dir)
    report_checks = (
        not_null("report_key", "study_key", "patient_key", "study_date", "text") + unique("report_key")
        + (
            row_count(reports_in - int(result.get("reports_quarantined", 0)),
                      f"counts reconcile: {reports_in} reports - quarantined"),
            Expectation("ExpectColumnValuesToBeInSet", {"column": "study_key", "value_set": study_keys},
                        "each report's study_key is the key of its image study"),
        )
    )
    if leak:
        report_checks += (Expectation(
            "ExpectColumnValuesToNotMatchRegexList",
            {"column": "text", "regex_list": leak},
            f"no raw patient name, MRN or accession in report text ({LEAK_CHECK_PATIENTS} patients max)"),)
    return [
        TableSuite("deid.studies", "curated/studies.parquet",
                   not_null("patient_key", "study_key") + unique("study_key")),
        TableSuite("deid.series", "curated/series.parquet",
                   not_null("study_key", "series_key") + unique("series_key")),
        TableSuite("deid.instances", "curated/instances.parquet",
                   not_null("series_key", "instance_key", "path") + unique("instance_key")
                   + (row_count(files_in - int(result.get("files_quarantined", 0)),
                                f"counts reconcile: {files_in} ingested images - "
                                f"{int(result.get('files_quarantined', 0))} quarantined by deid"),)),
        TableSuite("deid.reports", "curated/reports.parquet", report_checks),
    ]
