"""Person names in report text: the patient's own (known) names in any written form, and staff or
family names found by context (titles, degrees, "signed by", a common given name inside a sentence)."""

from __future__ import annotations

import re
from functools import lru_cache

from radcurate.deid import patterns as P

from .scrub_known import Known
from .scrub_scan import Scan
from .scrub_spans import PRIORITY, Span

_W_TITLE = frozenset("dr doctor mr mrs ms miss mister prof professor".split())
_W_TRIG = P.HINT_WORDS["trig"] | {"electronically", "e", "d"}
_W_DEGREE = P.HINT_WORDS["degree"] | {"p"}

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


def _context_names(scan: Scan) -> list[tuple[int, int]]:
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


def _token_matches(scan: Scan, tokens: dict) -> list[tuple[int, int, str]]:
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


def find_names(scan: Scan, known: Known) -> list[Span]:
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
    return [Span(s, e, "name", PRIORITY["name_ctx"] if (s, e) in ctx_set else PRIORITY["name"]) for s, e in all_spans]


def given_tokens(known: Known) -> frozenset:
    return frozenset([t for t, g in known.tokens.items() if g]) | P.FIRST_NAMES

