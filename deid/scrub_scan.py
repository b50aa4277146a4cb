"""Anchored scanning: where report-scrubbing patterns can match in one text.

One pass over the text's words and one over its digit runs give every detector its anchors, so each
pattern is tried only there instead of at every character (thousands of reports per second in pure
Python); ``exhaustive`` tries every pattern everywhere (the reference the tests compare against).
"""

from __future__ import annotations

import re
from bisect import bisect_right

import numpy as np

from radcurate.deid import patterns as P

_ID_SEP = re.compile(r"[ \t\n\r\f\v\-./]")
_ID_SEP_LUT = np.zeros(128, dtype=bool)  # ASCII code -> is an ID separator
_ID_SEP_LUT[[ord(c) for c in " \t\n\r\f\v-./"]] = True
_DIGIT_RUN = re.compile(r"\d+")

class Scan:
    """Where patterns can match in one text, from one pass over its words and one over its digits.

    Each family's pattern is then tried only at its anchors (a keyword, a digit run, a title) instead
    of at every character, which is what makes scrubbing thousands of reports per second possible in
    pure Python. ``exhaustive`` scans every pattern over the whole text instead (the reference the
    tests compare against).
    """

    def __init__(self, text: str, exhaustive: bool = False):
        self.text = text
        low = text.lower()
        if len(low) != len(text):  # "İ" lower-cases to two characters: keep positions aligned
            low = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
        self.low = low
        self.exhaustive = exhaustive
        self._squeezed: tuple[str, list[int]] | None = None
        self.present = frozenset(P.WORD_RE.findall(low))
        self._pos: dict[str, list[int]] = {}
        self.digits = [m.span() for m in _DIGIT_RUN.finditer(text)]
        present = self.present
        self.hints = frozenset(k for k, ws in P.HINT_WORDS.items() if not present.isdisjoint(ws))
        if self.digits:
            self.hints |= {"digit"}

    def find_squeezed(self, needle: str) -> list[tuple[int, int]]:
        """Spans of ``needle`` (lower case) in the text, ignoring spaces, dashes, dots and slashes
        between its characters, and not inside a longer run of letters or digits."""
        if self._squeezed is None:
            codes = np.frombuffer(self.low.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            seps = np.flatnonzero(_ID_SEP_LUT[np.minimum(codes, 127)])
            # squeezed index k sits at original index k + (number of separators whose shifted
            # position seps[i] - i is <= k)
            self._squeezed = (_ID_SEP.sub("", self.low), (seps - np.arange(len(seps))).tolist())
        sq, offs = self._squeezed
        text, out, n = self.text, [], len(needle)
        i = sq.find(needle)
        while i >= 0:
            start = i + bisect_right(offs, i)
            end = i + n - 1 + bisect_right(offs, i + n - 1) + 1
            if (start == 0 or not text[start - 1].isalnum()) and (end == len(text) or not text[end].isalnum()):
                out.append((start, end))
            i = sq.find(needle, i + 1)
        return out

    def find_exact(self, needle: str) -> list[tuple[int, int]]:
        """Spans of ``needle`` (lower case) as written, not inside a longer run of letters or digits."""
        text, low, out, n = self.text, self.low, [], len(needle)
        i = low.find(needle)
        while i >= 0:
            if (i == 0 or not text[i - 1].isalnum()) and (i + n == len(text) or not text[i + n].isalnum()):
                out.append((i, i + n))
            i = low.find(needle, i + 1)
        return out

    def positions(self, word: str) -> list[int]:
        """Start positions of ``word`` (lower case letters) as a whole word."""
        pos = self._pos.get(word)
        if pos is None:
            pos, low, n, i = [], self.low, len(word), self.low.find(word)
            while i >= 0:
                if (i == 0 or not ("a" <= low[i - 1] <= "z")) and not ("a" <= low[i + n:i + n + 1] <= "z"):
                    pos.append(i)
                i = low.find(word, i + 1)
            self._pos[word] = pos
        return pos

    def at(self, vocab: frozenset) -> list[int]:
        """Start positions of the words of ``vocab`` (lower case) in the text."""
        out: list[int] = []
        for w in self.present & vocab:
            out += self.positions(w)
        return sorted(out)

    def hits(self, rx: re.Pattern, anchors, back: int = 0, fwd: int = 0):
        """Matches of ``rx``: starting at each anchor, or (with back/fwd) in a window around it
        that cover the anchor. Exhaustive mode: every match in the text."""
        text = self.text
        if self.exhaustive:
            yield from rx.finditer(text)
            return
        seen = set()
        n = len(text)
        for p in anchors:
            if back or fwd:
                lo, hi = max(0, p - back), min(n, p + fwd)
                while lo > 0 and text[lo - 1].isalnum():
                    lo -= 1
                while hi < n and text[hi].isalnum():
                    hi += 1
                ms = [m for m in rx.finditer(text, lo, hi) if m.start() <= p < m.end()]
            else:
                m = rx.match(text, p)
                ms = [m] if m else []
            for m in ms:
                if m.span() not in seen:
                    seen.add(m.span())
                    yield m

