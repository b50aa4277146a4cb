"""Report sections: find EXAMINATION / HISTORY / COMPARISON / TECHNIQUE / FINDINGS / IMPRESSION.

Radiology reports are dictated into loosely shared templates: headers come upper or mixed case,
with or without a colon, on their own line or inline ("... normal. IMPRESSION: No acute disease").
Labels are read from FINDINGS and IMPRESSION; HISTORY (indication, reason for exam) must never make
a finding positive, so telling the sections apart is the first step of the miner.

Header wordings are data (`nlp/data/sections.yaml`, one list per canonical section).
`section_spans(text)` returns `(name, start, end)` for each section's *content* (the header itself is
excluded), in text order; text before the first header is the `body` section.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import yaml

SECTIONS_FILE = Path(__file__).parent / "data" / "sections.yaml"


def load_header_synonyms(path: str | Path = SECTIONS_FILE) -> dict[str, tuple[str, ...]]:
    """Header wording by canonical section, from the sections data file (checked: lists of strings)."""
    with open(path, encoding="utf-8") as fh:
        spec = yaml.safe_load(fh)
    if not isinstance(spec, dict) or not spec:
        raise ValueError(f"{path}: expected a mapping of section name -> list of header wordings")
    for name, phrases in spec.items():
        if name == "body" or not isinstance(phrases, list) or not all(isinstance(p, str) and p.strip() for p in phrases):
            raise ValueError(f"{path}: section {name!r} must be a list of header wordings (and not 'body')")
    return {str(name): tuple(" ".join(p.lower().split()) for p in phrases) for name, phrases in spec.items()}


# Header wording -> canonical section. Longer phrases are tried first (regex alternation is ordered).
HEADER_SYNONYMS: dict[str, tuple[str, ...]] = load_header_synonyms()
SECTION_NAMES = ("body", *HEADER_SYNONYMS)

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
