"""Per-patient shifting of DICOM DA, DT and TM values (Retain Longitudinal Temporal Information).

Dates move by the patient's whole-day shift from :class:`~radcurate.deid.keys.Keyer` (the same
shift the report scrubber applies), so intervals between a patient's studies are kept exactly.
Times of day move by a second per-patient offset (0..86399 s, also HMAC-derived) modulo 24 h, so a
planted acquisition time does not survive while time differences within a day are kept. A DT
value is shifted as its date part plus its time part, each by the same rules, so DT stays equal to
the matching DA + TM pair (no day roll-over is carried from the time into the date). Fractions,
precision and UTC offsets are kept as written. A value that does not parse is emptied.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_DA = re.compile(r"^(\d{4})\.?(\d{2})\.?(\d{2})$")
_TM = re.compile(r"^(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?(\.\d{1,6})?$")
_DT = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,6})?([+-]\d{4})?$")


@dataclass(frozen=True)
class Shift:
    """One patient's shift: whole days for dates, seconds (mod 24 h) for times."""

    days: int
    seconds: int

    def date(self, value: dt.date) -> dt.date:
        return value + dt.timedelta(days=self.days)

    def da(self, text: str) -> str | None:
        """Shift a DA value (``YYYYMMDD``, legacy ``YYYY.MM.DD``); None when it does not parse."""
        m = _DA.match(text.strip())
        if not m:
            return None
        try:
            d = dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return None
        try:
            return self.date(d).strftime("%Y%m%d")
        except OverflowError:
            return None

    def tm(self, text: str) -> str | None:
        """Shift a TM value (``HH``, ``HHMM``, ``HHMMSS[.F]``, legacy ``HH:MM:SS``), keeping precision."""
        m = _TM.match(text.strip())
        if not m:
            return None
        h, mi, s = int(m[1]), int(m[2] or 0), int(m[3] or 0)
        if h > 23 or mi > 59 or s > 60:
            return None
        total = (h * 3600 + mi * 60 + min(s, 59) + self.seconds) % 86400
        h, rem = divmod(total, 3600)
        mi, s = divmod(rem, 60)
        out = f"{h:02d}"
        if m[2] is not None:
            out += f"{mi:02d}"
        if m[3] is not None:
            out += f"{s:02d}" + (m[4] or "")
        return out

    def dt(self, text: str) -> str | None:
        """Shift a DT value (``YYYY[MM[DD[HH[MM[SS[.F]]]]]][&ZZXX]``) part by part."""
        m = _DT.match(text.strip())
        if not m:
            return None
        year, month, day = m[1], m[2], m[3]
        if day is None:  # year or year+month only: shift by a whole-day equivalent on the 15th
            try:
                d = self.date(dt.date(int(year), int(month or 6), 15))
            except (ValueError, OverflowError):
                return None
            date_part = f"{d.year:04d}" + (f"{d.month:02d}" if month else "")
            return date_part + (m[8] or "")
        date_part = self.da(year + month + day)
        if date_part is None:
            return None
        time_text = "".join(p for p in (m[4], m[5], m[6]) if p) + (m[7] or "")
        time_part = self.tm(time_text) if m[4] else ""
        if time_part is None:
            return None
        return date_part + time_part + (m[8] or "")


def shift_value(vr: str, shift: Shift, text: str) -> str | None:
    """Shift one DA/DT/TM string; None when it cannot be parsed (the caller empties it)."""
    fn = {"DA": shift.da, "DT": shift.dt, "TM": shift.tm}[vr]
    return fn(text)
