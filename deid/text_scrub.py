"""Scrub PHI from free-text radiology reports, keeping the clinical content.

``scrub_text`` finds every PHI span (the patient's own known names, IDs and dates; staff names by
context; dates, times, phones, e-mail and web addresses, street addresses, institutions, ages over
the cap and ID-like numbers by shape), resolves overlaps, and rewrites the text: dates are shifted
by the patient's shift with their original format, ages over the cap become "90+", everything
else becomes a typed tag (``[NAME]``) or a deterministic realistic fake.

Detectors are compiled regular expressions (see ``patterns`` for why not spaCy); rules that could
hit clinical text (numbers, capitalised words) are guarded by word lists and context so that
measurements, series/image numbers, vertebral levels and anatomy survive.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from bisect import bisect_right
from functools import lru_cache
from typing import Literal

import numpy as np

from radcurate.deid import patterns as P
from radcurate.deid.surrogates import Surrogates

KINDS = ("name", "id", "date", "time", "phone", "email", "url", "address", "institution", "age", "other")
TAGS = {"name": "[NAME]", "id": "[ID]", "date": "[DATE]", "time": "[TIME]", "phone": "[PHONE]",
        "email": "[EMAIL]", "url": "[URL]", "address": "[ADDRESS]", "institution": "[INSTITUTION]",
        "age": "[AGE]", "other": "[REDACTED]", "birth_date": "[DOB]"}
# A birth date is removed, never shifted: a shifted birth date still gives the age (and ages over
# 89 are PHI), and the list of the patient's own PHI names it.
_BIRTH_CONTEXT = re.compile(r"(?i)(?:\bD\.?O\.?B\.?|date\s+of\s+birth|birth\s*date|\bborn(?:\s+on)?)\W{0,4}$")


@dataclass
class KnownPHI:
    """PHI known for one patient/study from the RIS row and DICOM headers.

    ``names`` in any written form ("SMITH^JOHN^A", "SMITH, JOHN", "John A. Smith"); ``ids`` such
    as MRN and accession; ``dates`` such as study dates (shifted wherever written);
    ``birth_dates`` (removed wherever written, never shifted); ``other`` any string to remove as is.
    """

    names: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    dates: list[dt.date] = field(default_factory=list)
    other: list[str] = field(default_factory=list)
    birth_dates: list[dt.date] = field(default_factory=list)

    def merged(self, other: "KnownPHI | None") -> "KnownPHI":
        """Union of two inventories (order kept, duplicates dropped)."""
        if other is None:
            return self
        def u(a, b):
            return list(dict.fromkeys([*a, *b]))
        return KnownPHI(u(self.names, other.names), u(self.ids, other.ids),
                        u(self.dates, other.dates), u(self.other, other.other),
                        u(self.birth_dates, other.birth_dates))


@dataclass(frozen=True)
class ScrubConfig:
    """How reports are scrubbed.

    style: 'tag' writes ``[NAME]``, ``[ID]``...; 'fake' writes deterministic realistic surrogates
    (keyed by ``surrogate_salt``). kinds: the PHI kinds to remove (others are left as written).
    dates: 'shift' moves dates by the patient's shift in their own format; 'tag' writes ``[DATE]``.
    years: a year standing alone ("in 2015") is kept (HIPAA Safe Harbor allows years), shifted
    with the patient's shift, or tagged. ages over ``age_cap`` become "90+" (cap + 1).
    day_first reads 03/04/2021 as 3 April (default: US month first).
    """

    style: Literal["tag", "fake"] = "tag"
    kinds: frozenset[str] = frozenset(KINDS)
    dates: Literal["shift", "tag"] = "shift"
    years: Literal["keep", "shift", "tag"] = "keep"
    age_cap: int = 89
    day_first: bool = False
    surrogate_salt: bytes = b""

    def __post_init__(self):
        if self.style not in ("tag", "fake"):
            raise ValueError(f"ScrubConfig.style must be 'tag' or 'fake', not {self.style!r}")
        if self.dates not in ("shift", "tag"):
            raise ValueError(f"ScrubConfig.dates must be 'shift' or 'tag', not {self.dates!r}")
        if self.years not in ("keep", "shift", "tag"):
            raise ValueError(f"ScrubConfig.years must be 'keep', 'shift' or 'tag', not {self.years!r}")
        unknown = set(self.kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"ScrubConfig.kinds has unknown kinds {sorted(unknown)}; known: {list(KINDS)}")
        object.__setattr__(self, "kinds", frozenset(self.kinds))


@dataclass(frozen=True)
class ScrubResult:
    """Scrubbed ``text`` and the ``spans`` (start, end, kind) removed from the input text."""

    text: str
    spans: list[tuple[int, int, str]]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, _, k in self.spans:
            out[k] = out.get(k, 0) + 1
        return out


# Priorities: when two detections overlap the higher one wins (a known ID beats a date shape,
# a date beats a phone shape, an address beats the name inside it, ...).
_PRIO = {"other": 100, "known_id": 95, "email": 90, "url": 85, "ctx_id": 80, "date": 70, "phone": 65,
         "address": 60, "institution": 55, "name_ctx": 50, "name": 48, "time": 40, "id": 30, "age": 20}


@dataclass
class _Span:
    start: int
    end: int
    kind: str
    prio: int
    info: object = None  # date: (match, pattern name, day/month swapped, date); age: "dicom" or "text"
    merged: bool = False


# ============================================================================ known PHI

_SKIP_NAME_TOKENS = {"mr", "mrs", "ms", "miss", "dr", "jr", "sr", "ii", "iii", "iv", "md", "phd", "do"}


def name_parts(name: str) -> tuple[list[str], list[str], list[str]]:
    """(family tokens, given tokens, initials) of a name written as DICOM PN, "LAST, FIRST" or "First Last"."""
    name = (name or "").strip()
    if not name:
        return [], [], []
    if "^" in name:
        comps = name.split("^")
        family, given = comps[0], " ".join(comps[1:3])
    elif "," in name:
        family, given = name.split(",", 1)
    else:
        words = name.split()
        while len(words) > 1 and words[-1].lower().strip(".") in _SKIP_NAME_TOKENS:
            words.pop()
        family, given = (words[-1], " ".join(words[:-1])) if words else ("", "")

    def toks(s: str) -> list[str]:
        out = []
        for w in re.split(r"[\s.]+", s):
            w = w.strip(".,'")
            if not w:
                continue
            parts = [w] + ([p for p in w.split("-") if p] if "-" in w else [])
            out += parts
        return out

    fam = [t for t in toks(family) if len(t) > 1 and t.lower() not in _SKIP_NAME_TOKENS | P.PARTICLES]
    giv_all = [t for t in toks(given) if t.lower() not in _SKIP_NAME_TOKENS]
    giv = [t for t in giv_all if len(t) > 1]
    initials = sorted({t[0].upper() for t in fam + giv_all if t})
    return fam, giv, initials


@dataclass(frozen=True)
class _Known:
    tokens: dict  # lower token -> True if given name
    initials: frozenset
    id_needles: tuple  # (lower-case needle, separators ignored?) per way of writing a known ID
    other_re: re.Pattern | None
    dates: frozenset
    birth_dates: frozenset = frozenset()


@lru_cache(maxsize=65536)
def _id_needles(v: str) -> tuple[tuple[str, bool], ...]:
    """Ways a known ID can be written: with any separators between its characters, or its digits
    without leading zeros. IDs of under 3 characters ("1", "A") identify nobody and would hit every
    such number: skipped; IDs of 3-4 characters only as written."""
    v = v.strip()
    chars = "".join(c for c in v if c.isalnum()).lower()
    if len(chars) < 3:
        return ()
    if len(chars) < 5:
        return ((v.lower(), False),)
    out = [(chars, True)]
    digits = "".join(c for c in v if c.isdigit())
    core = digits.lstrip("0")
    if len(core) >= 5 and core != chars:
        out.append((core, True))
    if digits != core and len(digits) >= 5 and digits != chars:
        out.append((digits, True))
    return tuple(out)


@lru_cache(maxsize=4096)
def _name_index(names: tuple) -> tuple[dict, frozenset]:
    tokens: dict[str, bool] = {}
    initials: set[str] = set()
    for n in names:
        fam, giv, ini = name_parts(str(n))
        for t in fam:
            tokens.setdefault(t.lower(), False)
        for t in giv:
            tokens[t.lower()] = tokens.get(t.lower(), False) or t.lower() not in (x.lower() for x in fam)
        initials |= set(ini)
    return tokens, frozenset(initials)


@lru_cache(maxsize=4096)
def _other_regex(other: tuple) -> re.Pattern | None:
    alts = [r"\s+".join(re.escape(w) for w in str(v).split()) for v in other
            if sum(c.isalnum() for c in str(v)) >= 3]
    if not alts:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(sorted(set(alts), key=len, reverse=True)) + r")(?!\w)", re.IGNORECASE)


def _known(known: KnownPHI | None) -> _Known:
    """The matching form of a KnownPHI; its parts are cached by value (a patient's names and
    other values repeat over their reports, each accession is new but costs no compilation)."""
    if known is None:
        return _Known({}, frozenset(), (), None, frozenset())
    tokens, initials = _name_index(tuple(str(n) for n in known.names if n))
    needles = tuple(dict.fromkeys(nd for i in known.ids if i for nd in _id_needles(str(i))))
    return _Known(tokens, initials, needles, _other_regex(tuple(str(o) for o in known.other if o)),
                  frozenset(known.dates), frozenset(known.birth_dates))


# ============================================================================ dates

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


# ============================================================================ anchored scanning

_ID_SEP = re.compile(r"[ \t\n\r\f\v\-./]")
_ID_SEP_LUT = np.zeros(128, dtype=bool)  # ASCII code -> is an ID separator
_ID_SEP_LUT[[ord(c) for c in " \t\n\r\f\v-./"]] = True
_DIGIT_RUN = re.compile(r"\d+")
_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
_W_TITLE = frozenset("dr doctor mr mrs ms miss mister prof professor".split())
_W_TRIG = P.HINT_WORDS["trig"] | {"electronically", "e", "d"}
_W_DEGREE = P.HINT_WORDS["degree"] | {"p"}
_W_URL_LEAD = frozenset("http https ftp www".split())
_W_TLD = P.HINT_WORDS["url"] - _W_URL_LEAD
_W_AGE = frozenset("age aged ages".split())


class _Scan:
    """Where patterns can match in one text, from one pass over its words and one over its digits.

    Each family's pattern is then tried only at its anchors (a keyword, a digit run, a title) instead
    of at every character, which is what makes scrubbing thousands of reports per second possible in
    pure Python. ``exhaustive`` scans every pattern over the whole text instead (the reference the
    tests compare against).
    """

    def __init__(self, text: str, exhaustive: bool = False):
        self.text = text
        low = text.lower()
        if len(low) != len(text):  # "İ" lower-cases to two characters: keep positions aligned
            low = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
        self.low = low
        self.exhaustive = exhaustive
        self._squeezed: tuple[str, list[int]] | None = None
        self.present = frozenset(P.WORD_RE.findall(low))
        self._pos: dict[str, list[int]] = {}
        self.digits = [m.span() for m in _DIGIT_RUN.finditer(text)]
        present = self.present
        self.hints = frozenset(k for k, ws in P.HINT_WORDS.items() if not present.isdisjoint(ws))
        if self.digits:
            self.hints |= {"digit"}

    def find_squeezed(self, needle: str) -> list[tuple[int, int]]:
        """Spans of ``needle`` (lower case) in the text, ignoring spaces, dashes, dots and slashes
        between its characters, and not inside a longer run of letters or digits."""
        if self._squeezed is None:
            codes = np.frombuffer(self.low.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            seps = np.flatnonzero(_ID_SEP_LUT[np.minimum(codes, 127)])
            # squeezed index k sits at original index k + (number of separators whose shifted
            # position seps[i] - i is <= k)
            self._squeezed = (_ID_SEP.sub("", self.low), (seps - np.arange(len(seps))).tolist())
        sq, offs = self._squeezed
        text, out, n = self.text, [], len(needle)
        i = sq.find(needle)
        while i >= 0:
            start = i + bisect_right(offs, i)
            end = i + n - 1 + bisect_right(offs, i + n - 1) + 1
            if (start == 0 or not text[start - 1].isalnum()) and (end == len(text) or not text[end].isalnum()):
                out.append((start, end))
            i = sq.find(needle, i + 1)
        return out

    def find_exact(self, needle: str) -> list[tuple[int, int]]:
        """Spans of ``needle`` (lower case) as written, not inside a longer run of letters or digits."""
        text, low, out, n = self.text, self.low, [], len(needle)
        i = low.find(needle)
        while i >= 0:
            if (i == 0 or not text[i - 1].isalnum()) and (i + n == len(text) or not text[i + n].isalnum()):
                out.append((i, i + n))
            i = low.find(needle, i + 1)
        return out

    def positions(self, word: str) -> list[int]:
        """Start positions of ``word`` (lower case letters) as a whole word."""
        pos = self._pos.get(word)
        if pos is None:
            pos, low, n, i = [], self.low, len(word), self.low.find(word)
            while i >= 0:
                if (i == 0 or not ("a" <= low[i - 1] <= "z")) and not ("a" <= low[i + n:i + n + 1] <= "z"):
                    pos.append(i)
                i = low.find(word, i + 1)
            self._pos[word] = pos
        return pos

    def at(self, vocab: frozenset) -> list[int]:
        """Start positions of the words of ``vocab`` (lower case) in the text."""
        out: list[int] = []
        for w in self.present & vocab:
            out += self.positions(w)
        return sorted(out)

    def hits(self, rx: re.Pattern, anchors, back: int = 0, fwd: int = 0):
        """Matches of ``rx``: starting at each anchor, or (with back/fwd) in a window around it
        that cover the anchor. Exhaustive mode: every match in the text."""
        text = self.text
        if self.exhaustive:
            yield from rx.finditer(text)
            return
        seen = set()
        n = len(text)
        for p in anchors:
            if back or fwd:
                lo, hi = max(0, p - back), min(n, p + fwd)
                while lo > 0 and text[lo - 1].isalnum():
                    lo -= 1
                while hi < n and text[hi].isalnum():
                    hi += 1
                ms = [m for m in rx.finditer(text, lo, hi) if m.start() <= p < m.end()]
            else:
                m = rx.match(text, p)
                ms = [m] if m else []
            for m in ms:
                if m.span() not in seen:
                    seen.add(m.span())
                    yield m


# ============================================================================ dates (finder)

_MONTH_PATTERNS = {"mon_d_y", "d_mon_y", "mon_y", "mon_d", "d_mon"}
_WORD_LED_DATES = {"mon_d_y", "mon_y", "mon_d"}
_DATE_RX = dict(P.DATE_PATTERNS)


def _date_anchors(scan: _Scan) -> dict[str, list[int]]:
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


def _find_dates(scan: _Scan, cfg: ScrubConfig) -> list[_Span]:
    text = scan.text
    spans: list[_Span] = []
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
            spans.append(_Span(start, m.end(), "date", _PRIO["date"], (m, name, parsed[1], parsed[0], wd)))
    if cfg.years != "keep":
        anchors = [s for s, e in scan.digits if e - s == 4]
        for m in scan.hits(P.YEAR_RE, anchors):
            spans.append(_Span(m.start(), m.end(), "date", _PRIO["date"] - 1, (m, "year", False, None)))
    return spans


# ============================================================================ names

_DEGREE_AT = re.compile(P.DEGREES + r"(?![A-Za-z])")
_TOK_RE = re.compile(rf"[{P.UP}{P.LO}][{P.UP}{P.LO}'\-]*\.?")
_WEAK_NEEDS_COLON = re.compile(r"(?i)^(?:patient|pt|name|cc|physician|provider|nurse|rn|copy[ \t]+to|pcp)$")


@lru_cache(maxsize=65536)
def _bare(tok: str) -> str:
    t = tok.rstrip(".")
    if t.lower().endswith("'s"):
        t = t[:-2]
    return t


@lru_cache(maxsize=65536)
def _is_common(tok: str) -> bool:
    b = _bare(tok).lower()
    return b in P.NOT_NAME_WORDS or P.month_number(b) is not None


def _trim_name(text: str, start: int, end: int, from_right: bool = False) -> tuple[int, int] | None:
    """Cut a context-matched name down to its name-like tokens; None if nothing is left."""
    toks = [(m.start(), m.end(), m.group(0)) for m in _TOK_RE.finditer(text, start, end)]
    if from_right:
        toks = toks[::-1]
    kept = []
    for s, e, t in toks:
        initial = len(t) == 2 and t.endswith(".")  # "a." in "dr. a. patel" is no article
        if (s > start and _DEGREE_AT.match(text, s)) or (not initial and _is_common(t)):
            break
        kept.append((s, e, t))
    if from_right:
        kept = kept[::-1]
    # drop trailing bare single letters ("Dr. Smith A few ...") and reject initials-only names
    while kept and len(_bare(kept[-1][2])) == 1 and not kept[-1][2].endswith("."):
        kept.pop()
    if not kept or all(len(_bare(t)) == 1 for _, _, t in kept):
        return None
    s, e = kept[0][0], kept[-1][1]
    last = text[s:e]
    if last.lower().endswith("'s"):
        e -= 2
    elif last.endswith(".") and len(_bare(kept[-1][2])) > 1:
        e -= 1  # a sentence's full stop, not part of the name
    return s, e


def _context_names(scan: _Scan) -> list[tuple[int, int]]:
    text, hints = scan.text, scan.hints
    found: list[tuple[int, int]] = []

    def add(s, e, from_right=False):
        r = _trim_name(text, s, e, from_right)
        if r:
            found.append(r)

    titles = scan.at(_W_TITLE)
    for m in scan.hits(P.TITLED_NAME_RE, titles):
        add(m.start("name"), m.end("name"))
    for m in scan.hits(P.TITLED_LOWER_RE, titles):
        add(m.start("name"), m.end("name"))
    if "degree" in hints:
        degrees = scan.at(_W_DEGREE)
        for m in scan.hits(P.DEGREE_NAME_RE, degrees, 80, 12):
            add(m.start("name"), m.end("name"), from_right=True)
        lower = [p for p in degrees if text[p].islower()]
        for m in scan.hits(P.DEGREE_LOWER_RE, lower, 60, 8):
            add(m.start("name"), m.end("name"), from_right=True)
    if "trig" in hints:
        trig_at = scan.at(_W_TRIG)
        for m in scan.hits(P.TRIGGER_NAME_RE, trig_at):
            trig = re.sub(r"\s+", " ", m.group("trig")).strip()
            colon = ":" in text[m.end("trig"):m.start("name")]
            if _WEAK_NEEDS_COLON.match(trig) and not colon:
                continue
            add(m.start("name"), m.end("name"))
        for m in scan.hits(P.TRIGGER_LOWER_RE, trig_at):
            trig = m.group("trig")
            colon = ":" in text[m.end("trig"):m.start("name")]
            if P.STRONG_TRIGGERS.search(trig) and (colon or trig.lower().endswith("by")):
                r = _trim_name(text, m.start("name"), m.end("name"))
                # lower case is no sign of a name: take "john mccarthy" or a word closing the line
                if r and (len(text[r[0]:r[1]].split()) >= 2 or re.match(r"[ \t]*(?:[,;\n]|$)", text[r[1]:])):
                    found.append(r)
    firsts = scan.at(P.FIRST_NAMES)
    for m in scan.hits(P.CAPS_LAST_FIRST_RE, firsts, 40, 30):
        words = [_bare(w).lower() for w in re.split(r"[\s,]+", m.group("name")) if len(_bare(w)) > 1]
        if words and not any(w in P.NOT_NAME_WORDS for w in words) and any(w in P.FIRST_NAMES for w in words):
            found.append((m.start("name"), m.end("name")))
    if "^" in text:
        for m in P.DICOM_PN_RE.finditer(text):
            found.append((m.start("name"), m.end("name")))
    # a common given name, capitalised inside a sentence ("her daughter Maria called")
    for p in firsts:
        w = text[p:p + 1]
        end = p + 1
        while end < len(text) and text[end].isalpha():
            end += 1
        word = text[p:end]
        low = word.lower()
        if not (w.isupper() and word[1:].islower()) or low in P.VERY_COMMON or low in P.AMBIGUOUS_NAMES:
            continue
        before = text[max(0, p - 3):p].rstrip(" \t(\"'")
        if before and before[-1] not in ".:!?\n" and low in P.FIRST_NAMES:
            found.append((p, end))
    for m in scan.hits(_FIRST_LAST_RE, firsts):
        f, last = m.group("f"), m.group("l")
        fl = f.lower()
        if fl in P.FIRST_NAMES and fl not in P.VERY_COMMON and not _is_common(last) \
                and (f.isupper() == last.isupper()):
            e = m.end("l") - (2 if last.lower().endswith("'s") else 0)
            found.append((m.start("f"), e))
    return found


_FIRST_LAST_RE = re.compile(r"\b(?P<f>[A-Z][a-z]+|[A-Z]{2,})(?:[ \t]+[A-Z]\.?)?[ \t]+(?P<l>(?:[A-Z][a-z]+|[A-Z]{2,})(?:['\-][A-Za-z]+)*)\b")


def _token_matches(scan: _Scan, tokens: dict) -> list[tuple[int, int, str]]:
    """(start, end, word) of every occurrence of the known name tokens (case-insensitive)."""
    text = scan.text
    simple = [t for t in tokens if t.isalpha() and t.isascii()]
    other = tuple(sorted((t for t in tokens if t not in simple), key=len, reverse=True))
    out = []
    if scan.exhaustive:
        other = tuple(sorted(tokens, key=len, reverse=True))
    else:
        for w in scan.present & set(simple):
            for p in scan.positions(w):
                e = p + len(w)
                if text.startswith("'", e) and text[e + 1:e + 3].isalpha() and len(text[e + 1:e + 3]) == 2:
                    continue  # as the token regex: not "O'Brien" for "o"
                out.append((p, e, text[p:e]))
    if other:
        out += [(m.start(), m.end(), m.group(0)) for m in _token_regex(other).finditer(text)]
    return sorted(out)


def _token_spans(text: str, matches: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """Occurrences of known name tokens, with the ambiguity rules (see patterns.AMBIGUOUS_NAMES)."""
    out = []
    for s, e, word in matches:
        low = word.lower()
        if low in P.VERY_COMMON or low in P.NOT_NAME_WORDS:
            continue  # only taken beside another name part or a title (context rules)
        if low in P.AMBIGUOUS_NAMES:
            if word.islower():
                continue
            nxt = re.match(r"[ \t]*([A-Za-z]+)", text[e:e + 30])
            if nxt and nxt.group(1).lower() in P.EPONYM_NEXT:
                continue
        out.append((s, e))
    return out


@lru_cache(maxsize=4096)
def _token_regex(tokens: tuple) -> re.Pattern:
    return re.compile(r"(?<![A-Za-z])(?:" + "|".join(re.escape(t) for t in tokens) + r")(?![A-Za-z]|'[A-Za-z]{2})",
                      re.IGNORECASE)


_NAME_GLUE = re.compile(r"^(?:[ \t]*[,^][ \t]*|[ \t]+)(?:(?:[A-Z]\.?|" + P.PARTICLE + r"(?:[ \t]+" + P.PARTICLE
                        + r")?)(?:[ \t]+|[ \t]*[,^][ \t]*))?$")
_PARTICLES_BEFORE = re.compile(r"(?<![A-Za-z])" + P.PARTICLE + r"(?:[ \t]+" + P.PARTICLE + r")?[ \t]+$")
_LOWER_TITLE_BEFORE = re.compile(r"\b(?:mr|mrs|ms|miss|mister|dr|doctor)\.?[ \t]+$")
_TITLE_BEFORE = re.compile(r"\b" + P.TITLE_RE + r"[ \t]+$")


def _adjacent_known(text: str, matches: list[tuple[int, int, str]], spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Ambiguous/very common known tokens written right next to a found name part or a title."""
    out = []
    ends, begins = {e for _, e in spans}, {s for s, _ in spans}
    for s0, e0, word in matches:
        low = word.lower()
        if low not in P.VERY_COMMON and low not in P.AMBIGUOUS_NAMES and low not in P.NOT_NAME_WORDS:
            continue
        near = any((s0 - d in ends and _NAME_GLUE.match(text[s0 - d:s0])) or
                   (e0 + d in begins and _NAME_GLUE.match(text[e0:e0 + d])) for d in range(5))
        titled = _TITLE_BEFORE.search(text[max(0, s0 - 16):s0]) is not None
        if not titled and word.islower():
            titled = _LOWER_TITLE_BEFORE.search(text[max(0, s0 - 16):s0]) is not None
        if near or titled:
            out.append((s0, e0))
        elif word.isupper() and re.match(r"^(?:[ \t]*,[ \t]*|[ \t]+)[A-Z]\.?(?![A-Za-z])", text[e0:e0 + 16]):
            out.append((s0, e0))
    return out


