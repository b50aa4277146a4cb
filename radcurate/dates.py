"""The one date parser every stage uses: DICOM DA values, ISO dates and RIS extract dates.

Shared here because ingest (headers, report manifests) and deid (curated headers, report extracts)
both read dates and stages may not import each other.

>>> parse_da("20210304"), parse_da("2021.03.04"), parse_da("2021-03-04"), parse_da("20211304")
(datetime.date(2021, 3, 4), datetime.date(2021, 3, 4), None, None)
>>> parse_date("2021-03-04"), parse_date("03/04/2021"), parse_date("03/04/2021", lenient=True)
(datetime.date(2021, 3, 4), None, datetime.date(2021, 3, 4))
"""
from __future__ import annotations

import datetime as dt
from typing import Any

MISSING = frozenset({"nan", "NaN", "NaT", "<NA>", "None"})  # missing values written out by pandas
# Written forms a RIS extract uses besides ISO and DA, tried in order when lenient.
EXTRACT_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%m/%d/%Y", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")


def parse_da(text: str) -> dt.date | None:
    """DICOM DA (``YYYYMMDD``; ACR-NEMA ``YYYY.MM.DD`` tolerated) to a date, None if invalid."""
    digits = str(text).strip().replace(".", "")
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def parse_date(value: Any, *, lenient: bool = False) -> dt.date | None:
    """A date from a date/datetime/Timestamp or a string; None for empty or invalid values.

    Strict (the ingest manifests' contract): ``YYYY-MM-DD`` or a DA value. ``lenient`` (a RIS extract
    read as it comes): also ``MM/DD/YYYY``, ISO date-times, and whatever pandas can read.
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):  # also pandas.Timestamp; NaT is the one unequal to itself
        return value.date() if value == value else None
    if isinstance(value, dt.date):
        return value
    if isinstance(value, float):  # NaN from a table; 20210304.0 from a numeric column
        if value != value:
            return None
        if value.is_integer():
            value = int(value)
    text = str(value).strip()
    if not text or text in MISSING:
        return None
    parsed = parse_da(text.replace("-", ""))
    if parsed is not None or not lenient:
        return parsed
    for fmt in EXTRACT_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    try:
        import pandas as pd

        ts = pd.Timestamp(text)
        return None if pd.isna(ts) else ts.date()
    except (ValueError, TypeError, OverflowError):
        return None
