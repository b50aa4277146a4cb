"""Sentence boundaries that survive radiology style.

General-purpose splitters trip on what reports do all the time: numbered impressions
("1. Cardiomegaly. 2. No effusion."), decimals ("2.3 cm"), abbreviations ("vs.", "e.g."), missing
spaces after periods ("effusion.Heart is normal"), de-identification placeholders ("x-XXXX."),
and list lines without final punctuation. Assertion scope ends at the sentence, so a wrong split
turns "No effusion. 2. Atelectasis" into a negated atelectasis. spaCy's rule-based sentencizer
splits on every period (decimals and enumerators included), hence these rules; the spaCy component
in `components.py` only copies these boundaries onto the Doc.

`sentence_spans(text, start, end)` returns `(start, end)` character offsets into `text`, with
list markers ("1.", "2)", "-") and surrounding whitespace left out of each sentence.
"""
from __future__ import annotations

import re

# Never end a sentence (the next word continues it).
STRICT_ABBREVIATIONS = frozenset({
    "dr", "mr", "mrs", "ms", "prof", "vs", "v", "e.g", "i.e", "eg", "ie", "cf", "approx", "appr",
    "incl", "esp", "resp", "st", "fig", "figs", "sr", "jr", "ca", "mt", "pt",
})
# End a sentence only when a capitalised word follows ("etc. Heart ..." but "etc. and").
SOFT_ABBREVIATIONS = frozenset({"etc", "a.m", "p.m", "u.s", "cm", "mm", "no", "nos", "al", "wk", "wks",
                                "yr", "yrs", "hr", "hrs", "min", "max", "ant", "post", "lat", "sup",
                                "inf", "med", "ap", "pa"})

_ENUMERATOR = re.compile(r"(?<![\w.])(?P<num>\d{1,2})[.)](?=[ \t]+\S)|(?<![\w.])\((?P<pnum>\d{1,2})\)(?=[ \t]+\S)")
_BULLET_LINE = re.compile(r"\n[ \t]*(?:[-*\u2022]|\d{1,2}[.)])[ \t]+")
_BLANK_LINE = re.compile(r"\n[ \t]*\r?\n")
# A line break before a capitalised line ends a sentence ("Heart size normal\nLungs clear"), unless
# the line clearly runs on (ends with a comma, a hyphen, or a word like "and"/"of"/"the").
_LINE_BREAK = re.compile(r"[ \t]*\r?\n[ \t]*(?=[A-Z0-9])")
_RUNS_ON = frozenset({"and", "or", "of", "the", "a", "an", "with", "without", "to", "in", "for", "by", "at",
                      "on", "no", "not", "is", "are", "was", "were", "but", "which", "that", "from", "versus"})
_TERMINAL = re.compile(r"[.!?]+")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_LIST_PREFIX = re.compile(r"(?:[-*\u2022]|\(?\d{1,2}[.)]|\(\d{1,2}\))[ \t]+")


def _is_boundary_after(text: str, dot: int, stop: int) -> bool:
    """Is the run of terminal punctuation ending at `dot` (exclusive) a sentence end?"""
    mark_start = dot
    while mark_start > 0 and text[mark_start - 1] in ".!?":
        mark_start -= 1
    nxt = text[dot] if dot < stop else ""
    prev = text[mark_start - 1] if mark_start > 0 else ""
    single_period = text[mark_start:dot] == "."
    if single_period and prev.isdigit() and nxt.isdigit():
        return False  # decimal: 2.3 cm
    word_match = _WORD_BEFORE.search(text[max(0, mark_start - 20):mark_start])
    word = word_match.group(1).lower() if word_match else ""
    after = text[dot:stop].lstrip()
    if nxt == "" or nxt.isspace() or nxt in "\"')]":
        if not single_period:
            return True
        if word in STRICT_ABBREVIATIONS:
            return False
        if prev.isdigit() and after[:1].islower():
            return False  # "1.2 x 2. cm": a stray period inside a measurement
        if word in SOFT_ABBREVIATIONS:
            if word == "no" and after[:1].isdigit():
                return False
            return not after or after[:1].isupper() or after[:1].isdigit() and word not in ("no",)
        if "." in word and len(word) <= 4 and after[:1].islower():
            return False  # other dotted abbreviations (a.k.a.) followed by lower case
        return True
    # No space after the mark: "effusion.Heart" is a boundary; "x.XXXX" or "1.5" are not.
    if nxt.isalpha() and nxt.isupper() and len(word) >= 2 and "." not in word:
        rest = re.match(r"[A-Za-z]+", text[dot:stop])
        return bool(rest) and (len(rest.group(0)) >= 2)
    return False