def _merge_names(text: str, spans: list[tuple[int, int]], initials: frozenset,
                 given_names: frozenset = frozenset()) -> list[tuple[int, int]]:
    """Join name parts written next to each other and take in their initials, particles and given names."""
    if not spans:
        return []
    spans = sorted(set(spans))
    merged = [list(spans[0])]
    for s, e in spans[1:]:
        ps, pe = merged[-1]
        if s <= pe or _NAME_GLUE.match(text[pe:s]):
            merged[-1][1] = max(pe, e)
        else:
            merged.append([s, e])
    out = []
    for s, e in merged:
        # preceding initials ("J. Smith", "J.A. Smith", "JA Smith") and particles ("Van der Berg")
        pre = _INITIALS_BEFORE.search(text, max(0, s - 10), s)
        if pre:
            letters = re.sub(r"[^A-Z]", "", pre.group(1))
            if "." in pre.group(1) or (all(c in initials for c in letters) and letters not in ("A", "I")):
                s = pre.start()
        part = _PARTICLES_BEFORE.search(text[max(0, s - 16):s])
        if part and not part.group(0)[0].islower():
            s -= len(part.group(0))  # "Van der Berg": a capitalised particle belongs to the name
        # a common given name or a nickname of the patient's ("Johnny", "Jon" for John) right before
        given = _GIVEN_BEFORE.search(text, max(0, s - 24), s)
        if given:
            g = given.group(1).lower()
            if g in P.FIRST_NAMES or any(g[:3] == n[:3] for n in given_names):
                s = given.start()
        # trailing initials ("SMITH, J.", "Smith JA", "smith, john a")
        post = _INITIALS_AFTER.match(text, e)
        if post:
            letters = post.group(1).replace(".", "")
            if "." in post.group(1) or all(c.upper() in initials for c in letters):
                e = post.end()
        out.append((s, e))
    return out


