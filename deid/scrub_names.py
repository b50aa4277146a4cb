"""Person names in report text: the patient's own (known) names in any written form, and staff or
family names found by context (titles, degrees, "signed by", a common given name inside a sentence).

Weak cues (the patient, a family member, a caller: "Patient Zenobia Quillfeather called back", "his
daughter Maria", "Ana Lima (wife) was informed") take a capitalised name only with evidence: a given
name or surname of the census lists (:mod:`.name_lexicon`), or two capitalised words that no report
writes in lower case. Around every name found, "LAST, FIRST" and "FIRST LAST" are taken whole when the
neighbour is a given name or surname, and every part of a found name is removed wherever it appears
in the same text."""

from __future__ import annotations

import re
from functools import lru_cache

from radcurate.deid import patterns as P

from .name_lexicon import NameLexicon, name_lexicon, ordinary_words
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

    lex, ordinary = name_lexicon(), ordinary_words()

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
            else:  # "spoke with maria gonzalez": a census given name and surname, neither a word
                r = _trim_name(text, m.start("name"), m.end("name"))
                words = _tokens(text, *r) if r else []
                if len(words) >= 2 and _given(words[0], lex, ordinary) and \
                        all(w.lower() in lex.surnames | lex.given and w.lower() not in ordinary for w in words[1:]):
                    found.append(r)
    for m in scan.hits(P.WEAK_CUE_NAME_RE, scan.at(P.WEAK_CUE_WORDS)):
        r = _weak_name(text, m.start("name"), m.end("name"), lex, ordinary)
        if r:
            found.append(r)
    for m in scan.hits(P.VERB_AFTER_NAME_RE, scan.at(P.VERB_CUE_WORDS), 80, 30):
        r = _weak_name(text, m.start("name"), m.end("name"), lex, ordinary, from_right=True)
        if r:
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
    given_at = sorted(set(firsts) | set(scan.at(lex.given & scan.present)))
    for m in scan.hits(_FIRST_LAST_RE, given_at):
        f, last = m.group("f"), m.group("l")
        fl, ll = f.lower(), _bare(last).lower()
        common = fl in P.FIRST_NAMES and fl not in P.VERY_COMMON and not _is_common(last)
        # any census given name before a census surname, both in Title case and neither ordinary
        census = (not f.isupper() and not last.isupper() and fl in lex.given and ll in lex.surnames
                  and ll not in ordinary)
        if (common or census) and (f.isupper() == last.isupper()):
            e = m.end("l") - (2 if last.lower().endswith("'s") else 0)
            found.append((m.start("f"), e))
    return [_around(text, s, e, lex, ordinary) for s, e in found]


def _tokens(text: str, s: int, e: int) -> list[str]:
    return [b for b in (_bare(m.group(0)) for m in _TOK_RE.finditer(text, s, e)) if len(b) > 1]


def _weak_name(text: str, start: int, end: int, lex: NameLexicon, ordinary: frozenset,
               from_right: bool = False) -> tuple[int, int] | None:
    """The person named by the capitalised run after a weak cue (or before a reporting verb), or
    None. The run is cut at the first ordinary word (counted from the cue); a capitalised word that
    opens a sentence is no evidence. Evidence: a census given name or surname in what is left, or
    two or more Title-case words of which none is ordinary vocabulary ("Zenobia Quillfeather")."""
    toks = [(m.start(), m.end(), _bare(m.group(0))) for m in _TOK_RE.finditer(text, start, end)]
    toks = [t for t in toks if len(t[2]) > 1]
    if from_right:
        toks = toks[::-1]
    kept = []
    for t in toks:
        if t[2].lower() in ordinary or _is_common(t[2]):
            break
        kept.append(t)
    if from_right:
        kept = kept[::-1]
    if len(kept) > 1 and kept[0][2].lower() not in lex.given and re.search(r"(?:^|[.!?\n])[ \t\"'(]*$", text[:kept[0][0]]):
        kept = kept[1:]  # "Later Zenobia asked": a sentence's first word is capitalised anyway (a given name stays)
    if not kept:
        return None
    words = [t[2] for t in kept]
    if not any(lex.is_name(w) for w in words) and (len(words) < 2 or any(w.isupper() for w in words)):
        return None
    s, e = kept[0][0], kept[-1][1]
    if text[s:e].lower().endswith("'s"):
        e -= 2
    elif text[e - 1:e] == "." and len(words[-1]) > 1:
        e -= 1
    return s, e


_COMMA_GIVEN = re.compile(rf",[ \t]*(?P<g>[{P.UP}][{P.LO}]+(?:-[{P.UP}]?[{P.LO}]+)?|[{P.UP}]{{2,}}(?:-[{P.UP}]{{2,}})?)"
                          rf"(?:[ \t]+[{P.UP}]\.?)?(?![{P.UP}{P.LO}'\-])")
_NAME_BEFORE = re.compile(rf"(?<![{P.UP}{P.LO}.'\-])(?P<g>[{P.UP}][{P.LO}]+|[{P.UP}]{{2,}})[ \t]+$")
_NAME_AFTER = re.compile(rf"[ \t]+(?P<g>[{P.UP}][{P.LO}]+(?:['\-][{P.UP}][{P.LO}]+)?|[{P.UP}]{{2,}})(?![{P.UP}{P.LO}'\-])")


def _same_case(word: str, name: str) -> bool:
    return word.isupper() == name.isupper()


def _given(word: str, lex: NameLexicon, ordinary: frozenset) -> bool:
    """A census given name (each part of a hyphenated one, "Mei-Ling": any part) that is no ordinary word."""
    parts = [p for p in word.lower().split("-") if p]
    return any(p in lex.given for p in parts) and not any(p in ordinary for p in parts)


def _around(text: str, s: int, e: int, lex: NameLexicon, ordinary: frozenset) -> tuple[int, int]:
    """A found name with its "LAST, FIRST" given name, the given name before it ("FIRST LAST") and
    the surname after a lone given name, when that neighbour is a census name of the same case."""
    name = text[s:e]
    m = _COMMA_GIVEN.match(text, e)
    if m and _given(m.group("g"), lex, ordinary) and _same_case(m.group("g"), name):
        e = m.end()
    m = _NAME_BEFORE.search(text, max(0, s - 30), s)
    if m and _given(m.group("g"), lex, ordinary) and _same_case(m.group("g"), name):
        s = m.start()
    toks = _tokens(text, s, e)
    m = _NAME_AFTER.match(text, e)
    if m and len(toks) == 1 and toks[0].lower() in lex.given and _same_case(m.group("g"), name):
        # after a given name a census surname is one even when it is also a word ("Gwendolyn Price")
        g = _bare(m.group("g")).lower()
        if g in lex.surnames or (g in lex.word_surnames and not m.group("g").isupper()):
            e = m.end()
    return s, e


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

