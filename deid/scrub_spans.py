"""Detected PHI spans and how overlapping detections are settled (report scrubbing).

Every detector yields `Span`s with a priority; `resolve` keeps the strongest where they overlap.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

KINDS = ("name", "id", "date", "time", "phone", "email", "url", "address", "institution", "age", "other")
# What each kind becomes in the text with the "tag" style (a birth date always becomes [DOB]).
TAGS = {"name": "[NAME]", "id": "[ID]", "date": "[DATE]", "time": "[TIME]", "phone": "[PHONE]",
        "email": "[EMAIL]", "url": "[URL]", "address": "[ADDRESS]", "institution": "[INSTITUTION]",
        "age": "[AGE]", "other": "[REDACTED]", "birth_date": "[DOB]"}

# Priorities: when two detections overlap the higher one wins (a known ID beats a date shape,
# a date beats a phone shape, an address beats the name inside it, ...).
PRIORITY = {"other": 100, "known_id": 95, "email": 90, "url": 85, "ctx_id": 80, "date": 70, "phone": 65,
         "address": 60, "institution": 55, "name_ctx": 50, "name": 48, "time": 40, "id": 30, "age": 20}


@dataclass
class Span:
    start: int
    end: int
    kind: str
    prio: int
    info: object = None  # date: (match, pattern name, day/month swapped, date); age: "dicom" or "text"
    merged: bool = False


def span_of(m, kind: str, prio: str, group: str | None = None, info=None) -> Span:
    """The span of match ``m`` (or of its ``group`` when that group matched) as a detection."""
    if group and m.group(group) is not None:
        return Span(m.start(group), m.end(group), kind, PRIORITY[prio], info)
    return Span(m.start(), m.end(), kind, PRIORITY[prio], info)


def resolve(spans: list[Span]) -> list[Span]:
    """Keep the highest-priority detection where spans overlap; partial overlaps are merged into
    the stronger span, so nothing is left half-removed. Returns disjoint spans by position."""
    spans = sorted(spans, key=lambda s: (-s.prio, -(s.end - s.start), s.start))
    accepted: list[Span] = []  # disjoint, sorted by start; each at least as strong as later ones
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