_INITIALS_BEFORE = re.compile(r"(?<![A-Za-z.])((?:[A-Z]\.[ \t]*){1,3}|[A-Z]{1,3}[ \t]+)$")
_INITIALS_AFTER = re.compile(r",?[ \t]+([A-Z]\.(?:[ \t]?[A-Z]\.)?|[A-Z]{1,2}(?![A-Za-z.])|[a-z](?=[ \t]*(?:[,;.\n]|$)))")
_GIVEN_BEFORE = re.compile(rf"(?<![A-Za-z.])([{P.UP}][{P.LO}]+)[ \t]+$")


def _find_names(scan: _Scan, known: _Known) -> list[_Span]:
    text = scan.text
    ctx = _context_names(scan)
    tokens = dict(known.tokens)
    for s, e in ctx:
        for m in _TOK_RE.finditer(text, s, e):
            b = _bare(m.group(0))
            if len(b) > 1 and not _is_common(b):
                tokens.setdefault(b.lower(), b.lower() in P.FIRST_NAMES)
    matches = _token_matches(scan, tokens) if tokens else []
    base = ctx + _token_spans(text, matches)
    adj = _adjacent_known(text, matches, base)
    given = frozenset(t for t, g in known.tokens.items() if g and len(t) >= 3)
    all_spans = _merge_names(text, base + adj, known.initials, given)
    ctx_set = set(ctx)
    return [_Span(s, e, "name", _PRIO["name_ctx"] if (s, e) in ctx_set else _PRIO["name"]) for s, e in all_spans]


