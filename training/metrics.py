"""Evaluation by case: metrics per image and per patient, patient-bootstrap CIs, calibration.

Point estimates of AUC, Dice, PSNR and SSIM use MONAI's metrics; the bootstrap repeats the AUC a
thousand times per finding, so it uses the equivalent rank (Mann-Whitney) formula in numpy, which
the tests check against MONAI's ``compute_roc_auc``. Confidence intervals resample *patients* with
replacement (all images of a drawn patient come along), never images: images of one patient are
correlated, and resampling them would make the intervals too narrow.
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np
import torch


def rank_auc(y: np.ndarray, s: np.ndarray) -> float:
    """ROC AUC by the rank formula (ties count half); NaN unless both classes are present."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(s, dtype=float)
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(s.size, dtype=float)
    ss = s[order]
    # average ranks over ties
    _, first, counts = np.unique(ss, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def monai_auc(y: np.ndarray, s: np.ndarray) -> float:
    from monai.metrics import compute_roc_auc

    y = np.asarray(y, dtype=float)
    if y.min() == y.max():
        return float("nan")
    return float(compute_roc_auc(torch.as_tensor(np.asarray(s, float)), torch.as_tensor(y)))


def roc_curve(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates at every threshold (for the plot)."""
    y = np.asarray(y).astype(bool)
    order = np.argsort(-np.asarray(s, float), kind="mergesort")
    tp = np.concatenate([[0], np.cumsum(y[order])])
    fp = np.concatenate([[0], np.cumsum(~y[order])])
    return fp / max(fp[-1], 1), tp / max(tp[-1], 1)


def by_patient(values: np.ndarray, patients: np.ndarray, how: str = "max") -> tuple[np.ndarray, np.ndarray]:
    """Aggregate per-image ``values`` (N or N,K) to one row per patient (sorted keys)."""
    keys, inv = np.unique(patients, return_inverse=True)
    v = np.asarray(values, dtype=float)
    out = np.full((len(keys),) + v.shape[1:], np.nan)
    for i in range(len(keys)):
        rows = v[inv == i]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out[i] = np.nanmax(rows, axis=0) if how == "max" else np.nanmean(rows, axis=0)
    return keys, out


MIN_PATIENTS = 3  # fewer patients than this: no interval (a resample of two patients says nothing)


def patient_bootstrap(patients: np.ndarray, stat: Callable[[np.ndarray], float], n: int = 1000,
                      seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of ``stat(image_indices)`` over patient resamples (NaN draws skipped)."""
    keys, inv = np.unique(patients, return_inverse=True)
    if len(keys) < MIN_PATIENTS:
        return float("nan"), float("nan")
    groups = [np.flatnonzero(inv == i) for i in range(len(keys))]
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n):
        pick = rng.integers(0, len(keys), len(keys))
        v = stat(np.concatenate([groups[i] for i in pick]))
        if np.isfinite(v):
            vals.append(v)
    if len(vals) < max(10, n // 10):
        return float("nan"), float("nan")
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return float(lo), float(hi)


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict:
    """Reliability curve (mean predicted vs observed frequency per probability bin) and ECE."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            rows.append({"bin": [float(edges[b]), float(edges[b + 1])], "mean_predicted": float(p[m].mean()),
                         "observed": float(y[m].mean()), "count": int(m.sum())})
            ece += m.sum() / max(len(p), 1) * abs(p[m].mean() - y[m].mean())
    return {"bins": rows, "ece": float(ece), "n": int(len(p))}


def dice_parts(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per image: 2|A∩B| and |A|+|B| (so Dice can be pooled over a patient's slices)."""
    p = pred.reshape(len(pred), -1).astype(bool)
    t = truth.reshape(len(truth), -1).astype(bool)
    return 2.0 * (p & t).sum(1), p.sum(1) + t.sum(1).astype(float)


def monai_dice(pred: torch.Tensor, truth: torch.Tensor) -> np.ndarray:
    """MONAI's per-image Dice (NaN where the truth mask is empty)."""
    from monai.metrics import DiceMetric

    m = DiceMetric(include_background=True, reduction="none", ignore_empty=True)
    return m(pred.float(), truth.float()).reshape(-1).numpy()


def psnr_ssim(pred_hu: torch.Tensor, truth_hu: torch.Tensor, window: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Per-image PSNR (dB) and SSIM in HU clipped to ``window``; data range = window width."""
    from monai.metrics import PSNRMetric, SSIMMetric

    lo, hi = window
    a, b = pred_hu.clamp(lo, hi) - lo, truth_hu.clamp(lo, hi) - lo
    rng = float(hi - lo)
    psnr = PSNRMetric(max_val=rng, reduction="none")(a, b).reshape(-1).numpy()
    k = 11 if min(a.shape[-2:]) >= 11 else 3
    ssim = SSIMMetric(spatial_dims=2, data_range=rng, win_size=k, reduction="none")(a, b).reshape(-1).numpy()
    return psnr, ssim
