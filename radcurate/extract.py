"""The one reader of RIS report extracts (CSV or Parquet), used by ingest, deid and mine.

File-level problems (cannot be read, not a valid Parquet file, empty, a needed column missing)
raise :class:`ExtractError` with a message that names the file and the columns expected: the
commands turn it into exit code 2. Row-level problems quarantine that row only, with its reason,
and the other rows go on: a row with the wrong number of fields (``malformed_row``), a value
that is not valid in the extract's encoding (``undecodable_text``), a report text over
``max_text_bytes`` (``report_too_large``; spaCy's own limit is 1,000,000 characters), and a date
that is empty or not ISO ``YYYY-MM-DD`` (``bad_exam_date``, detail naming the expected format
and the shape of what was found, never the value).

The CSV is parsed from its bytes: the file is decoded as Latin-1 (which maps every byte to one
character, so parsing never fails and the delimiters, all ASCII, are found exactly as in UTF-8),
then each field is turned back into its bytes and decoded with the extract's real encoding.
The csv module's field limit (128 KiB by default) is lifted: a long report is a row-level
matter, never a reason to drop the whole file.
"""

from __future__ import annotations

import csv
import io
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from radcurate.dates import parse_date

MAX_TEXT_BYTES = 1_000_000
DATE_FORMAT = "YYYY-MM-DD"


class ExtractError(ValueError):
    """A report extract that cannot be used at all (the message says which file and why)."""


@dataclass
class Extract:
    """Rows that passed the row checks (``(row number, {column: value})``), quarantine rows
    (``source`` = ``<file name>:row N``) and the number of rows read."""

    path: Path
    columns: list[str]
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    n_in: int = 0

    def frame(self):
        """The good rows as a pandas DataFrame (text columns as strings, dates as dates)."""
        import pandas as pd

        return pd.DataFrame([values for _, values in self.rows], columns=self.columns)


def expected_text(required: Sequence[str], optional: Sequence[str] = ()) -> str:
    text = "expected columns: " + ", ".join(required)
    return text + (f" (optional: {', '.join(optional)})" if optional else "")


def read_extract(path: str | os.PathLike, *, required: Sequence[str], optional: Sequence[str] = (),
                 text_columns: Sequence[str] = (), date_columns: Sequence[str] = (),
                 encoding: str = "utf-8", max_text_bytes: int = MAX_TEXT_BYTES,
                 id_column: str | None = None) -> Extract:
    """Read the extract at ``path``; see the module docstring for what is checked where.

    ``id_column``: a quarantined row is named by its value there (when readable) instead of
    ``<file name>:row N``."""
    path = Path(path)
    header, records = _records(path, encoding, required, optional)
    missing = [c for c in required if c not in header]
    if missing:
        found = ", ".join(header[:20]) + (" ..." if len(header) > 20 else "")
        raise ExtractError(f"report extract {path}: no column {', '.join(missing)}; "
                           f"{expected_text(required, optional)}; found: {found or 'none'}")
    keep = list(dict.fromkeys([*required, *[c for c in optional if c in header]]))
    index = {name: i for i, name in enumerate(header)}
    out = Extract(path, keep)
    dates = [c for c in date_columns if c in index]
    for number, fields in records:
        out.n_in += 1
        source = f"{path.name}:row {number}"
        if id_column in index and len(fields) == len(header):
            try:
                ident = _decode(fields[index[id_column]], encoding)
                source = str(ident).strip() or source if ident is not None else source
            except UnicodeDecodeError:
                pass

        def bad(reason: str, detail: str) -> None:
            out.quarantine.append({"source": source, "reason": reason, "detail": detail, "row": number})

        if len(fields) != len(header):
            bad("malformed_row", f"{len(fields)} fields, header has {len(header)}")
            continue
        values: dict[str, Any] = {}
        problem = None
        for name in keep:
            raw = fields[index[name]]
            if name in text_columns and isinstance(raw, (bytes, str)) and len(raw) > max_text_bytes:
                problem = ("report_too_large", f"column {name} holds {len(raw):,} bytes; the limit is "
                                               f"{max_text_bytes:,} (split the report or raise the limit)")
                break
            try:
                values[name] = _decode(raw, encoding)
            except UnicodeDecodeError as exc:
                problem = ("undecodable_text", f"column {name} is not valid {exc.encoding} "
                                               f"(byte offset {exc.start})")
                break
        if problem:
            bad(*problem)
            continue
        for name in dates:
            parsed = parse_iso_date(values[name])
            if parsed is None:
                bad("bad_exam_date", f"column {name} is {_shape(values[name])}; expected {DATE_FORMAT}")
                problem = True
                break
            values[name] = parsed
        if problem:
            continue
        out.rows.append((number, values))
    return out


