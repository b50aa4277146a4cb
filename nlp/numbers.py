"""Spelled-out numbers in dictated sizes ("eighteen millimeters", "one point five centimeters").

Dictation software and some radiologists write small sizes in words. Only what sizes need is
covered: 0-999 in words, hyphenated or spaced tens ("twenty-two", "twenty two"), "a"/"an" as one
("a centimeter"), "half", and "point" decimals ("two point five"). A library such as word2number
would add a dependency for these ~30 words and does not know "half" or "a centimeter".
"""
from __future__ import annotations

import re

UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
        "eighty": 80, "ninety": 90}

_UNIT = "|".join(sorted(UNITS, key=len, reverse=True))
_TEN = "|".join(TENS)
_BELOW_100 = rf"(?:(?:{_TEN})(?:[\s-]+(?:{_UNIT}))?|(?:{_UNIT}))"
_BELOW_1000 = rf"(?:(?:{_UNIT})\s+hundred(?:\s+(?:and\s+)?{_BELOW_100})?|{_BELOW_100})"
_DIGIT_WORD = rf"(?:{_UNIT})"

#: Regex (no groups) for one number written in words; use with re.IGNORECASE.
WORD_NUMBER = (
    rf"(?:{_BELOW_1000}(?:\s+point(?:\s+{_DIGIT_WORD})+|\s+and\s+a\s+half)?"
    rf"|(?:one\s+|a\s+)?half(?:\s+an?)?|an?(?=\s+(?:centi|milli)))"
)


def parse_word_number(words: str) -> float | None:
    """Value of a number written in words, or None when the words are not one.

    >>> parse_word_number("eighteen"), parse_word_number("twenty-two"), parse_word_number("two point five")
    (18.0, 22.0, 2.5)
    """
    tokens = [t for t in re.split(r"[\s-]+", words.strip().lower()) if t]
    if not tokens:
        return None
    if tokens in (["a"], ["an"]):
        return 1.0
    if tokens[-1] in ("a", "an") and "half" in tokens:
        tokens = tokens[:-1]
    if tokens in (["half"], ["one", "half"], ["a", "half"]):
        return 0.5
    extra = 0.0
    if tokens[-3:] == ["and", "a", "half"]:
        tokens, extra = tokens[:-3], 0.5
    decimals = ""
    if "point" in tokens:
        i = tokens.index("point")
        digits = tokens[i + 1:]
        if not digits or any(d not in UNITS or UNITS[d] > 9 for d in digits):
            return None
        decimals = "".join(str(UNITS[d]) for d in digits)
        tokens = tokens[:i]
    total, current = 0, 0
    for tok in tokens:
        if tok in UNITS:
            current += UNITS[tok]
        elif tok in TENS:
            current += TENS[tok]
        elif tok == "hundred":
            current = (current or 1) * 100
        elif tok == "and":
            continue
        else:
            return None
    total += current
    value = float(f"{total}.{decimals}") if decimals else float(total)
    return value + extra