def _given_tokens(known: _Known) -> frozenset:
    return frozenset([t for t, g in known.tokens.items() if g]) | P.FIRST_NAMES


# ============================================================================ other families

def _digit_anchors(scan: _Scan) -> dict[str, list[int]]:
    """Digit-run anchors per family, chosen by the run's length and the character after it."""
    text, n = scan.text, len(scan.text)
    a: dict[str, list[int]] = {k: [] for k in ("phone0", "phone1", "phone3", "ssn", "long", "time0", "time1",
                                                "time2", "age0", "age2", "street", "zip")}
    for s, e in scan.digits:
        L, nxt = e - s, (text[e] if e < n else "")
        if L == 3:
            if s and text[s - 1] == "(":
                a["phone0"].append(s - 1)  # "(317) 555-0142"; "(555-867-5309)" starts at the digits
            a["phone0"].append(s)
            if nxt in "-." and nxt:
                a["phone1"].append(s)
            if nxt == "-":
                a["ssn"].append(s)
            if nxt == "Y":
                a["age2"].append(s)
        elif text[s] == "1" and (L == 1 or (L == 4 and nxt and nxt in " \t.-")):  # +1 317 ..., 1317 555 ...
            a["phone0"].append(s - 1 if s and text[s - 1] == "+" else s)
        if L in (4, 5) and s and text[s - 1] == "x":
            a["phone3"].append(s - 1)
        if L >= 6:
            a["long"].append(s)
        if L <= 2:
            if nxt == ":":
                a["time0"].append(s)
            a["time1"].append(s)
        if L == 4:
            a["time2"].append(s)
        if L in (2, 3):
            a["age0"].append(s)
        if L <= 6:
            a["street"].append(s)
        if L == 5:
            a["zip"].append(s)
    return a