def check_extract(path: str | os.PathLike, required: Sequence[str], optional: Sequence[str] = ()) -> None:
    """Raise :class:`ExtractError` now if the extract cannot be read or lacks a needed column
    (used before a pipeline run starts, so a bad extract fails in a second, not after ingest)."""
    path = Path(path)
    try:
        if path.suffix.lower() in {".parquet", ".pq"}:
            header = pq.read_schema(path).names
        else:
            with open(path, "rb") as fh:
                first = fh.readline(1 << 20)
            header = _header_fields(first, "utf-8")
    except ExtractError:
        raise
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise ExtractError(_unreadable(path, exc, required, optional)) from None
    missing = [c for c in required if c not in header]
    if missing:
        raise ExtractError(f"report extract {path}: no column {', '.join(missing)}; "
                           f"{expected_text(required, optional)}; found: {', '.join(header) or 'none'}")


def _unreadable(path: Path, exc: Exception, required, optional) -> str:
    kind = "Parquet" if path.suffix.lower() in {".parquet", ".pq"} else "CSV"
    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
    return f"cannot read report extract {path} as {kind} ({why}); {expected_text(required, optional)}"


def _header_fields(first_line: bytes, encoding: str) -> list[str]:
    if first_line.startswith(b"\xef\xbb\xbf"):
        first_line = first_line[3:]
    fields = next(csv.reader(io.StringIO(first_line.decode("latin-1"))), [])
    return [f.encode("latin-1").decode(encoding, "replace").strip() for f in fields]


def _records(path: Path, encoding: str, required, optional) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    """Header names and ``(row number, raw fields)``; fields are bytes (CSV) or values (Parquet)."""
    try:
        if path.suffix.lower() in {".parquet", ".pq"}:
            table = pq.read_table(path)
            columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
            return list(table.column_names), [(i + 1, [c[i] for c in columns]) for i in range(table.num_rows)]
        raw = path.read_bytes()
    except (OSError, pa.ArrowException) as exc:
        raise ExtractError(_unreadable(path, exc, required, optional)) from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    limit = csv.field_size_limit()
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        reader = csv.reader(io.StringIO(raw.decode("latin-1"), newline=""))
        header_fields = next(reader, None)
        if header_fields is None:
            raise ExtractError(f"report extract {path} is empty; {expected_text(required, optional)}")
        header = [f.encode("latin-1").decode(encoding, "replace").strip() for f in header_fields]
        rows = []
        number = 0
        for fields in reader:
            if not fields or fields == [""]:
                continue  # a blank line is not a record
            number += 1
            rows.append((number, [f.encode("latin-1") for f in fields]))
    except csv.Error as exc:
        raise ExtractError(f"report extract {path} is not valid CSV ({exc}); "
                           f"{expected_text(required, optional)}") from None
    finally:
        csv.field_size_limit(limit)
    return header, rows


def _decode(value: Any, encoding: str) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode(encoding)
    return value


def _shape(value: Any) -> str:
    """What a bad date looks like, without the value: digits as 9, letters as A."""
    text = "" if value is None else str(value).strip()
    if not text:
        return "empty"
    shape = re.sub(r"[A-Za-z]", "A", re.sub(r"\d", "9", text))[:24]
    return f"written like {shape}"


def parse_iso_date(value: Any) -> date | None:
    """``YYYY-MM-DD`` (or a DICOM DA ``YYYYMMDD``) to a date; None otherwise — the strict form of
    :func:`radcurate.dates.parse_date`. US (``MM/DD/YYYY``) and European (``DD.MM.YYYY``) forms are
    refused, not guessed: 03/04/2017 is a different day in each."""
    if isinstance(value, datetime):
        return value.date()
    return parse_date(value)
