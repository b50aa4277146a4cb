"""Dates in report text: found by shape, shifted by the patient's shift in their own written format.

A birth date is removed, never shifted: a shifted birth date still gives the age (and ages over 89
are PHI).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

from radcurate.deid import patterns as P

from .scrub_scan import Scan
from .scrub_spans import PRIORITY, TAGS, Span

if TYPE_CHECKING:
    from .text_scrub import ScrubConfig

_BIRTH_CONTEXT = re.compile(r"(?i)(?:\bD\.?O\.?B\.?|date\s+of\s+birth|birth\s*date|\bborn(?:\s+on)?)\W{0,4}$")


def _two_digit_year(yy: int) -> int:
    return 2000 + yy if yy <= 30 else 1900 + yy


def _parse_date(m: re.Match, name: str, day_first: bool) -> tuple[dt.date, bool] | None:
    g = m.groupdict()
    if name == "mdy" and g["s"] == "." and len(g["y"]) == 2 and (len(g["m"]) < 2 or len(g["d"]) < 2):
        return None  # "1.2.21" is a list or version, not a date
    y = g.get("y")
    if y is None:
        year = 2001
    else:
        y = y.lstrip("'")
        year = int(y) if len(y) == 4 else _two_digit_year(int(y))
    if g.get("mon"):
        month = P.month_number(g["mon"])
    elif g.get("m"):
        month = int(g["m"])
    else:
        month = None
    day = int(g["d"]) if g.get("d") else 15
    swapped = False
    if g.get("m") and g.get("d"):
        if day_first or (month > 12 and day <= 12):
            month, day, swapped = day, month, True
    if month is None:
        return None
    try:
        if y is None and month == 2 and day == 29:
            year = 2000
        return dt.date(year, month, day), swapped
    except ValueError:
        return None


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _month_name(n: int, like: str) -> str:
    core = like.rstrip(".")
    full = P.MONTH_NAMES[n - 1]
    name = full if len(core) > 4 or core.lower() in P.MONTHS else P.MONTH_ABBRS[n - 1].lower()
    if core.lower() == "sept" and n == 9:
        name = "sept"
    if core.isupper():
        return name.upper()
    if core.islower():
        return name
    return name.capitalize()


def _render_date(m: re.Match, name: str, swapped: bool, new: dt.date) -> str:
    """The matched date text with each component replaced by the shifted value, same style."""
    g = m.groupdict()
    nums = [g[k] for k in ("m", "d") if g.get(k)]
    pad = any(v.startswith("0") for v in nums) or (bool(nums) and all(len(v) == 2 for v in nums))
    vals = {}
    if g.get("y"):
        y = g["y"]
        if y.startswith("'"):
            vals["y"] = f"'{new.year % 100:02d}"
        else:
            vals["y"] = str(new.year) if len(y) == 4 else f"{new.year % 100:02d}"
    month_val, day_val = (new.day, new.month) if swapped else (new.month, new.day)
    if g.get("m"):
        vals["m"] = f"{month_val:02d}" if pad else str(month_val)
    if g.get("d"):
        if name in ("mdy", "ymd", "ymd8", "ctx_md"):
            vals["d"] = f"{day_val:02d}" if pad else str(day_val)
        else:
            vals["d"] = f"{new.day:02d}" if g["d"].startswith("0") else str(new.day)
    if g.get("o"):
        vals["o"] = _ordinal(new.day)
    if g.get("mon"):
        vals["mon"] = _month_name(new.month, g["mon"])
    out, pos = [], m.start()
    for key in sorted(vals, key=lambda k: m.start(k)):
        out.append(m.string[pos:m.start(key)])
        out.append(vals[key])
        pos = m.end(key)
    out.append(m.string[pos:m.end()])
    return "".join(out)


# ---------------------------------------------------------------------------- finding dates

_MONTH_PATTERNS = {"mon_d_y", "d_mon_y", "mon_y", "mon_d", "d_mon"}
_WORD_LED_DATES = {"mon_d_y", "mon_y", "mon_d"}
_DATE_RX = dict(P.DATE_PATTERNS)


def _date_anchors(scan: Scan) -> dict[str, list[int]]:
    """Digit-run anchors of the numeric date patterns, by the run's length and the next character."""
    text, n = scan.text, len(scan.text)
    a: dict[str, list[int]] = {"ymd": [], "ymd8": [], "mdy": [], "m_y": [], "d_mon_y": [], "d_mon": [], "ctx_md": []}
    for s, e in scan.digits:
        L = e - s
        nxt = text[e] if e < n else ""
        if L == 4 and nxt and nxt in "-/.":
            a["ymd"].append(s)
        elif L == 8:
            a["ymd8"].append(s)
        elif L <= 2:
            if nxt and nxt in " \t-snrtSNRTjfmaodJFMAOD":  # "14 Mar", "14-MAR", "14th", "2nd", "14MAR2021"
                a["d_mon_y"].append(s)
            if nxt and nxt in "/-.":
                a["mdy"].append(s)
                if nxt != ".":
                    a["m_y"].append(s)
                if nxt == "/":
                    a["ctx_md"].append(s)
    a["d_mon"] = a["d_mon_y"]
    return a


