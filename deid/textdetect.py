"""Find burned-in text in an image: a numpy/scipy detector, optionally confirmed by Tesseract.

The numpy detector is morphological text detection: a white top-hat (image minus its grey
opening) keeps thin bright strokes and drops anatomy wider than a glyph stroke; strong top-hat
pixels form glyph-sized connected components; glyphs that sit side by side on one line merge
(horizontal dilation) into line candidates, which must look like text (several glyphs, similar
heights, wider than tall, stroke density of lettering, and most stroke pixels of one ink value,
as rendered text is and bone or vessels are not). Tesseract (``tesseract`` binary through
``pytesseract``), when installed and asked for, reads each candidate line and keeps the ones it
reads as characters; it never sees whole images, so it costs only where the numpy stage already
suspects text.
"""

from __future__ import annotations

import functools
import shutil
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi


@dataclass(frozen=True)
class Box:
    """A pixel box, end exclusive (x: column, y: row)."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def area(self) -> int:
        return max(0, self.x1 - self.x0) * max(0, self.y1 - self.y0)


@dataclass(frozen=True)
class DetectorConfig:
    """Thresholds of the numpy detector (fractions of the image's dynamic range, pixels)."""

    stroke_width: int = 7  # opening size: structures narrower than this are candidate strokes
    contrast: float = 0.35  # top-hat threshold, fraction of (max - 1st percentile)
    min_glyph_h: int = 4
    max_glyph_h: int = 48
    min_glyphs: int = 2  # glyphs a line needs near the image border (labels, initials)
    min_glyphs_inside: int = 3  # glyphs a line needs away from the border
    border_band: float = 0.08  # share of width/height counted as the border band
    gap: int = 6  # horizontal gap bridged between glyphs of one line
    pad: int = 2  # margin added around a detected line
    ink_tolerance: float = 0.2  # stroke values within this share of the range count as one ink
    min_ink_share: float = 0.3  # share of stroke pixels that must be of the line's ink value


@functools.cache
def tesseract_available() -> bool:
    if shutil.which("tesseract") is None:
        return False
    try:
        import pytesseract

        pytesseract.get_tesseract_version()
        return True
    except Exception:
        return False


@functools.cache
def _cv2():
    """OpenCV when installed (its morphology is ~20x faster than scipy's here), else None."""
    try:
        import cv2

        return cv2
    except ImportError:
        return None


_CV2_DTYPES = frozenset({np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.int16), np.dtype(np.float32),
                         np.dtype(np.float64)})


def _opening(gray: np.ndarray, k: int) -> np.ndarray:
    """Grey opening with a k x k square (reflecting borders): OpenCV if available, else scipy;
    both give identical results."""
    cv2 = _cv2()
    if cv2 is not None and gray.dtype in _CV2_DTYPES:
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
        return cv2.morphologyEx(np.ascontiguousarray(gray), cv2.MORPH_OPEN, kernel, borderType=cv2.BORDER_REFLECT)
    return ndi.grey_opening(gray, size=(k, k))


def to_gray(frame: np.ndarray, monochrome1: bool = False) -> np.ndarray:
    """One channel where text is bright (colour: channel maximum; MONOCHROME1 inverted).

    Integer images stay integer (int32 when inversion or subtraction could overflow), which keeps
    the morphology cheap; anything else becomes float32."""
    a = frame
    if a.ndim == 3:
        a = a.max(axis=2)
    if a.dtype.kind not in "iu" or a.dtype.itemsize > 4:
        a = a.astype(np.float32)
    if monochrome1:
        a = a.astype(np.int64 if a.dtype.kind in "iu" else np.float32)
        a = a.max() - a
    return a