def _find_simple(scan: _Scan, known: _Known, cfg: ScrubConfig) -> list[_Span]:
    text, hints = scan.text, scan.hints
    spans: list[_Span] = []

    def add(m: re.Match, kind: str, prio: str, group: str | None = None, info=None):
        if group and m.group(group) is not None:
            spans.append(_Span(m.start(group), m.end(group), kind, _PRIO[prio], info))
        else:
            spans.append(_Span(m.start(), m.end(), kind, _PRIO[prio], info))

    if known.other_re is not None:
        for m in known.other_re.finditer(text):
            add(m, "other", "other")
    for needle, squeezed in known.id_needles:
        for a, b in (scan.find_squeezed(needle) if squeezed else scan.find_exact(needle)):
            spans.append(_Span(a, b, "id", _PRIO["known_id"]))
    if "@" in text:
        ats = [i for i, c in enumerate(text) if c == "@"]
        for m in scan.hits(P.EMAIL_RE, ats, 80, 100):
            add(m, "email", "email")
    if "url" in hints:
        for m in [*scan.hits(P.URL_RE, scan.at(_W_URL_LEAD)), *scan.hits(P.URL_RE, scan.at(_W_TLD), 100, 120)]:
            e = m.end()
            while e > m.start() and text[e - 1] in ".,;:!?":
                e -= 1
            spans.append(_Span(m.start(), e, "url", _PRIO["url"]))
    if "idctx" in hints:
        for m in scan.hits(P.ID_CONTEXT_RE, scan.at(P.HINT_WORDS["idctx"])):
            add(m, "id", "ctx_id", "v")
    if "inst" in hints:
        for m in scan.hits(P.INSTITUTION_RE, scan.at(P.HINT_WORDS["inst"]), 90, 60):
            s = m.start()
            # trim leading everyday words ("The Riverside General Hospital", "At Mercy Hospital")
            while True:
                w = re.match(r"([A-Za-z'\-&.]+)[ \t]+", text[s:m.end()])
                if w and w.group(1).lower() in P.NOT_NAME_WORDS and w.group(1).lower() not in ("st", "saint"):
                    s += w.end()
                else:
                    break
            if re.match(r"(?:Hospital|Medical|Health|Clinic|Memorial|Healthcare|HealthCare)\b", text[s:m.end()]) \
                    and " of " not in text[s:m.end()]:
                continue  # the bare word, nothing naming a place
            spans.append(_Span(s, m.end(), "institution", _PRIO["institution"]))
    if "age" in hints and cfg.age_cap < 90:  # ages in words ("ninety-two-year-old") are over 89
        for m in scan.hits(P.AGE_WORDS_RE, scan.at(frozenset({"ninety", "one"}))):
            spans.append(_Span(m.start("n"), m.end("n"), "age", _PRIO["age"], "text"))
    if "digit" not in hints:
        return spans
    da = _digit_anchors(scan)
    for m in scan.hits(P.SSN_RE, da["ssn"]):
        add(m, "id", "ctx_id")
    phone_anchors = [da["phone0"], da["phone1"], None, da["phone3"]]
    for i, rx in enumerate(P.PHONE_PATTERNS):
        if i == 2:
            if "phonectx" in hints:
                for m in scan.hits(rx, scan.at(P.HINT_WORDS["phonectx"])):
                    add(m, "phone", "phone", "v")
            continue
        for m in scan.hits(rx, phone_anchors[i]):
            add(m, "phone", "phone", "v" if "v" in rx.groupindex else None)
    addr = P.ADDRESS_PATTERNS
    if "street" in hints:
        for m in scan.hits(addr[0], da["street"]):
            add(m, "address", "address")
    for rx in (addr[1], addr[2]):
        for m in scan.hits(rx, da["zip"], 60, 11):
            add(m, "address", "address")
    if "zip" in hints:
        for m in scan.hits(addr[3], scan.at(frozenset({"zip"}))):
            add(m, "address", "address", "v")
    if "pobox" in hints:
        for m in scan.hits(addr[4], scan.at(frozenset({"box"})), 12, 16):
            add(m, "address", "address")
    times = P.TIME_PATTERNS
    if ":" in text:
        for m in scan.hits(times[0], da["time0"]):
            add(m, "time", "time")
    if "ampm" in hints:
        for m in scan.hits(times[1], da["time1"]):
            add(m, "time", "time")
    if "hours" in hints:
        for m in scan.hits(times[2], da["time2"]):
            add(m, "time", "time")
    if "#" in text:
        for m in P.HASH_ID_RE.finditer(text):
            add(m, "id", "id", "v")
    for m in scan.hits(P.LONG_DIGITS_RE, da["long"]):
        add(m, "id", "id")
    for m in scan.hits(P.ALNUM_RE, _token_starts(scan)):
        if _looks_like_id(m.group(0)):
            add(m, "id", "id")
    if "age" in hints:
        ages = P.AGE_PATTERNS
        for i, (rx, anchors) in enumerate(((ages[0], da["age0"]), (ages[1], scan.at(_W_AGE)), (ages[2], da["age2"]))):
            for m in scan.hits(rx, anchors):
                n = int(m.group("n"))
                if cfg.age_cap < n <= 150:
                    spans.append(_Span(m.start("n"), m.end("n"), "age", _PRIO["age"], "dicom" if i == 2 else "text"))
    return spans


