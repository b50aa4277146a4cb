"""Report sections: find EXAMINATION / HISTORY / COMPARISON / TECHNIQUE / FINDINGS / IMPRESSION.

Radiology reports are dictated into loosely shared templates: headers come upper or mixed case,
with or without a colon, on their own line or inline ("... normal. IMPRESSION: No acute disease").
Labels are read from FINDINGS and IMPRESSION; HISTORY (indication, reason for exam) must never make
a finding positive, so telling the sections apart is the first step of the miner.

`section_spans(text)` returns `(name, start, end)` for each section's *content* (the header itself
is excluded), in text order; text before the first header is the `body` section.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

SECTION_NAMES = ("body", "examination", "history", "comparison", "technique", "findings", "impression")

# Header wording -> canonical section. Longer phrases are tried first (regex alternation is ordered).
HEADER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "examination": (
        "examination", "exam", "exam type", "type of exam", "type of examination", "study",
        "procedure", "radiograph", "radiographs",
    ),
    "history": (
        "history", "clinical history", "medical history", "patient history", "brief history",
        "indication", "indications", "clinical indication", "clinical indications", "reason",
        "reason for exam", "reason for examination", "reason for study", "reason for the exam",
        "clinical information", "clinical info", "clinical data", "clinical details",
        "clinical notes", "clinical", "history and indication", "indication and history",
    ),
    "comparison": ("comparison", "comparisons", "comparison study", "comparison studies", "prior",
                   "priors", "prior studies", "prior study", "compared with", "compared to"),
    "technique": ("technique", "techniques", "technique and findings", "views", "view",
                  "procedure details", "protocol"),
    "findings": ("findings", "finding", "report", "description", "discussion",
                 "findings and impression"),
    "impression": ("impression", "impressions", "conclusion", "conclusions", "opinion",
                   "summary", "interpretation", "diagnosis", "diagnoses", "assessment",
                   "final impression", "diagnostic impression"),
}

_CANONICAL = {phrase: name for name, phrases in HEADER_SYNONYMS.items() for phrase in phrases}
_ALTERNATION = "|".join(
    sorted((re.escape(p).replace(r"\ ", r"\s+") for p in _CANONICAL), key=len, reverse=True)
)

# A header starts the text, a line, or follows sentence-final punctuation.
# With a colon (or dash) it may be any case; without one it must be UPPER CASE and open its line.
_WITH_COLON = re.compile(
    rf"(?:^|(?<=\n)|(?<=[.!?;])|(?<=[.!?;]\s)|(?<=[.!?;]\s\s))[ \t]*(?P<name>{_ALTERNATION})[ \t]*(?::|-(?=\s))[ \t]*",
    re.IGNORECASE,
)
_BARE_LINE = re.compile(
    rf"(?:^|(?<=\n))[ \t]*(?P<name>{_ALTERNATION})[ \t]*(?=\r?\n|$)",
    re.IGNORECASE,
)
# "INDICATION 61-year-old female ...": an UPPER CASE header opening a line, text on the same line.
_UPPER_INLINE = re.compile(rf"(?:^|(?<=\n))[ \t]*(?P<name>{_ALTERNATION})[ \t]+(?=\S)", re.IGNORECASE)


def canonical_section(header: str) -> str | None:
    """Canonical section name for a header's wording ("Clinical History" -> "history"), or None."""
    key = re.sub(r"\s+", " ", header.strip().rstrip(":").strip()).lower()
    return _CANONICAL.get(key)


def _headers(text: str) -> list[tuple[int, int, str]]:
    """(header start, content start, canonical name) for every header found, in order."""
    found: dict[int, tuple[int, int, str]] = {}
    for match in _WITH_COLON.finditer(text):
        found[match.start("name")] = (match.start("name"), match.end(), _CANONICAL[_norm(match["name"])])
    for pattern in (_BARE_LINE, _UPPER_INLINE):
        for match in pattern.finditer(text):
            word = match["name"]
            if word.isupper() and match.start("name") not in found:
                found[match.start("name")] = (match.start("name"), match.end(), _CANONICAL[_norm(word)])
    return [found[k] for k in sorted(found)]


def _norm(header: str) -> str:
    return re.sub(r"\s+", " ", header).lower()


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def section_spans(text: str) -> list[tuple[str, int, int]]:
    """Sections of a report as `(canonical name, start, end)` over the content after each header.

    Names: examination, history (incl. indication, clinical history, reason for exam),
    comparison, technique, findings, impression (incl. conclusion, opinion), and `body` for text
    before any header. Empty sections (a header with nothing after it) are kept with start == end
    so callers can tell "IMPRESSION:" was present but blank.

    >>> section_spans("INDICATION: cough. FINDINGS: Lungs are clear.")
    [('history', 12, 18), ('findings', 29, 45)]
    """
    if not text:
        return []
    headers = _headers(text)
    spans: list[tuple[str, int, int]] = []
    first = headers[0][0] if headers else len(text)
    body_start, body_end = _trim(text, 0, first)
    if body_end > body_start:
        spans.append(("body", body_start, body_end))
    for i, (_, content_start, name) in enumerate(headers):
        next_start = headers[i + 1][0] if i + 1 < len(headers) else len(text)
        start, end = _trim(text, content_start, next_start)
        spans.append((name, start, end))
    return spans


def compose_report(values: Sequence, columns: Sequence[str]) -> tuple[str, list[tuple[str, int, int]] | None]:
    """One text from several text columns, as the finding miner composes it (offsets agree).

    Non-empty values are joined by a blank line; a column named like a section ("findings",
    "impression") becomes that section, any other column keeps the headers written in it.
    With one column the text is used as it is and sections come from its headers (None).
    """
    clean = ["" if not isinstance(v, str) else v.strip() for v in values]
    if len(columns) == 1:
        return (values[0] if isinstance(values[0], str) else ""), None
    text, sections = "", []
    for column, value in zip(columns, clean):
        if not value:
            continue
        if text:
            text += "\n\n"
        start = len(text)
        text += value
        name = canonical_section(column)
        if name:
            sections.append((name, start, len(text)))
        else:
            sections.extend((n, start + a, start + b) for n, a, b in section_spans(value))
    return text, sections