def candidate_lines(gray: np.ndarray, cfg: DetectorConfig = DetectorConfig()) -> list[tuple[Box, np.ndarray]]:
    """Line candidates and their stroke masks (cropped to the box)."""
    if gray.ndim != 2 or min(gray.shape) < 8:
        return []
    sample = gray[::4, ::4] if gray.size > 65536 else (gray[::2, ::2] if gray.size > 4096 else gray)
    flat = sample.ravel()
    lo = float(np.partition(flat, flat.size // 100)[flat.size // 100])  # 1st percentile
    hi = float(gray.max())
    if hi - lo <= 0:
        return []
    opened = _opening(gray, cfg.stroke_width)
    if gray.dtype.kind in "iu":  # top-hat in a wider integer type: no wrap-around
        tophat = gray.astype(np.int64) - opened
    else:
        tophat = gray - opened
    strokes = tophat > cfg.contrast * (hi - lo)
    if not strokes.any():
        return []
    labels, n = ndi.label(strokes, structure=np.ones((3, 3), bool))
    if n == 0:
        return []
    slices = ndi.find_objects(labels)
    keep = np.zeros(n + 1, bool)
    for i, sl in enumerate(slices, start=1):
        h = sl[0].stop - sl[0].start
        w = sl[1].stop - sl[1].start
        if 2 <= h <= cfg.max_glyph_h and w <= 3 * cfg.max_glyph_h:
            keep[i] = True
    glyphs = keep[labels]
    if not glyphs.any():
        return []
    lines = ndi.binary_dilation(glyphs, structure=np.ones((1, 2 * cfg.gap + 1), bool))
    line_labels, m = ndi.label(lines)
    out = []
    for sl in ndi.find_objects(line_labels):
        sub = glyphs[sl]
        rows = np.nonzero(sub.any(axis=1))[0]
        cols = np.nonzero(sub.any(axis=0))[0]
        if rows.size == 0:
            continue
        y0, y1 = sl[0].start + rows[0], sl[0].start + rows[-1] + 1
        x0, x1 = sl[1].start + cols[0], sl[1].start + cols[-1] + 1
        h, w = y1 - y0, x1 - x0
        if h < cfg.min_glyph_h or h > cfg.max_glyph_h or w < 1.5 * h:
            continue
        mask = glyphs[y0:y1, x0:x1]
        density = mask.mean()
        if not 0.08 <= density <= 0.75:
            continue
        _, n_glyphs = ndi.label(mask, structure=np.ones((3, 3), bool))
        if n_glyphs < cfg.min_glyphs:
            continue
        if n_glyphs < cfg.min_glyphs_inside and not _near_border(x0, y0, x1, y1, gray.shape, cfg.border_band):
            continue  # two blobs inside the image are more often bone or vessels than a label
        # burned-in text is drawn in one ink value; bone and vessels vary along their length
        ink = gray[y0:y1, x0:x1][mask]
        top = np.percentile(ink, 90)
        if np.mean(np.abs(ink - top) <= cfg.ink_tolerance * (hi - lo)) < cfg.min_ink_share:
            continue
        out.append((Box(int(x0), int(y0), int(x1), int(y1)), mask))
    return out


def _near_border(x0: int, y0: int, x1: int, y1: int, shape: tuple[int, ...], band: float) -> bool:
    h, w = shape[:2]
    return y0 < band * h or y1 > (1 - band) * h or x0 < band * w or x1 > (1 - band) * w


def _pad(box: Box, shape: tuple[int, int], pad: int) -> Box:
    return Box(max(0, box.x0 - pad), max(0, box.y0 - pad), min(shape[1], box.x1 + pad), min(shape[0], box.y1 + pad))


def _tesseract_reads_text(gray: np.ndarray, box: Box) -> bool:
    """Does Tesseract read at least two characters, with some confidence, in this line?"""
    import pytesseract
    from PIL import Image

    crop = gray[max(0, box.y0 - 4): box.y1 + 4, max(0, box.x0 - 4): box.x1 + 4]
    lo, hi = float(crop.min()), float(crop.max())
    if hi <= lo:
        return False
    img = (255 - (crop - lo) / (hi - lo) * 255).astype(np.uint8)  # dark text on white
    scale = max(1, int(round(32 / max(1, box.y1 - box.y0))))
    pil = Image.fromarray(img).resize((img.shape[1] * scale, img.shape[0] * scale), Image.Resampling.NEAREST)
    data = pytesseract.image_to_data(pil, config="--psm 7", output_type=pytesseract.Output.DICT)
    chars = 0
    for word, conf in zip(data["text"], data["conf"]):
        word = "".join(c for c in str(word) if c.isalnum())
        if word and float(conf) >= 30:
            chars += len(word)
    return chars >= 2


def detect_text(frame: np.ndarray, *, method: str = "numpy", monochrome1: bool = False,
                cfg: DetectorConfig = DetectorConfig()) -> list[Box]:
    """Boxes (padded) of burned-in text lines in one frame. ``method``: numpy, tesseract, auto."""
    gray = to_gray(frame, monochrome1)
    cands = candidate_lines(gray, cfg)
    if method == "auto":
        method = "tesseract" if tesseract_available() else "numpy"
    boxes = []
    for box, _ in cands:
        if method == "tesseract" and not _tesseract_reads_text(gray, box):
            continue
        boxes.append(_pad(box, gray.shape, cfg.pad))
    return boxes
