"""Weak lesion masks from a RECIST cross: an ellipse through its endpoints, and a GrabCut refinement.

The ellipse (centre where the axes meet, semi-axes half the two diameters, oriented along the long
axis) is the usual baseline. The refinement follows Cai et al. (MICCAI 2018): GrabCut inside the
lesion's box, seeded with the cross as sure foreground, the ellipse as probable foreground, a ring
around it as probable background and the rest of the box as sure background; OpenCV's GrabCut
(``cv2.grabCut``) does the work on a windowed 8-bit copy of the slice.
"""

from __future__ import annotations

import math

import numpy as np


def cross_center(long: np.ndarray, short: np.ndarray | None) -> np.ndarray:
    """Where the two axes cross (their mean point when they are parallel or missing)."""
    if short is None:
        return long.mean(axis=0)
    p, r = long[0], long[1] - long[0]
    q, s = short[0], short[1] - short[0]
    den = r[0] * s[1] - r[1] * s[0]
    if abs(den) < 1e-9:
        return np.vstack([long, short]).mean(axis=0)
    t = ((q - p)[0] * s[1] - (q - p)[1] * s[0]) / den
    return p + t * r


def box_of(long: np.ndarray, short: np.ndarray | None, rows: int, cols: int, margin: float = 0.15) -> tuple[int, int, int, int]:
    """Pixel box (x0, y0, x1, y1; end-exclusive) around the cross, grown by ``margin`` of the long
    axis plus two pixels, clipped to the image."""
    pts = long if short is None else np.vstack([long, short])
    if short is None:  # only a long axis: assume a round lesion
        c, half = long.mean(axis=0), np.linalg.norm(long[1] - long[0]) / 2
        pts = np.vstack([pts, c - half, c + half])
    grow = margin * float(np.linalg.norm(long[1] - long[0])) + 2.0
    x0 = int(max(0, math.floor(pts[:, 0].min() - grow)))
    y0 = int(max(0, math.floor(pts[:, 1].min() - grow)))
    x1 = int(min(cols, math.ceil(pts[:, 0].max() + grow)))
    y1 = int(min(rows, math.ceil(pts[:, 1].max() + grow)))
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def ellipse_mask(long: np.ndarray, short: np.ndarray | None, box: tuple[int, int, int, int],
                 scale: float = 1.0) -> np.ndarray:
    """uint8 0/1 mask over ``box``: pixels whose centre lies in the ellipse through the cross."""
    x0, y0, x1, y1 = box
    c = cross_center(long, short)
    d = long[1] - long[0]
    a = np.linalg.norm(d) / 2 * scale
    b = (np.linalg.norm(short[1] - short[0]) / 2 if short is not None else a / scale) * scale
    theta = math.atan2(d[1], d[0])
    xs = np.arange(x0, x1) + 0.5  # pixel centres in the annotation's coordinate system
    ys = np.arange(y0, y1) + 0.5
    px, py = xs[None, :] - c[0], ys[:, None] - c[1]
    u = px * math.cos(theta) + py * math.sin(theta)
    v = -px * math.sin(theta) + py * math.cos(theta)
    return (((u / max(a, 1e-6)) ** 2 + (v / max(b, 1e-6)) ** 2) <= 1.0).astype(np.uint8)


def _cross_pixels(long, short, box, shape) -> np.ndarray:
    import cv2

    x0, y0 = box[0], box[1]
    img = np.zeros(shape, np.uint8)
    for ax in (long, short):
        if ax is None:
            continue
        p0 = tuple(int(round(v)) for v in (ax[0, 0] - 0.5 - x0, ax[0, 1] - 0.5 - y0))
        p1 = tuple(int(round(v)) for v in (ax[1, 0] - 0.5 - x0, ax[1, 1] - 0.5 - y0))
        cv2.line(img, p0, p1, 1, 1)
    # the drawn endpoints can sit just outside the lesion (reader error): keep the inner 80 %
    return img & ellipse_mask(long, short, box, scale=0.8)


def window(hu: np.ndarray, low: float = -1000.0, high: float = 400.0) -> np.ndarray:
    """HU -> uint8 (lung-to-soft-tissue window), as GrabCut needs 8-bit colour input."""
    return (np.clip((hu - low) / (high - low), 0, 1) * 255).astype(np.uint8)


def grabcut_mask(image: np.ndarray, long: np.ndarray, short: np.ndarray | None,
                 box: tuple[int, int, int, int], iterations: int = 5) -> np.ndarray:
    """uint8 0/1 mask over ``box`` refined by GrabCut from the cross (``image``: 8-bit slice).

    Falls back to the ellipse when GrabCut cannot model the box (too few pixels of a class).
    """
    import cv2

    x0, y0, x1, y1 = box
    ell = ellipse_mask(long, short, box)
    pad = 4
    X0, Y0 = max(0, x0 - pad), max(0, y0 - pad)
    X1, Y1 = min(image.shape[1], x1 + pad), min(image.shape[0], y1 + pad)
    big = (X0, Y0, X1, Y1)
    crop = image[Y0:Y1, X0:X1]
    seed = np.full(crop.shape, cv2.GC_BGD, np.uint8)
    seed[ellipse_mask(long, short, big, scale=1.35).astype(bool)] = cv2.GC_PR_BGD
    seed[ellipse_mask(long, short, big, scale=1.0).astype(bool)] = cv2.GC_PR_FGD
    seed[_cross_pixels(long, short, big, crop.shape).astype(bool)] = cv2.GC_FGD
    if (seed == cv2.GC_BGD).sum() < 8 or (seed >= cv2.GC_PR_FGD).sum() < 4:
        return ell
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_GRAY2BGR), seed, None, bgd, fgd,
                    iterations, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return ell
    fg = ((seed == cv2.GC_FGD) | (seed == cv2.GC_PR_FGD)).astype(np.uint8)
    out = fg[y0 - Y0:y1 - Y0, x0 - X0:x1 - X0]
    return out if out.sum() else ell