def _enumerator_starts(text: str, start: int, stop: int, period_ends: set[int]) -> dict[int, int]:
    """Start -> marker end for each list item ("1. ", "2) ", "(3) ") that starts a new sentence."""
    accepted: dict[int, int] = {}
    starts: dict[int, int] = {}
    for m in _ENUMERATOR.finditer(text, start, stop):
        num = int(m.group("num") or m.group("pnum"))
        pos = m.start()
        before = text[start:pos].rstrip(" \t")
        at_edge = (not before or before.endswith("\n") or before.endswith(":")
                   or start + len(before) in period_ends or before[-1:] in ".!?;")
        if at_edge or (num > 1 and accepted.get(num - 1) is not None):
            accepted[num] = pos
            starts[pos] = m.end()
    return starts


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentences of `text[start:end]` as `(start, end)` offsets into `text`.

    Handles numbered lists ("1. ... 2. ..."), decimals ("2.3 cm"), abbreviations ("vs.", "Dr."),
    missing spaces after periods ("effusion.Heart"), XXXX placeholders and bullet lines. List
    markers and surrounding whitespace are excluded; spans without a letter or digit are dropped.

    >>> text = "1. Mild cardiomegaly. 2. Nodule 2.3 cm.No effusion."
    >>> [text[s:e] for s, e in sentence_spans(text)]
    ['Mild cardiomegaly.', 'Nodule 2.3 cm.', 'No effusion.']
    """
    stop = len(text) if end is None else min(end, len(text))
    start = max(0, start)
    if stop <= start:
        return []
    cuts: set[int] = set()
    period_ends: set[int] = set()
    for m in _TERMINAL.finditer(text, start, stop):
        if _is_boundary_after(text, m.end(), stop):
            cuts.add(m.end())
            period_ends.add(m.end())
    for m in _BLANK_LINE.finditer(text, start, stop):
        cuts.add(m.start())
    for m in _BULLET_LINE.finditer(text, start, stop):
        cuts.add(m.start())
    if "\n" in text[start:stop]:
        for m in _LINE_BREAK.finditer(text, start, stop):
            before = text[max(start, m.start() - 30):m.start()]
            last = before.rsplit(None, 1)[-1] if before.strip() else ""
            if last and last[-1] not in ",;(/&-" and last.lower() not in _RUNS_ON:
                cuts.add(m.start())
    enumerators = _enumerator_starts(text, start, stop, period_ends)
    cuts -= set(enumerators.values())  # the "1." of a list marker ends nothing
    cuts |= set(enumerators)
    spans: list[tuple[int, int]] = []
    bounds = sorted(c for c in cuts if start < c < stop)
    prev = start
    for cut in bounds + [stop]:
        span = _clean(text, prev, cut)
        if span is not None:
            spans.append(span)
        prev = cut
    return spans


def _clean(text: str, s: int, e: int) -> tuple[int, int] | None:
    """Trim whitespace and a leading list marker; None when nothing word-like is left."""
    while s < e and text[s].isspace():
        s += 1
    m = _LIST_PREFIX.match(text, s, e)
    if m:
        s = m.end()
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    if not any(ch.isalnum() for ch in text[s:e]):
        return None
    return s, e
