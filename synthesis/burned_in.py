"""Burned-in annotations: patient text rendered into the pixels, as old modalities and scanned
films do, with the exact pixel box of each line so de-identification can be scored."""

from __future__ import annotations

import unicodedata

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def burn_text(pixels: np.ndarray, lines: list[str], value: int, font_px: int,
              origin: tuple[int, int] = (4, 4), background: int | None = None) -> list[tuple[int, int, int, int, str]]:
    """Draw ``lines`` into ``pixels`` (in place) at ``value``; return (x0, y0, x1, y1, text) per line.

    Boxes are measured from the drawn pixels themselves (end exclusive), so they hold every pixel
    the text changed. With ``background`` the text sits on a filled label box (as on radiographs,
    where it would otherwise vanish into bright anatomy); the box holds no text beyond the boxes.
    """
    h, w = pixels.shape
    font = ImageFont.load_default(size=font_px)
    masks = []
    x, y = origin
    for text in lines:
        canvas = Image.new("L", (w, h), 0)
        ImageDraw.Draw(canvas).text((x, y), text, fill=255, font=font)
        mask = np.asarray(canvas) >= 128
        if mask.any():
            masks.append((mask, text))
        y += int(font_px * 1.25)
    if background is not None and masks:
        rows, cols = np.nonzero(np.logical_or.reduce([m for m, _ in masks]))
        pixels[max(0, rows.min() - 4):rows.max() + 5, max(0, cols.min() - 4):cols.max() + 5] = background
    boxes = []
    for mask, text in masks:
        rows, cols = np.nonzero(mask)
        pixels[mask] = value
        boxes.append((int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1, text))
    return boxes


def ascii_fold(text: str) -> str:
    """Text as a modality's character generator renders it: accents dropped (García -> Garcia)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def fit_name(last: str, first: str, max_chars: int) -> str:
    """``LAST, FIRST`` shortened to ``LAST, F`` or ``LAST`` when the image is narrow (ASCII only)."""
    last, first = ascii_fold(last), ascii_fold(first)
    for cand in (f"{last.upper()}, {first.upper()}", f"{last.upper()}, {first[0].upper()}", last.upper()):
        if len(cand) <= max_chars:
            return cand
    return last.upper()[:max_chars]
