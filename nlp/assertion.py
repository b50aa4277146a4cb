"""ConText-style assertion for radiology: negated, uncertain, historical, hypothetical, family.

Why not negspacy alone (measured by `benchmarks/openi.py --ablation` on the OpenI dev set):
spaCy + negspacy (Negex, en_clinical) with a short synonym list reaches micro F1 0.783; giving
Negex this package's lexicon raises it only to 0.813, while the same lexicon with this component
reaches 0.941. Of the finding labels where Negex says positive and this component does not, 179
are radiology uncertainty that Negex has no notion of ("may represent", "suspicious for",
"cannot be excluded"; the gold standard marks 4 of them positive) and 121 are negations whose
scope Negex misses (gold: 0 positive). This component follows ConText (Harkema et al. 2009):
triggers with a direction (forward, backward, both), pseudo-triggers that block shorter triggers
("no change", "not only"), scope that ends at a terminator ("but", "however", ";", "which") or
after `max_scope_words`, and coordination ("no pneumothorax, effusion, or consolidation")
covered by the scope rather than by per-entity lookups.

The rules are data (`nlp/data/context_rules.yaml`). `classify_assertion(sentence, target)` runs the
very logic the spaCy pipeline uses.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .rules_file import CATEGORIES, read_rules

DEFAULT_RULES = Path(__file__).parent / "data" / "context_rules.yaml"
# Which applied trigger explains a mention, when several apply.
_EXPLAIN_ORDER = ("family", "hypothetical", "negated", "uncertain", "historical")


@dataclass(frozen=True)
class TriggerMatch:
    """A trigger (or terminator) found in a sentence, with character offsets into it."""

    start: int
    end: int
    text: str
    category: str  # one of CATEGORIES, or "terminate"
    direction: str  # forward, backward, both ("" for terminators)
    leaning_positive: bool = False

    @property
    def rule_id(self) -> str:
        return f"{self.category}.{self.direction}:{self.text}" if self.direction else f"{self.category}:{self.text}"


@dataclass(frozen=True)
class Assertion:
    """Assertion flags for one target, plus the trigger that explains them (if any)."""

    negated: bool = False
    uncertain: bool = False
    historical: bool = False
    hypothetical: bool = False
    family: bool = False
    leaning_positive: bool = False  # uncertain only through high-probability hedges ("probable")
    trigger: str | None = None
    rule_id: str | None = None

    def flags(self) -> dict[str, bool]:
        return {c: getattr(self, c) for c in CATEGORIES}


class ContextRules:
    """Compiled trigger rules: a lookup from word n-grams to (category, direction).

    Sentences and phrases are split into the same word tokens (hyphens ignored, so "rule-out"
    matches "rule out"); scanning left to right, the longest phrase starting at a word wins and
    consumes its words, so a pseudo-trigger ("no change") hides the shorter trigger ("no"). A
    dictionary walk is an order of magnitude faster than one regex alternation of ~500 phrases.
    """

    def __init__(self, spec: dict):
        entries: dict[str, list[tuple[str, str]]] = {}
        leaning = (spec.get("uncertain") or {}).get("leaning_positive") or []
        self.leaning_positive = frozenset(_norm(p) for p in leaning)
        for category in CATEGORIES:
            by_dir = spec.get(category) or {}
            directions: dict[str, set[str]] = {}
            for direction in ("forward", "backward", "both"):
                for phrase in by_dir.get(direction) or []:
                    directions.setdefault(_norm(phrase), set()).add(direction)
            for phrase, dirs in directions.items():
                direction = "both" if "both" in dirs or dirs == {"forward", "backward"} else dirs.pop()
                entries.setdefault(phrase, []).append((category, direction))
        for phrase in spec.get("pseudo") or []:
            entries[_norm(phrase)] = [("pseudo", "")]
        for phrase in spec.get("terminate") or []:
            entries.setdefault(_norm(phrase), []).append(("terminate", ""))
        self.lookup: dict[tuple[str, ...], tuple[str, list[tuple[str, str]]]] = {}
        for phrase, cats in entries.items():
            key = tuple(_TOKEN.findall(phrase))
            if key:
                self.lookup[key] = (phrase, cats)
        self.max_len = max((len(k) for k in self.lookup), default=1)

    def find(self, lower_sentence: str) -> list[TriggerMatch]:
        """Triggers and terminators in a lower-cased sentence; pseudo-triggers consume their words."""
        tokens = [(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(lower_sentence)]
        words = [t[0] for t in tokens]
        out: list[TriggerMatch] = []
        i, n = 0, len(tokens)
        lookup = self.lookup
        while i < n:
            for length in range(min(self.max_len, n - i), 0, -1):
                hit = lookup.get(tuple(words[i:i + length]))
                if hit is None:
                    continue
                phrase, cats = hit
                start, end = tokens[i][1], tokens[i + length - 1][2]
                for category, direction in cats:
                    if category != "pseudo":
                        leaning = category == "uncertain" and phrase in self.leaning_positive
                        out.append(TriggerMatch(start, end, phrase, category, direction, leaning))
                i += length
                break
            else:
                i += 1
        return out


_TOKEN = re.compile(r"[a-z0-9]+(?:/[a-z0-9]+)*|[^\w\s-]")


def _norm(phrase) -> str:
    if not isinstance(phrase, str):  # YAML reads a bare `no` as False: quote such phrases
        raise ValueError(f"assertion rule {phrase!r} is not a string; quote it in the rules file")
    return " ".join(str(phrase).lower().split())


@lru_cache(maxsize=8)
def load_rules(path: str | Path = DEFAULT_RULES) -> ContextRules:
    """Compile the rules file once per process (rules are read-only after loading; checked on load)."""
    return ContextRules(read_rules(path))


_WORD = re.compile(r"[a-z0-9]+")


def _in_scope(gap_start: int, gap_end: int, terminators: list[TriggerMatch], text: str, max_words: int) -> bool:
    for t in terminators:
        if t.start >= gap_start and t.end <= gap_end:
            return False
    return len(_WORD.findall(text, gap_start, gap_end)) <= max_words


def assert_target(lower_sentence: str, triggers: list[TriggerMatch], start: int, end: int,
                  max_words: int = 15) -> Assertion:
    """Assertion of the target at [start, end) of a lower-cased sentence, given its triggers.

    A forward trigger applies when it ends before the target (or lies inside it, as in "heart is not
    enlarged") with no terminator and at most `max_words` words in between; a backward trigger
    likewise after the target; "both" either way. A trigger whose words run into the target applies
    in its direction too: in "No acute distress." the trigger "no acute" overlaps the target "acute
    distress" (the longest trigger consumed the target's first word).
    """
    terminators = [t for t in triggers if t.category == "terminate"]
    applied: dict[str, tuple[int, TriggerMatch]] = {}  # category -> (distance, nearest trigger)
    low_hedge = False
    for t in triggers:
        if t.category == "terminate":
            continue
        inside = t.start > start and t.end <= end
        into_start = t.start < start < t.end  # "no acute" | "acute distress"
        into_end = t.start < end < t.end and t.start >= start  # "distress" | "distress absent ..."
        if inside:
            hit = True
        elif into_start or into_end:
            hit = t.direction == "both" or t.direction == ("forward" if into_start else "backward")
            inside = hit
        elif t.end <= start and t.direction in ("forward", "both"):
            hit = _in_scope(t.end, start, terminators, lower_sentence, max_words)
        elif t.start >= end and t.direction in ("backward", "both"):
            hit = _in_scope(end, t.start, terminators, lower_sentence, max_words)
        else:
            hit = False
        if hit:
            if t.category == "uncertain" and not t.leaning_positive:
                low_hedge = True
            distance = 0 if inside else (start - t.end if t.end <= start else t.start - end)
            if t.category not in applied or distance < applied[t.category][0]:
                applied[t.category] = (distance, t)
    explain = next((applied[c][1] for c in _EXPLAIN_ORDER if c in applied), None)
    return Assertion(**{c: c in applied for c in CATEGORIES},
                     leaning_positive="uncertain" in applied and not low_hedge,
                     trigger=explain.text if explain else None,
                     rule_id=explain.rule_id if explain else None)


def mention_value(a: Assertion, hedged_positive: bool = True) -> int | None:
    """A mention's label in the CheXpert convention: 1 positive, 0 negative, -1 uncertain, None ignored.

    Family history and hypothetical statements ("evaluate for pneumonia") say nothing about this
    patient's image; a historical mention ("history of pneumonia") says nothing about today; so
    they are ignored. Negation outranks uncertainty ("no suspicious nodule" is negative). With
    `hedged_positive`, a mention hedged only by high-probability terms ("probable", "likely",
    "A versus B") is positive, as in ChestX-ray14's labels; otherwise it is uncertain.
    """
    if a.family or a.hypothetical:
        return None
    if a.negated:
        return 0
    if a.uncertain:
        return 1 if hedged_positive and a.leaning_positive else -1
    if a.historical:
        return None
    return 1


def classify_assertion(sentence: str, target: str, rules_path: str | Path = DEFAULT_RULES,
                       max_scope_words: int = 15) -> dict:
    """Assertion flags for `target` (a phrase) in `sentence`, by the same rules the pipeline uses.

    Returns `{"negated", "uncertain", "historical", "hypothetical", "family"}` as booleans plus
    `"trigger"` and `"rule_id"` naming the trigger that decided (None when none applied).
    The first whole-word, case-insensitive occurrence of `target` is assessed.

    >>> classify_assertion("No pneumothorax, effusion, or consolidation.", "consolidation")["negated"]
    True
    >>> classify_assertion("Opacity may represent atelectasis.", "atelectasis")["uncertain"]
    True
    """
    lower = sentence.lower()
    m = re.search(r"(?<!\w)" + re.escape(" ".join(target.lower().split())).replace(r"\ ", r"\s+") + r"(?!\w)", lower)
    if m is None:
        raise ValueError("target phrase does not occur in the sentence")
    rules = load_rules(str(rules_path))
    result = assert_target(lower, rules.find(lower), m.start(), m.end(), max_scope_words)
    return {**result.flags(), "trigger": result.trigger, "rule_id": result.rule_id}
