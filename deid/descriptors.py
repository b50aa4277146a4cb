"""Clean Descriptors: free-text header values scrubbed with the report scrubber, then checked.

Descriptions and comments (Study Description, Series Description, Image Comments, ...) keep their
clinical meaning ("CT CHEST W CONTRAST", "AXIAL 5MM") but sometimes carry a name, an MRN or a
date. They go through :func:`radcurate.deid.text_scrub.scrub_text` with the file's known PHI
(names in every written form, IDs, dates shifted by the patient's shift). Unlisted free text
(Manufacturer, model names, code meanings, ...) is only scrubbed when a cheap test finds a known
value or a PHI shape in it. After scrubbing, any known value still present means the value is
dropped: the stage never relies on the scrubber alone for a value it already knows.
Results are cached per (text, patient) within a worker, since the same descriptions repeat across
a series.
"""

from __future__ import annotations

from .known import PHI_SHAPES, FilePHI

_MAX_CACHE = 50_000


class TextCleaner:
    """Scrubs header free text; holds a bounded per-worker cache and the scrubber config."""

    def __init__(self, scrub_config=None):
        self._config = scrub_config
        self._cache: dict[tuple[str, tuple[str, ...], int, bool], str | None] = {}

    def clean(self, text: str, known: FilePHI, shift_days: int, *, force: bool) -> str | None:
        """The cleaned text; ``None`` when nothing safe is left (the caller empties the element).

        ``force``: always scrub (Clean Descriptors); otherwise scrub only when a known value or a
        PHI shape is present, and keep the value unchanged when neither is.
        """
        if not text.strip():
            return text
        leaks = known.leaks(text)
        if not force and not leaks and not PHI_SHAPES.search(text):
            return text
        key = (text, known.needles(), shift_days, force)
        if key in self._cache:
            return self._cache[key]
        from .text_scrub import ScrubConfig, scrub_text

        config = self._config if self._config is not None else ScrubConfig()
        out = scrub_text(text, known.to_known(), shift_days=shift_days, config=config).text
        if known.leaks(out):
            out = None
        if len(self._cache) >= _MAX_CACHE:
            self._cache.clear()
        self._cache[key] = out
        return out
