"""Reading the assertion rules file (`nlp/data/context_rules.yaml`) with its shape checked.

A typo must not silently load zero triggers: an unknown top-level key, category or direction, a
phrase list that is not a list, or a phrase that is not a string is a `RulesError` naming the file
and the key. The layout:

    <category>:            negated | uncertain | historical | hypothetical | family
      forward|backward|both: [phrase, ...]
      leaning_positive: [phrase, ...]      (uncertain only: high-probability hedges)
    pseudo: [phrase, ...]                  look like triggers but are not ("no change")
    terminate: [phrase, ...]               end a trigger's scope ("but", "however")

>>> check_rules({"negated": {"forwards": ["no"]}}, "my_rules.yaml")
Traceback (most recent call last):
...
radcurate.nlp.rules_file.RulesError: my_rules.yaml: negated: unknown direction 'forwards' (expected one of backward, both, forward)
"""
from __future__ import annotations

from pathlib import Path

import yaml

CATEGORIES = ("negated", "uncertain", "historical", "hypothetical", "family")
DIRECTIONS = ("forward", "backward", "both")
LISTS = ("pseudo", "terminate")


class RulesError(ValueError):
    """The assertion rules file (or rules given to the component's `add`) is malformed."""


def _check_phrases(value, where: str) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise RulesError(f"{where}: expected a list of phrases, got {type(value).__name__}")
    for phrase in value:
        if not isinstance(phrase, str) or not phrase.strip():
            raise RulesError(f"{where}: phrase {phrase!r} is not a non-empty string "
                             "(YAML reads a bare no/yes/on/off as a boolean: quote it)")


def check_rules(spec, source: str = "assertion rules") -> dict:
    """Raise `RulesError` unless `spec` has the rules file's layout; return it unchanged."""
    if not isinstance(spec, dict):
        raise RulesError(f"{source}: must be a mapping of categories, got {type(spec).__name__}")
    unknown = sorted(set(map(str, spec)) - set(CATEGORIES) - set(LISTS))
    if unknown:
        raise RulesError(f"{source}: unknown key(s) {', '.join(map(repr, unknown))} "
                         f"(expected categories {', '.join(CATEGORIES)}, or {', '.join(LISTS)})")
    for category in CATEGORIES:
        by_direction = spec.get(category)
        if by_direction is None:
            continue
        if not isinstance(by_direction, dict):
            raise RulesError(f"{source}: {category}: expected a mapping of directions to phrase lists")
        allowed = set(DIRECTIONS) | ({"leaning_positive"} if category == "uncertain" else set())
        for direction, phrases in by_direction.items():
            if direction not in allowed:
                raise RulesError(f"{source}: {category}: unknown direction {direction!r} "
                                 f"(expected one of {', '.join(sorted(allowed))})")
            _check_phrases(phrases, f"{source}: {category}.{direction}")
    for key in LISTS:
        _check_phrases(spec.get(key), f"{source}: {key}")
    if not any(spec.get(c) for c in CATEGORIES):
        raise RulesError(f"{source}: no trigger phrases in any category")
    return spec


def read_rules(path: str | Path) -> dict:
    """The rules file at `path`, parsed and checked."""
    try:
        with open(path, encoding="utf-8") as fh:
            spec = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise RulesError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    return check_rules(spec, str(path))


def merge_rules(spec: dict, category: str, phrases: list[str], direction: str = "forward") -> dict:
    """A copy of `spec` with `phrases` added to `category` (a trigger category, pseudo or terminate)."""
    merged = {k: (dict(v) if isinstance(v, dict) else list(v or [])) for k, v in spec.items()}
    if category in LISTS:
        merged[category] = [*merged.get(category, []), *phrases]
    elif category in CATEGORIES:
        if direction not in DIRECTIONS and not (category == "uncertain" and direction == "leaning_positive"):
            raise RulesError(f"add: unknown direction {direction!r} (expected one of {', '.join(DIRECTIONS)})")
        block = merged.setdefault(category, {})
        block[direction] = [*(block.get(direction) or []), *phrases]
    else:
        raise RulesError(f"add: unknown category {category!r} (expected {', '.join(CATEGORIES + LISTS)})")
    return check_rules(merged, "add")