_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_WEEKDAY_BEFORE = re.compile(r"\b(?P<wd>(?:Mon|Tues?|Wed(?:nes)?|Thu(?:rs?)?|Fri|Sat(?:ur)?|Sun)(?:day)?|"
                             r"(?:MON|TUES?|WED(?:NES)?|THU(?:RS?)?|FRI|SAT(?:UR)?|SUN)(?:DAY)?)\.?,?[ \t]+$")


def _weekday(d: dt.date, like: str) -> str:
    full = _WEEKDAYS[d.weekday()]
    word = full if like.lower().endswith("day") else full[:3]
    return word.upper() if like.isupper() else word


def find_dates(scan: Scan, cfg: "ScrubConfig") -> list[Span]:
    text = scan.text
    spans: list[Span] = []
    hints = scan.hints
    if "digit" not in hints:
        return spans
    numeric = _date_anchors(scan)
    for name, rx in P.DATE_PATTERNS:
        if name in _MONTH_PATTERNS and "month" not in hints:
            continue
        if name in _WORD_LED_DATES:
            anchors, back, fwd = scan.at(P.HINT_WORDS["month"]), 0, 0
        else:
            anchors, back, fwd = numeric[name], (40 if name == "ctx_md" else 0), (6 if name == "ctx_md" else 0)
        for m in scan.hits(rx, anchors, back, fwd):
            parsed = _parse_date(m, name, cfg.day_first)
            if parsed is None:
                continue
            start = m.start("m") if name == "ctx_md" else m.start()
            wd = _WEEKDAY_BEFORE.search(text, max(0, start - 14), start) if name not in ("ctx_md", "m_y", "mon_y") else None
            if wd:  # "Monday, March 14, 2021": the weekday moves with the date
                start = wd.start()
            spans.append(Span(start, m.end(), "date", PRIORITY["date"], (m, name, parsed[1], parsed[0], wd)))
    if cfg.years != "keep":
        anchors = [s for s, e in scan.digits if e - s == 4]
        for m in scan.hits(P.YEAR_RE, anchors):
            spans.append(Span(m.start(), m.end(), "date", PRIORITY["date"] - 1, (m, "year", False, None)))
    return spans


def is_birth_date(text: str, sp: Span, birth_dates: frozenset) -> bool:
    """A date the headers know as the birth date, or one written after "DOB", "born", ..."""
    parsed = sp.info[3] if sp.info is not None and len(sp.info) > 3 else None
    return parsed in birth_dates or bool(_BIRTH_CONTEXT.search(text, max(0, sp.start - 20), sp.start))


def shifted_date(text: str, sp: Span, shift_days: int, years: str) -> str:
    """The date of ``sp`` written as in the text, moved by ``shift_days`` (a lone year per ``years``)."""
    m, name, swapped, d, *rest = sp.info
    if name == "year":
        if years == "tag":
            return TAGS["date"]
        return str((dt.date(int(m.group("y")), 7, 2) + dt.timedelta(days=shift_days)).year)
    new = d + dt.timedelta(days=shift_days)
    if name in ("mon_d", "d_mon", "ctx_md"):
        new = (dt.date(2001 if not (d.month == 2 and d.day == 29) else 2000, d.month, d.day)
               + dt.timedelta(days=shift_days))
    rendered = _render_date(m, name, swapped, new)
    if name == "ctx_md":  # the match includes the introducing word
        rendered = rendered[sp.start - m.start():]
    wd = rest[0] if rest else None
    if wd is not None:
        rendered = _weekday(new, wd.group("wd")) + text[wd.end("wd"):m.start()] + rendered
    return rendered