def _token_starts(scan: _Scan) -> list[int]:
    """Start of each letters-digits-hyphens token that holds a digit and a letter ("SN48213")."""
    text, n = scan.text, len(scan.text)
    out: list[int] = []
    for s, e in scan.digits:
        a, b = s, e
        while a > 0 and text[a - 1] in _TOKEN_CHARS:
            a -= 1
        while b < n and text[b] in _TOKEN_CHARS:
            b += 1
        if (not out or out[-1] != a) and not text[a:b].replace("-", "").isdigit():
            out.append(a)
    return out


def _looks_like_id(tok: str) -> bool:
    digits = sum(c.isdigit() for c in tok)
    letters = sum(c.isalpha() for c in tok)
    if digits < 3 or letters == 0:
        return False
    if P.UNIT_TOKEN_RE.match(tok):
        return digits >= 6
    if P.CLINICAL_TOKEN_RE.match(tok):
        return False
    return digits >= 4


# ============================================================================ resolve + rewrite

def _resolve(spans: list[_Span]) -> list[_Span]:
    """Keep the highest-priority detection where spans overlap; partial overlaps are merged into
    the stronger span, so nothing is left half-removed. Returns disjoint spans by position."""
    spans = sorted(spans, key=lambda s: (-s.prio, -(s.end - s.start), s.start))
    accepted: list[_Span] = []  # disjoint, sorted by start; each at least as strong as later ones
    starts: list[int] = []
    for sp in spans:
        if sp.end <= sp.start:
            continue
        j = max(0, bisect_right(starts, sp.start) - 1)
        if j < len(accepted) and accepted[j].end <= sp.start:
            j += 1
        k = j
        while k < len(accepted) and accepted[k].start < sp.end:
            k += 1
        if j == k:
            accepted.insert(j, sp)
            starts.insert(j, sp.start)
            continue
        first, last = accepted[j], accepted[k - 1]
        if k - j == 1 and first.start <= sp.start and sp.end <= first.end:
            continue  # inside a stronger detection
        keep = max(accepted[j:k], key=lambda a: a.prio)
        keep.start, keep.end, keep.merged = min(sp.start, first.start), max(sp.end, last.end), True
        accepted[j:k] = [keep]
        starts[j:k] = [keep.start]
    return accepted


