"""Scrub PHI from free-text radiology reports, keeping the clinical content.

``scrub_text`` finds every PHI span (the patient's own known names, IDs and dates; staff names by
context; dates, times, phones, e-mail and web addresses, street addresses, institutions, ages over
the cap and ID-like numbers by shape), resolves overlaps, and rewrites the text: dates are shifted
by the patient's shift with their original format, ages over the cap become "90+", everything
else becomes a typed tag (``[NAME]``) or a deterministic realistic fake.

Detectors are compiled regular expressions (see ``patterns`` for why not spaCy); rules that could
hit clinical text (numbers, capitalised words) are guarded by word lists and context so that
measurements, series/image numbers, vertebral levels and anatomy survive. The work is split by
concern: ``scrub_known`` (the patient's known PHI), ``scrub_scan`` (anchored scanning),
``scrub_identifiers`` (IDs, contacts, places, times, ages), ``scrub_dates``, ``scrub_names`` and
``scrub_spans`` (overlap resolution); ``DETECTORS`` below is the table of what runs, in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, NamedTuple

from radcurate.deid import scrub_identifiers as ids
from radcurate.deid.scrub_dates import find_dates, is_birth_date, shifted_date
from radcurate.deid.scrub_known import KnownPHI, known_matcher, name_parts
from radcurate.deid.scrub_names import find_names, given_tokens
from radcurate.deid.scrub_scan import Scan
from radcurate.deid.scrub_spans import KINDS, TAGS, Span, resolve
from radcurate.deid.surrogates import Surrogates

__all__ = ["DETECTORS", "KINDS", "TAGS", "KnownPHI", "ScrubConfig", "ScrubResult", "find_phi", "name_parts",
           "scrub_text"]

@dataclass(frozen=True)
class ScrubConfig:
    """How reports are scrubbed.

    style: 'tag' writes ``[NAME]``, ``[ID]``...; 'fake' writes deterministic realistic surrogates
    (keyed by ``surrogate_salt``). kinds: the PHI kinds to remove (others are left as written).
    dates: 'shift' moves dates by the patient's shift in their own format; 'tag' writes ``[DATE]``.
    years: a year standing alone ("in 2015") is kept (HIPAA Safe Harbor allows years), shifted
    with the patient's shift, or tagged. ages over ``age_cap`` become "90+" (cap + 1).
    day_first reads 03/04/2021 as 3 April (default: US month first).
    """

    style: Literal["tag", "fake"] = "tag"
    kinds: frozenset[str] = frozenset(KINDS)
    dates: Literal["shift", "tag"] = "shift"
    years: Literal["keep", "shift", "tag"] = "keep"
    age_cap: int = 89
    day_first: bool = False
    surrogate_salt: bytes = b""

    def __post_init__(self):
        if self.style not in ("tag", "fake"):
            raise ValueError(f"ScrubConfig.style must be 'tag' or 'fake', not {self.style!r}")
        if self.dates not in ("shift", "tag"):
            raise ValueError(f"ScrubConfig.dates must be 'shift' or 'tag', not {self.dates!r}")
        if self.years not in ("keep", "shift", "tag"):
            raise ValueError(f"ScrubConfig.years must be 'keep', 'shift' or 'tag', not {self.years!r}")
        unknown = set(self.kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"ScrubConfig.kinds has unknown kinds {sorted(unknown)}; known: {list(KINDS)}")
        object.__setattr__(self, "kinds", frozenset(self.kinds))


@dataclass(frozen=True)
class ScrubResult:
    """Scrubbed ``text`` and the ``spans`` (start, end, kind) removed from the input text."""

    text: str
    spans: list[tuple[int, int, str]]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, _, k in self.spans:
            out[k] = out.get(k, 0) + 1
        return out



class Detector(NamedTuple):
    """One PHI detector: its name, whether it needs a digit in the text, and the function."""

    name: str
    needs_digits: bool
    find: Callable[[ids.Found], list[Span]]


# What runs, in order (the order settles ties between equally strong detections of one span).
DETECTORS: tuple[Detector, ...] = (
    Detector("known_other", False, ids.known_other),
    Detector("known_ids", False, ids.known_ids),
    Detector("emails", False, ids.emails),
    Detector("urls", False, ids.urls),
    Detector("context_ids", False, ids.context_ids),
    Detector("institutions", False, ids.institutions),
    Detector("ages_in_words", False, ids.ages_in_words),
    Detector("ssns", True, ids.ssns),
    Detector("phones", True, ids.phones),
    Detector("addresses", True, ids.addresses),
    Detector("times", True, ids.times),
    Detector("shaped_ids", True, ids.shaped_ids),
    Detector("ages", True, ids.ages),
    Detector("dates", True, lambda f: find_dates(f.scan, f.cfg)),
    Detector("names", False, lambda f: find_names(f.scan, f.known)),
)


def _replacement(text: str, sp: Span, shift_days: int, cfg: ScrubConfig, sur: Surrogates,
                 given: frozenset, birth_dates: frozenset = frozenset()) -> str:
    original = text[sp.start:sp.end]
    if sp.kind == "date" and is_birth_date(text, sp, birth_dates):
        return TAGS["birth_date"]
    if sp.kind == "age":
        return f"{cfg.age_cap + 1:03d}" if sp.info == "dicom" else f"{cfg.age_cap + 1}+"
    if sp.kind == "date" and cfg.dates == "shift" and not sp.merged and sp.info is not None:
        return shifted_date(text, sp, shift_days, cfg.years)
    if cfg.style == "fake" and sp.kind != "date":
        fake = sur.fake(sp.kind, original, given)
        for n in range(1, 20):  # a fake must not read as another value of this very text
            if fake not in text:
                break
            fake = Surrogates(sur.salt + bytes([n])).fake(sp.kind, original, given)
        return fake
    return TAGS.get(sp.kind, "[REDACTED]")


def find_phi(text: str, known: KnownPHI | None = None, config: ScrubConfig = ScrubConfig(),
             exhaustive: bool = False) -> list[Span]:
    """All PHI spans of ``text`` after overlap resolution (internal detail of ``scrub_text``)."""
    found = ids.Found(Scan(text, exhaustive), known_matcher(known), config)
    has_digits = "digit" in found.scan.hints
    spans: list[Span] = []
    for detector in DETECTORS:
        if has_digits or not detector.needs_digits:
            spans += detector.find(found)
    return resolve([s for s in spans if s.kind in config.kinds])


def scrub_text(text: str, known: KnownPHI | None = None, *, shift_days: int = 0,
               config: ScrubConfig = ScrubConfig()) -> ScrubResult:
    """Remove PHI from one report text.

    ``known`` is the patient's PHI from the RIS row and DICOM headers (removed in any written
    form); ``shift_days`` the patient's date shift (``Keyer.date_shift_days``), applied to every
    date so intervals survive. Returns the clean text and the removed spans (kinds, not values).
    """
    if not isinstance(text, str) or not text:
        return ScrubResult("" if not isinstance(text, str) else text, [])
    spans = find_phi(text, known, config)
    k = known_matcher(known)
    sur = Surrogates(config.surrogate_salt)
    given = given_tokens(k)
    out, pos = [], 0
    for sp in spans:
        out.append(text[pos:sp.start])
        out.append(_replacement(text, sp, shift_days, config, sur, given, k.birth_dates))
        pos = sp.end
    out.append(text[pos:])
    return ScrubResult("".join(out), [(s.start, s.end, s.kind) for s in spans])
