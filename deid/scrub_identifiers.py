"""Identifiers, contacts, places, times and ages in report text: one small detector per family.

Each detector takes a `Found` (the text's scan, the known PHI, the config, and the digit-run anchors,
computed once) and returns its spans; `text_scrub.DETECTORS` lists them in the order they run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from radcurate.deid import patterns as P

from .scrub_known import Known
from .scrub_scan import Scan
from .scrub_spans import PRIORITY, Span, span_of

if TYPE_CHECKING:
    from .text_scrub import ScrubConfig

_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
_W_URL_LEAD = frozenset("http https ftp www".split())
_W_TLD = P.HINT_WORDS["url"] - _W_URL_LEAD
_W_AGE = frozenset("age aged ages".split())


@dataclass
class Found:
    """What every detector reads: the scan of one text, the patient's known PHI and the config."""

    scan: Scan
    known: Known
    cfg: "ScrubConfig"

    @cached_property
    def digits(self) -> dict[str, list[int]]:
        return digit_anchors(self.scan)


def digit_anchors(scan: Scan) -> dict[str, list[int]]:
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


def _token_starts(scan: Scan) -> list[int]:
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


# ---------------------------------------------------------------------------- detectors (text_scrub.DETECTORS)

def known_other(f: Found) -> list[Span]:
    """Any other value known for the patient, removed as written."""
    rx = f.known.other_re
    return [span_of(m, "other", "other") for m in rx.finditer(f.scan.text)] if rx is not None else []


def known_ids(f: Found) -> list[Span]:
    """The patient's known IDs (MRN, accession) in any written form (see `scrub_known`)."""
    out = []
    for needle, squeezed in f.known.id_needles:
        for a, b in (f.scan.find_squeezed(needle) if squeezed else f.scan.find_exact(needle)):
            out.append(Span(a, b, "id", PRIORITY["known_id"]))
    return out


def emails(f: Found) -> list[Span]:
    text = f.scan.text
    if "@" not in text:
        return []
    ats = [i for i, c in enumerate(text) if c == "@"]
    return [span_of(m, "email", "email") for m in f.scan.hits(P.EMAIL_RE, ats, 80, 100)]


def urls(f: Found) -> list[Span]:
    scan, text = f.scan, f.scan.text
    if "url" not in scan.hints:
        return []
    out = []
    for m in [*scan.hits(P.URL_RE, scan.at(_W_URL_LEAD)), *scan.hits(P.URL_RE, scan.at(_W_TLD), 100, 120)]:
        e = m.end()
        while e > m.start() and text[e - 1] in ".,;:!?":
            e -= 1
        out.append(Span(m.start(), e, "url", PRIORITY["url"]))
    return out


def context_ids(f: Found) -> list[Span]:
    """A value after "MRN", "Acc#", "ID:", ..."""
    scan = f.scan
    if "idctx" not in scan.hints:
        return []
    return [span_of(m, "id", "ctx_id", "v") for m in scan.hits(P.ID_CONTEXT_RE, scan.at(P.HINT_WORDS["idctx"]))]


def institutions(f: Found) -> list[Span]:
    scan, text = f.scan, f.scan.text
    if "inst" not in scan.hints:
        return []
    out = []
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
        out.append(Span(s, m.end(), "institution", PRIORITY["institution"]))
    return out


def ages_in_words(f: Found) -> list[Span]:
    """Ages in words ("ninety-two-year-old") are over 89."""
    scan = f.scan
    if "age" not in scan.hints or f.cfg.age_cap >= 90:
        return []
    return [Span(m.start("n"), m.end("n"), "age", PRIORITY["age"], "text")
            for m in scan.hits(P.AGE_WORDS_RE, scan.at(frozenset({"ninety", "one"})))]


def ssns(f: Found) -> list[Span]:
    return [span_of(m, "id", "ctx_id") for m in f.scan.hits(P.SSN_RE, f.digits["ssn"])]


def phones(f: Found) -> list[Span]:
    scan, da, out = f.scan, f.digits, []
    phone_anchors = [da["phone0"], da["phone1"], None, da["phone3"]]
    for i, rx in enumerate(P.PHONE_PATTERNS):
        if i == 2:  # a number after "pager", "ext", "call back", ...
            if "phonectx" in scan.hints:
                out += [span_of(m, "phone", "phone", "v") for m in scan.hits(rx, scan.at(P.HINT_WORDS["phonectx"]))]
            continue
        out += [span_of(m, "phone", "phone", "v" if "v" in rx.groupindex else None)
                for m in scan.hits(rx, phone_anchors[i])]
    return out


def addresses(f: Found) -> list[Span]:
    scan, da, addr, out = f.scan, f.digits, P.ADDRESS_PATTERNS, []
    if "street" in scan.hints:
        out += [span_of(m, "address", "address") for m in scan.hits(addr[0], da["street"])]
    for rx in (addr[1], addr[2]):
        out += [span_of(m, "address", "address") for m in scan.hits(rx, da["zip"], 60, 11)]
    if "zip" in scan.hints:
        out += [span_of(m, "address", "address", "v") for m in scan.hits(addr[3], scan.at(frozenset({"zip"})))]
    if "pobox" in scan.hints:
        out += [span_of(m, "address", "address") for m in scan.hits(addr[4], scan.at(frozenset({"box"})), 12, 16)]
    return out


def times(f: Found) -> list[Span]:
    scan, da, rx, out = f.scan, f.digits, P.TIME_PATTERNS, []
    if ":" in scan.text:
        out += [span_of(m, "time", "time") for m in scan.hits(rx[0], da["time0"])]
    if "ampm" in scan.hints:
        out += [span_of(m, "time", "time") for m in scan.hits(rx[1], da["time1"])]
    if "hours" in scan.hints:
        out += [span_of(m, "time", "time") for m in scan.hits(rx[2], da["time2"])]
    return out


def shaped_ids(f: Found) -> list[Span]:
    """ID-like numbers by shape: after "#", long digit runs, letter-digit tokens ("SN48213")."""
    scan, out = f.scan, []
    if "#" in scan.text:
        out += [span_of(m, "id", "id", "v") for m in P.HASH_ID_RE.finditer(scan.text)]
    out += [span_of(m, "id", "id") for m in scan.hits(P.LONG_DIGITS_RE, f.digits["long"])]
    out += [span_of(m, "id", "id") for m in scan.hits(P.ALNUM_RE, _token_starts(scan)) if _looks_like_id(m.group(0))]
    return out


def ages(f: Found) -> list[Span]:
    """Ages over the cap ("92-year-old", "Age: 93", DICOM-style "097Y")."""
    scan, da, cfg = f.scan, f.digits, f.cfg
    if "age" not in scan.hints:
        return []
    rx, out = P.AGE_PATTERNS, []
    for i, (pattern, anchors) in enumerate(((rx[0], da["age0"]), (rx[1], scan.at(_W_AGE)), (rx[2], da["age2"]))):
        for m in scan.hits(pattern, anchors):
            n = int(m.group("n"))
            if cfg.age_cap < n <= 150:
                out.append(Span(m.start("n"), m.end("n"), "age", PRIORITY["age"], "dicom" if i == 2 else "text"))
    return out