def _is_birth_date(text: str, sp: _Span, birth_dates: frozenset) -> bool:
    """A date the headers know as the birth date, or one written after "DOB", "born", ..."""
    parsed = sp.info[3] if sp.info is not None and len(sp.info) > 3 else None
    return parsed in birth_dates or bool(_BIRTH_CONTEXT.search(text, max(0, sp.start - 20), sp.start))


def _replacement(text: str, sp: _Span, shift_days: int, cfg: ScrubConfig, sur: Surrogates,
                 given: frozenset, birth_dates: frozenset = frozenset()) -> str:
    original = text[sp.start:sp.end]
    if sp.kind == "date" and _is_birth_date(text, sp, birth_dates):
        return TAGS["birth_date"]
    if sp.kind == "age":
        return f"{cfg.age_cap + 1:03d}" if sp.info == "dicom" else f"{cfg.age_cap + 1}+"
    if sp.kind == "date" and cfg.dates == "shift" and not sp.merged and sp.info is not None:
        m, name, swapped, d, *rest = sp.info
        if name == "year":
            if cfg.years == "tag":
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
    if cfg.style == "fake" and sp.kind != "date":
        fake = sur.fake(sp.kind, original, given)
        for n in range(1, 20):  # a fake must not read as another value of this very text
            if fake not in text:
                break
            fake = Surrogates(sur.salt + bytes([n])).fake(sp.kind, original, given)
        return fake
    return TAGS.get(sp.kind, "[REDACTED]")


