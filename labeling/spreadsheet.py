"""CSV cells a spreadsheet opens as text, never as a formula (OWASP's CSV injection advice).

Review files are opened in Excel or LibreOffice by reviewers. A report text that starts with
``=HYPERLINK(...)`` or ``=cmd|...`` would run as a formula there. OWASP: a cell that starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading single quote, and every cell is
written quoted when needed (Python's csv module does that). Plain numbers ("-1": uncertain) are left
as they are, so they still read back as numbers; reading a file we wrote drops the quote again.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def escape_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` when a spreadsheet would read it as a formula."""
    if isinstance(value, str) and value[:1] in TRIGGERS and value[:1] and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def unescape_cell(value: str) -> str:
    """The value :func:`escape_cell` was given (other values unchanged)."""
    if value[:1] == "'" and value[1:2] in TRIGGERS and value[1:2] and not _NUMBER.fullmatch(value[1:]):
        return value[1:]
    return value


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and column names are escaped (numbers untouched)."""
    out = df.rename(columns=lambda c: escape_cell(c) if isinstance(c, str) else c)
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(escape_cell)
    return out
