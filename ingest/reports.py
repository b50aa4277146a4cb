"""Link a RIS report extract's rows to the ingested studies by accession.

The extract is read by :func:`radcurate.extract.read_extract` (the one reader ingest, deid
and mine share): a row it rejects (malformed, undecodable, too large, bad exam date) is a
quarantine row here too, and the rows around it are kept.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .config import IngestConfig
from radcurate.extract import ExtractError, parse_iso_date, read_extract  # noqa: F401  (re-exported)

REQUIRED = ("accession", "report_text")
OPTIONAL = ("patient_id", "patient_name", "exam_date")


@dataclass
class ReportRead:
    """Report rows that link to a study, quarantine rows for the rest, and the rows read."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    n_in: int = 0


def read_reports(
    path: str | os.PathLike, accession_to_study: Mapping[str, tuple[str, str | None]], config: IngestConfig
) -> ReportRead:
    """Rows of the extract at ``path`` with ``study_uid`` added; unlinkable rows quarantined.

    ``accession_to_study`` maps an accession to ``(study_uid, patient_id)`` from the DICOM studies.
    Raises :class:`~radcurate.extract.ExtractError` when the file cannot be used at all.
    """
    path = Path(path)
    names = {key: config.report_columns.get(key, key) for key in REQUIRED + OPTIONAL}
    extract = read_extract(path, required=[names[k] for k in REQUIRED],
                           optional=[names[k] for k in OPTIONAL], text_columns=[names["report_text"]],
                           date_columns=[names["exam_date"]], encoding=config.report_encoding,
                           max_text_bytes=config.max_report_bytes, id_column=names["accession"])
    out = ReportRead(n_in=extract.n_in)
    for q in extract.quarantine:
        out.quarantine.append({k: v for k, v in q.items() if k != "row"})
    for number, raw in extract.rows:
        values = {key: raw.get(name) for key, name in names.items()}
        source = f"{path.name}:row {number}"
        accession = str(values.get("accession") or "").strip()
        text = values.get("report_text") or ""
        text = text if isinstance(text, str) else str(text)
        if not accession:
            out.quarantine.append(
                {"source": source, "reason": "missing_accession", "detail": "empty accession"}
            )
            continue
        if not text.strip():
            out.quarantine.append(
                {"source": accession, "reason": "empty_report", "detail": "report text is empty"}
            )
            continue
        link = accession_to_study.get(accession)
        if link is None:
            out.quarantine.append(
                {
                    "source": accession,
                    "reason": "unmatched_accession",
                    "detail": "no ingested study has this accession",
                }
            )
            continue
        study_uid, study_patient = link
        patient_id = str(values.get("patient_id") or "").strip() or None
        out.rows.append(
            {
                "report_id": hashlib.sha256(f"{accession}\x1f{text}".encode()).hexdigest()[:16],
                "row_number": number,
                "accession": accession,
                "patient_id": patient_id,
                "patient_name": str(values.get("patient_name") or "").strip() or None,
                "exam_date": values.get("exam_date"),
                "report_text": text,
                "study_uid": study_uid,
                "patient_id_matches": None
                if patient_id is None or study_patient is None
                else patient_id == study_patient,
            }
        )
    return out