def find_phi(text: str, known: KnownPHI | None = None, config: ScrubConfig = ScrubConfig(),
             exhaustive: bool = False) -> list[_Span]:
    """All PHI spans of ``text`` after overlap resolution (internal detail of ``scrub_text``)."""
    k = _known(known)
    scan = _Scan(text, exhaustive)
    spans = _find_simple(scan, k, config) + _find_dates(scan, config) + _find_names(scan, k)
    spans = [s for s in spans if s.kind in config.kinds]
    return _resolve(spans)


def scrub_text(text: str, known: KnownPHI | None = None, *, shift_days: int = 0,
               config: ScrubConfig = ScrubConfig()) -> ScrubResult:
    """Remove PHI from one report text.

    ``known`` is the patient's PHI from the RIS row and DICOM headers (removed in any written
    form); ``shift_days`` the patient's date shift (``Keyer.date_shift_days``), applied to every
    date so intervals survive. Returns the clean text and the removed spans (kinds, not values).
    """
    if not isinstance(text, str) or not text:
        return ScrubResult("" if not isinstance(text, str) else text, [])
    spans = find_phi(text, known, config)
    k = _known(known)
    sur = Surrogates(config.surrogate_salt)
    given = _given_tokens(k)
    out, pos = [], 0
    for sp in spans:
        out.append(text[pos:sp.start])
        out.append(_replacement(text, sp, shift_days, config, sur, given, k.birth_dates))
        pos = sp.end
    out.append(text[pos:])
    return ScrubResult("".join(out), [(s.start, s.end, s.kind) for s in spans])
