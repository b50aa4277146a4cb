"""Read a RIS report extract (CSV or Parquet) row by row and link it to studies by accession.

The CSV is parsed from its bytes: the file is decoded as Latin-1 (which maps every byte to one
character, so parsing never fails and the delimiters, all ASCII, are found exactly as in UTF-8),
then each field is turned back into its bytes and decoded with the extract's real encoding.
A row that does not decode becomes a quarantine row; the rows around it are kept.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Mapping

import pyarrow as pa
import pyarrow.parquet as pq

from .config import IngestConfig
from radcurate.dates import parse_date

REQUIRED = ("accession", "report_text")
OPTIONAL = ("patient_id", "patient_name", "exam_date")


@dataclass
class ReportRead:
    """Report rows that link to a study, quarantine rows for the rest, and the rows read."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    n_in: int = 0


class _Undecodable(ValueError):
    def __init__(self, column: str, exc: UnicodeDecodeError):
        super().__init__(f"column {column} is not valid {exc.encoding} (byte offset {exc.start})")


def read_reports(
    path: str | os.PathLike, accession_to_study: Mapping[str, tuple[str, str | None]], config: IngestConfig
) -> ReportRead:
    """Rows of the extract at ``path`` with ``study_uid`` added; unlinkable rows quarantined.

    ``accession_to_study`` maps an accession to ``(study_uid, patient_id)`` from the DICOM studies.
    """
    path = Path(path)
    out = ReportRead()
    try:
        header, records = _read_records(path, config)
    except (OSError, ValueError, csv.Error, pa.ArrowException) as exc:
        out.n_in = 1  # the extract itself is the one record that could not be read
        out.quarantine.append(
            {
                "source": path.name,
                "reason": "unreadable_extract",
                "detail": f"cannot read extract ({type(exc).__name__})",
            }
        )
        return out
    names = {key: config.report_columns.get(key, key) for key in REQUIRED + OPTIONAL}
    index = {name: i for i, name in enumerate(header)}
    missing = [names[k] for k in REQUIRED if names[k] not in index]
    for number, fields in records:
        out.n_in += 1
        source = f"{path.name}:row {number}"
        if missing:
            out.quarantine.append(
                {
                    "source": source,
                    "reason": "missing_column",
                    "detail": f"extract has no column {', '.join(missing)}",
                }
            )
            continue
        if len(fields) != len(header):
            out.quarantine.append(
                {
                    "source": source,
                    "reason": "malformed_row",
                    "detail": f"{len(fields)} fields, header has {len(header)}",
                }
            )
            continue
        try:
            values = {
                key: _decode(fields[index[name]], name, config.report_encoding)
                for key, name in names.items()
                if name in index
            }
        except _Undecodable as exc:
            acc = _try_decode(fields[index[names["accession"]]], config.report_encoding)
            out.quarantine.append({"source": acc or source, "reason": "undecodable_text", "detail": str(exc)})
            continue
        accession = (values.get("accession") or "").strip()
        text = values.get("report_text") or ""
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
        patient_id = (values.get("patient_id") or "").strip() or None
        out.rows.append(
            {
                "report_id": hashlib.sha256(f"{accession}\x1f{text}".encode()).hexdigest()[:16],
                "row_number": number,
                "accession": accession,
                "patient_id": patient_id,
                "patient_name": (values.get("patient_name") or "").strip() or None,
                "exam_date": parse_iso_date(values.get("exam_date")),
                "report_text": text,
                "study_uid": study_uid,
                "patient_id_matches": None
                if patient_id is None or study_patient is None
                else patient_id == study_patient,
            }
        )
    return out


def _read_records(path: Path, config: IngestConfig) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    """Header names and ``(row number, raw fields)``; fields are bytes (CSV) or values (Parquet)."""
    if path.suffix.lower() in {".parquet", ".pq"}:
        table = pq.read_table(path)
        columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
        rows = [(i + 1, [c[i] for c in columns]) for i in range(table.num_rows)]
        return list(table.column_names), rows
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    reader = csv.reader(io.StringIO(raw.decode("latin-1"), newline=""))
    header_fields = next(reader, None)
    if header_fields is None:
        return [], []
    header = [_decode(h.encode("latin-1"), "header", config.report_encoding).strip() for h in header_fields]
    rows = []
    number = 0
    for fields in reader:
        if not fields or fields == [""]:
            continue  # a blank line is not a record
        number += 1
        rows.append((number, [f.encode("latin-1") for f in fields]))
    return header, rows


def _decode(value: Any, column: str, encoding: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode(encoding)
        except UnicodeDecodeError as exc:
            raise _Undecodable(column, exc) from None
    return str(value)


def _try_decode(value: Any, encoding: str) -> str | None:
    try:
        text = _decode(value, "accession", encoding)
    except _Undecodable:
        return None
    return (text or "").strip() or None


def parse_iso_date(text: Any) -> date | None:
    """``YYYY-MM-DD`` (or ``YYYYMMDD``) to a date; None for empty or invalid values."""
    return parse_date(text)
