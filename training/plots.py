"""PNG figures for a run (ROC and calibration curves, loss curves, example predictions).

``training/`` may import only torch, numpy, pyarrow and pandas (+ MONAI) so that it runs on a bare
GPU machine; matplotlib is not among them. These figures are therefore drawn on a numpy canvas with
a 3x5 pixel font and written with zlib: lines, axes with labelled limits, a legend, image tiles.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np

_FONT = {  # 3x5 glyphs, rows top to bottom
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001001010010",
    "8": "111101111101111", "9": "111101111001111", "A": "010101111101101", "B": "110101110101110",
    "C": "011100100100011", "D": "110101101101110", "E": "111100110100111", "F": "111100110100100",
    "G": "011100101101011", "H": "101101111101101", "I": "111010010010111", "J": "001001001101010",
    "K": "101101110101101", "L": "100100100100111", "M": "101111111101101", "N": "110101101101101",
    "O": "010101101101010", "P": "110101110100100", "Q": "010101101110011", "R": "110101110101101",
    "S": "011100010001110", "T": "111010010010010", "U": "101101101101111", "V": "101101101101010",
    "W": "101101111111101", "X": "101101010101101", "Y": "101101010010010", "Z": "111001010100111",
    ".": "000000000000010", "-": "000000111000000", "_": "000000000000111", ":": "000010000010000",
    "/": "001001010100100", "(": "010100100100010", ")": "010001001001010", "%": "101001010100101",
    ",": "000000000010100", "=": "000111000111000", "+": "000010111010000", "[": "110100100100110",
    "]": "011001001001011", " ": "000000000000000",
}
COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
          (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def write_png(path: str | Path, rgb: np.ndarray) -> None:
    """Write an HxWx3 uint8 array as an 8-bit RGB PNG."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
    Path(path).write_bytes(png)


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.px = np.full((height, width, 3), 255, dtype=np.uint8)

    def text(self, x: int, y: int, s: str, color=(0, 0, 0), scale: int = 2) -> None:
        for i, ch in enumerate(s.upper()):
            g = _FONT.get(ch, _FONT[" "])
            for k, bit in enumerate(g):
                if bit == "1":
                    r, c = divmod(k, 3)
                    y0, x0 = y + r * scale, x + (i * 4 + c) * scale
                    self.px[max(y0, 0):max(y0 + scale, 0), max(x0, 0):max(x0 + scale, 0)] = color

    def line(self, x0: float, y0: float, x1: float, y1: float, color, width: int = 1) -> None:
        n = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
        xs, ys = np.linspace(x0, x1, n).round().astype(int), np.linspace(y0, y1, n).round().astype(int)
        h, w, _ = self.px.shape
        for d in range(-(width // 2), width - width // 2):
            for a, b in ((xs + d, ys), (xs, ys + d)):
                ok = (a >= 0) & (a < w) & (b >= 0) & (b < h)
                self.px[b[ok], a[ok]] = color

    def image(self, x: int, y: int, img: np.ndarray, size: int) -> None:
        """Paste a [0,1] grey image (or HxWx3 uint8) scaled to ``size`` x ``size`` (nearest)."""
        h, w = img.shape[:2]
        ri, ci = (np.arange(size) * h // size), (np.arange(size) * w // size)
        tile = img[ri][:, ci]
        if tile.ndim == 2:
            tile = np.repeat((np.clip(tile, 0, 1) * 255).astype(np.uint8)[..., None], 3, axis=2)
        self.px[y:y + size, x:x + size] = tile


def line_plot(path: str | Path, series: Sequence[tuple[str, Sequence[float], Sequence[float]]], title: str,
              xlabel: str, ylabel: str, xlim=None, ylim=None, diagonal: bool = False) -> None:
    """A line chart with a legend; ``diagonal`` draws y = x (ROC chance, perfect calibration)."""
    W, H, L, R, T, B = 560, 400, 60, 180, 30, 40
    c = Canvas(W, H)
    allx = np.concatenate([np.asarray(s[1], float) for s in series if len(s[1])] or [np.zeros(1)])
    ally = np.concatenate([np.asarray(s[2], float) for s in series if len(s[2])] or [np.zeros(1)])
    allx, ally = allx[np.isfinite(allx)], ally[np.isfinite(ally)]
    x0, x1 = xlim or (float(allx.min()) if allx.size else 0.0, float(allx.max()) if allx.size else 1.0)
    y0, y1 = ylim or (float(ally.min()) if ally.size else 0.0, float(ally.max()) if ally.size else 1.0)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)
    px = lambda v: L + (v - x0) / (x1 - x0) * (W - L - R)  # noqa: E731
    py = lambda v: H - B - (v - y0) / (y1 - y0) * (H - T - B)  # noqa: E731
    grey = (160, 160, 160)
    c.line(L, H - B, W - R, H - B, (0, 0, 0))
    c.line(L, T, L, H - B, (0, 0, 0))
    if diagonal:
        c.line(px(max(x0, y0)), py(max(x0, y0)), px(min(x1, y1)), py(min(x1, y1)), grey)
    for v in np.linspace(x0, x1, 5):
        c.line(px(v), H - B, px(v), H - B + 4, (0, 0, 0))
        c.text(int(px(v)) - 10, H - B + 8, f"{v:.3g}")
    for v in np.linspace(y0, y1, 5):
        c.line(L - 4, py(v), L, py(v), (0, 0, 0))
        c.text(4, int(py(v)) - 5, f"{v:.3g}")
    c.text(L, 2, title)
    c.text((L + W - R) // 2 - 4 * len(xlabel), H - 14, xlabel)
    c.text(4, T - 14, ylabel)
    for i, (label, xs, ys) in enumerate(series):
        col = COLORS[i % len(COLORS)]
        xs, ys = np.asarray(xs, float), np.asarray(ys, float)
        ok = np.isfinite(xs) & np.isfinite(ys)
        xs, ys = xs[ok], ys[ok]
        for j in range(len(xs) - 1):
            c.line(px(xs[j]), py(ys[j]), px(xs[j + 1]), py(ys[j + 1]), col, width=2)
        if len(xs) == 1:
            c.line(px(xs[0]) - 2, py(ys[0]), px(xs[0]) + 2, py(ys[0]), col, width=3)
        c.line(W - R + 10, T + 6 + 14 * i, W - R + 24, T + 6 + 14 * i, col, width=3)
        c.text(W - R + 30, T + 1 + 14 * i, label[:18], col)
    write_png(path, c.px)


def overlay(img: np.ndarray, masks: Sequence[tuple[np.ndarray, tuple[int, int, int]]]) -> np.ndarray:
    """A [0,1] grey image as RGB with the outline of each (mask, color) drawn on it."""
    rgb = np.repeat((np.clip(img, 0, 1) * 255).astype(np.uint8)[..., None], 3, axis=2)
    for m, col in masks:
        m = m.astype(bool)
        inner = m.copy()
        inner[1:] &= m[:-1]
        inner[:-1] &= m[1:]
        inner[:, 1:] &= m[:, :-1]
        inner[:, :-1] &= m[:, 1:]
        rgb[m & ~inner] = col
    return rgb


def tiles(path: str | Path, rows: Sequence[Sequence[np.ndarray]], headers: Sequence[str], title: str,
          size: int = 128) -> None:
    """A grid of images: one row per example, one column per header."""
    pad, top = 8, 40
    W = pad + len(headers) * (size + pad)
    H = top + len(rows) * (size + pad)
    c = Canvas(max(W, 8 * len(title) + 16), H)
    c.text(pad, 6, title)
    for j, h in enumerate(headers):
        c.text(pad + j * (size + pad), 24, h[:16])
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            c.image(pad + j * (size + pad), top + i * (size + pad), img, size)
    write_png(path, c.px)
