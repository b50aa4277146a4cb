"""The PHI known for one patient (RIS row, DICOM headers) and its matching form for report scrubbing."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache

from radcurate.deid import patterns as P

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
class Known:
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


def known_matcher(known: KnownPHI | None) -> Known:
    """The matching form of a KnownPHI; its parts are cached by value (a patient's names and
    other values repeat over their reports, each accession is new but costs no compilation)."""
    if known is None:
        return Known({}, frozenset(), (), None, frozenset())
    tokens, initials = _name_index(tuple(str(n) for n in known.names if n))
    needles = tuple(dict.fromkeys(nd for i in known.ids if i for nd in _id_needles(str(i))))
    return Known(tokens, initials, needles, _other_regex(tuple(str(o) for o in known.other if o)),
                  frozenset(known.dates), frozenset(known.birth_dates))

