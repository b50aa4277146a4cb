"""Deterministic typed surrogates: realistic fakes that keep a value's shape.

The same original value always gives the same fake (a keyed BLAKE2b hash of kind and value, the
key coming from the project Keyer or any salt), so a name repeated in a report, or across reports
of one patient, is replaced consistently, and nobody without the key can map fakes back.
Fakes are drawn from uncommon names, the reserved 555-01xx phone range, ``example.org`` and
fictional streets, so a fake never collides with a real-looking planted value.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

FAKE_FIRST = ["Alden", "Briar", "Caspian", "Delphine", "Ellery", "Fenwick", "Gwendolyn", "Hollis",
              "Imogen", "Jasper", "Kestrel", "Linnea", "Marlowe", "Nerys", "Orrin", "Perpetua",
              "Quillon", "Rosalind", "Sorrel", "Tamsin", "Ulric", "Verity", "Wystan", "Xanthe",
              "Yorick", "Zephyrine", "Anselm", "Bettina", "Crispin", "Dulcie"]
FAKE_LAST = ["Ashdown", "Brightwater", "Corrigan", "Dunmore", "Elphick", "Fairweather", "Gorringe",
             "Hawthorne", "Ivesley", "Jellicoe", "Kilbride", "Lowther", "Merriweather", "Northcott",
             "Oakeshott", "Pennington", "Quarrington", "Rookwood", "Saltonstall", "Thistlewood",
             "Underhill", "Vandermeer", "Wetherby", "Yardley", "Zouche", "Abernethy", "Blakiston",
             "Cholmondeley", "Dimmock", "Esterhuizen"]
FAKE_STREETS = ["Larkspur", "Juniper Hollow", "Foxglove", "Quarry Hill", "Wrenfield", "Ambleside",
                "Cobblestone", "Thornbury", "Willowmere", "Heatherlea"]
FAKE_CITIES = ["Eastbrook", "Millbourne", "Stonehaven", "Westmarch", "Brackenridge", "Ferndale Vale"]
FAKE_INSTITUTIONS = ["Northvale General Hospital", "Harborview Community Clinic",
                     "Silverlake Medical Center", "Ashford Regional Hospital", "Pinecrest Health Center"]

_TOKEN_RE = re.compile(r"[A-Za-z][A-Za-z'\-]*|\d+")


def _match_case(fake: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return fake.upper()
    if like.islower():
        return fake.lower()
    return fake


@dataclass(frozen=True)
class Surrogates:
    """Typed fakes keyed by ``salt`` (use ``Keyer.digest('surrogate', 'salt')`` for a project key)."""

    salt: bytes = b""

    def _h(self, kind: str, value: str) -> int:
        h = hashlib.blake2b(f"{kind}\x1f{value.strip().lower()}".encode("utf-8", "surrogateescape"),
                            key=self.salt[:64], digest_size=16)
        return int.from_bytes(h.digest(), "big")

    def _pick(self, options: list[str], kind: str, value: str) -> str:
        return options[self._h(kind, value) % len(options)]

    def _stream(self, kind: str, value: str, n: int) -> bytes:
        out, i = b"", 0
        while len(out) < n:
            out += hashlib.blake2b(f"{kind}\x1f{i}\x1f{value.strip().lower()}".encode("utf-8", "surrogateescape"),
                                   key=self.salt[:64]).digest()
            i += 1
        return out

    def _reshape(self, kind: str, value: str) -> str:
        """Same length and layout: digits to digits, letters to letters (case kept)."""
        out = []
        for ch, b in zip(value, self._stream(kind, value, len(value))):
            if ch.isdigit():
                out.append(str(b % 10))
            elif ch.isascii() and ch.isalpha():
                c = chr(ord("A") + b % 26)
                out.append(c if ch.isupper() else c.lower())
            else:
                out.append(ch)
        return "".join(out)

    def name(self, text: str, given: frozenset[str] = frozenset()) -> str:
        """Each word of a name to a fake given or family name; initials to a letter; case kept."""
        def one(m: re.Match) -> str:
            tok = m.group(0)
            if len(tok) == 1:
                return chr(ord("A") + self._h("initial", tok) % 26) if tok.isupper() else tok
            low = tok.lower()
            pool = FAKE_FIRST if low in given else FAKE_LAST
            return _match_case(self._pick(pool, "name", low), tok)
        return _TOKEN_RE.sub(one, text)

    def ident(self, text: str) -> str:
        return self._reshape("id", text)

    def phone(self, text: str) -> str:
        """Keeps the layout; the last seven digits become 555-01xx (reserved for fiction)."""
        digits = [i for i, c in enumerate(text) if c.isdigit()]
        out = list(self._reshape("phone", text))
        if len(digits) >= 7:
            tail = digits[-7:]
            fixed = "55501" + f"{self._h('phone4', text) % 100:02d}"
            for i, d in zip(tail, fixed):
                out[i] = d
        return "".join(out)

    def email(self, text: str) -> str:
        first = self._pick(FAKE_FIRST, "email1", text).lower()
        last = self._pick(FAKE_LAST, "email2", text).lower()
        return f"{first}.{last}@example.org"

    def url(self, text: str) -> str:
        return f"www.example.org/{self._h('url', text) % 10**6:06d}"

    def address(self, text: str) -> str:
        street = self._pick(FAKE_STREETS, "street", text)
        city = self._pick(FAKE_CITIES, "city", text)
        num = self._h("addrnum", text) % 9000 + 100
        if any(c.isalpha() for c in text.split(",")[0]) and any(c.isdigit() for c in text[:6]):
            return f"{num} {street} Way" + (f", {city}" if "," in text else "")
        return city if not any(c.isdigit() for c in text) else self._reshape("zip", text)

    def institution(self, text: str) -> str:
        return self._pick(FAKE_INSTITUTIONS, "institution", text)

    def time(self, text: str) -> str:
        """A fake clock time in the same layout (hours stay valid hours)."""
        n = self._h("time", text)
        def hour(m: re.Match) -> str:
            h = int(m.group(1))
            width = len(m.group(1))
            new = (n % 12) + 1 if h <= 12 and re.search(r"[AaPp]\.?[Mm]", text) else n % 24
            return f"{new:0{width}d}" + m.group(2)
        out = re.sub(r"^(\d{1,2})(\D|$)", hour, text, count=1)
        out = re.sub(r"(?<=:)\d{2}", lambda m: f"{(n >> 8) % 60:02d}", out, count=1)
        if re.fullmatch(r"\d{4}.*", text):  # 1432 hours
            out = f"{n % 24:02d}{(n >> 8) % 60:02d}" + text[4:]
        return out

    def fake(self, kind: str, text: str, given: frozenset[str] = frozenset()) -> str:
        """The surrogate for ``text`` of a PHI ``kind``."""
        if kind == "name":
            return self.name(text, given)
        if kind == "phone":
            return self.phone(text)
        if kind == "email":
            return self.email(text)
        if kind == "url":
            return self.url(text)
        if kind == "address":
            return self.address(text)
        if kind == "institution":
            return self.institution(text)
        if kind == "time":
            return self.time(text)
        return self.ident(text)
