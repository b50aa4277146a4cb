"""Evaluation by case: metrics per image and per patient, patient-bootstrap CIs, calibration.

Point estimates of AUC, Dice, PSNR and SSIM use MONAI's metrics; the bootstrap repeats the AUC a
thousand times per finding, so it uses the equivalent rank (Mann-Whitney) formula in numpy, which
the tests check against MONAI's ``compute_roc_auc``. Confidence intervals resample *patients* with
replacement (all images of a drawn patient come along), never images: images of one patient are
correlated, and resampling them would make the intervals too narrow.
"""

from __future__ import annotations

import warnings
from typing import Callable, NamedTuple

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
#: A patient-level AUC needs at least this many positive and this many negative patients: with one
#: or two patients on a side the AUC only says how those few were ranked, and its interval is a coin toss.
MIN_PATIENTS_PER_CLASS = 5


class BootstrapCI(NamedTuple):
    """A 95 % percentile interval and the share of resamples whose statistic was undefined (dropped)."""

    lo: float
    hi: float
    dropped: float  # share of resamples where the statistic was NaN (e.g. one class only)
    resamples: int

    def as_list(self) -> list[float]:
        return [self.lo, self.hi]


def patient_bootstrap(patients: np.ndarray, stat: Callable[[np.ndarray], float], n: int = 1000,
                      seed: int = 0) -> BootstrapCI:
    """95 % percentile interval of ``stat(image_indices)`` over patient resamples.

    Each resample draws as many patients as there are, with replacement; ``stat`` gets the image
    indices of every drawn patient, repeated as often as the patient was drawn, so a statistic over
    images keeps the multiplicity by itself and a statistic per patient must weigh each patient by
    its draws (:func:`patient_weighted_mean`). Resamples whose statistic is NaN are dropped and their
    share is returned beside the interval; below 10 % kept the interval is NaN.
    """
    keys, inv = np.unique(patients, return_inverse=True)
    if len(keys) < MIN_PATIENTS:
        return BootstrapCI(float("nan"), float("nan"), float("nan"), 0)
    order = np.argsort(inv, kind="stable")
    starts = np.concatenate([[0], np.cumsum(np.bincount(inv, minlength=len(keys)))])
    groups = [order[starts[i]:starts[i + 1]] for i in range(len(keys))]
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n):
        pick = rng.integers(0, len(keys), len(keys))
        v = stat(np.concatenate([groups[i] for i in pick]))
        if np.isfinite(v):
            vals.append(v)
    dropped = 1.0 - len(vals) / n if n else float("nan")
    if len(vals) < max(10, n // 10):
        return BootstrapCI(float("nan"), float("nan"), dropped, n)
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return BootstrapCI(float(lo), float(hi), dropped, n)


def patient_weighted_mean(per_patient: np.ndarray, patients: np.ndarray,
                          keys: np.ndarray | None = None) -> Callable[[np.ndarray], float]:
    """A bootstrap statistic: the mean of ``per_patient`` values (one per sorted unique patient key)
    over the patients of a resample, each counted as often as it was drawn.

    ``patients`` are the image rows' patient keys (what :func:`patient_bootstrap` resamples); a
    patient drawn k times brings k copies of its images, so its draw count is the count of its
    image indices divided by its image count. NaN values (e.g. no lesion, no prediction) are left out.
    """
    ukeys, inv = np.unique(patients, return_inverse=True)
    if keys is not None and not np.array_equal(np.asarray(keys), ukeys):
        raise ValueError("per-patient values must follow the sorted unique patient keys")
    v = np.asarray(per_patient, dtype=float)
    n_img = np.bincount(inv, minlength=len(ukeys)).astype(float)

    def stat(ix: np.ndarray) -> float:
        draws = np.bincount(inv[ix], minlength=len(ukeys)) / n_img
        ok = (draws > 0) & np.isfinite(v)
        return float((draws[ok] * v[ok]).sum() / draws[ok].sum()) if ok.any() else float("nan")

    return stat


def auc_if_enough(y: np.ndarray, s: np.ndarray, minimum: int = MIN_PATIENTS_PER_CLASS) -> float:
    """:func:`rank_auc` when both classes have at least ``minimum`` members, else NaN."""
    y = np.asarray(y).astype(bool)
    if y.sum() < minimum or (~y).sum() < minimum:
        return float("nan")
    return rank_auc(y, s)


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
