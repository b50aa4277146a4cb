"""Label evaluation against a gold file: per-finding precision / recall / F1 with bootstrap CIs.

Scoring follows the OpenI benchmark: a finding counts as predicted only when labelled positive (1);
uncertain, negative and not mentioned all count as not positive. Reports in the gold file are the
universe; a report the prediction lacks predicts nothing. Confidence intervals resample reports
(studies), never single labels, so findings of one report stay together.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import VOCABULARIES
from .functions import normalize_mined


@dataclass
class LabelEvaluation:
    """``per_finding``: one row per finding; ``summary``: micro and macro rows; both with CIs."""

    per_finding: pd.DataFrame
    summary: pd.DataFrame
    n_reports: int

    @property
    def micro_f1(self) -> float:
        return float(self.summary.loc["micro", "f1"])

    @property
    def macro_f1(self) -> float:
        return float(self.summary.loc["macro", "f1"])

    def table(self) -> str:
        """A printable table: findings, then micro and macro averages."""
        lines = [f"{'finding':<20}{'n':>5}{'TP':>6}{'FP':>6}{'FN':>6}{'TN':>7}"
                 f"{'P':>7}{'R':>7}{'F1':>7}  F1 95% CI"]
        rows = list(self.per_finding.itertuples()) + list(self.summary.itertuples())
        for r in rows:
            lines.append(
                f"{str(r.Index):<20}{int(r.support):>5}{int(r.tp):>6}{int(r.fp):>6}{int(r.fn):>6}"
                f"{int(r.tn):>7}{_fmt(r.precision):>7}{_fmt(r.recall):>7}{_fmt(r.f1):>7}  "
                f"[{_fmt(r.f1_lo)}, {_fmt(r.f1_hi)}]")
        lines.append(f"{self.n_reports} reports; macro over findings present in gold")
        return "\n".join(lines)


def _fmt(x: float) -> str:
    return "  -  " if pd.isna(x) else f"{x:.3f}"


def positive_matrix(table: pd.DataFrame, ids: pd.Index, findings: list[str],
                    vocabulary: str | None = None) -> np.ndarray:
    """Reports × findings booleans: labelled positive (value 1). Wide or long input."""
    t = normalize_mined({"t": table})["t"]
    if {"finding", "value"} <= set(t.columns):
        if vocabulary is not None and "vocabulary" in t.columns:
            t = t[t["vocabulary"] == vocabulary]
        pos = t[pd.to_numeric(t["value"], errors="coerce") == 1]
        wide = pd.crosstab(pos["report_id"], pos["finding"]) > 0
    else:
        wide = t.drop_duplicates("report_id").set_index("report_id")
        wide = wide[[f for f in findings if f in wide.columns]].apply(
            pd.to_numeric, errors="coerce") == 1
    wide = wide.reindex(index=ids, columns=findings).astype("boolean")
    return wide.fillna(False).to_numpy(dtype=bool)


def _scores(tp, fp, fn):
    with np.errstate(invalid="ignore", divide="ignore"):
        p = tp / (tp + fp)
        r = tp / (tp + fn)
        f = 2 * tp / (2 * tp + fp + fn)
    return p, r, f


def evaluate_labels(gold: pd.DataFrame, pred: pd.DataFrame, *, vocabulary: str = "chestxray14",
                    findings: list[str] | None = None, n_boot: int = 1000, seed: int = 0
                    ) -> LabelEvaluation:
    """Score ``pred`` (long labels, or wide) against ``gold`` (wide like openi_dev.csv, or long)."""
    g = normalize_mined({"g": gold})["g"]
    if "report_id" not in g.columns:
        raise ValueError("gold needs a report_id column")
    if findings is None:
        vocab = VOCABULARIES[vocabulary] if vocabulary in VOCABULARIES else sorted(  # a site vocabulary
            set(pred.loc[pred["vocabulary"] == vocabulary, "finding"].astype(str)) if "vocabulary" in pred else ())
        if {"finding", "value"} <= set(g.columns):
            findings = [f for f in vocab if f in set(g["finding"])]
        else:
            findings = [f for f in vocab if f in g.columns]
    if not findings:
        raise ValueError(f"gold has no {vocabulary} finding columns")
    ids = pd.Index(g["report_id"].astype(str).unique())
    G = positive_matrix(g, ids, findings, vocabulary)
    P = positive_matrix(pred, ids, findings, vocabulary)
    tp, fp, fn = (G & P), (~G & P), (G & ~P)

    # Bootstrap by report: weights = how often each report is drawn.
    rng = np.random.default_rng(seed)
    n = len(ids)
    W = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(n_boot)]
                 ).astype(float) if n_boot else np.zeros((0, n))
    btp, bfp, bfn = W @ tp, W @ fp, W @ fn  # (n_boot, findings)

    TP, FP, FN = tp.sum(0).astype(float), fp.sum(0).astype(float), fn.sum(0).astype(float)
    TN = n - TP - FP - FN
    p, r, f = _scores(TP, FP, FN)
    bp, br, bf = _scores(btp, bfp, bfn)
    per = pd.DataFrame({"support": G.sum(0), "tp": TP, "fp": FP, "fn": FN, "tn": TN,
                        "precision": p, "recall": r, "f1": f}, index=pd.Index(findings, name="finding"))
    for name, b in (("precision", bp), ("recall", br), ("f1", bf)):
        per[f"{name}_lo"], per[f"{name}_hi"] = _ci(b)

    mp, mr, mf = _scores(TP.sum(), FP.sum(), FN.sum())
    bmp, bmr, bmf = _scores(btp.sum(1), bfp.sum(1), bfn.sum(1))
    occurs = G.sum(0) > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no finding predicted: P undefined
        macro = [np.nanmean(x[occurs]) if occurs.any() else np.nan for x in (p, r, f)]
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a resample may lack a finding
        bmacro = [np.nanmean(x[:, occurs], axis=1) for x in (bp, br, bf)]
    summary = pd.DataFrame(
        {"support": [G.sum()] * 2, "tp": [TP.sum()] * 2, "fp": [FP.sum()] * 2,
         "fn": [FN.sum()] * 2, "tn": [TN.sum()] * 2,
         "precision": [mp, macro[0]], "recall": [mr, macro[1]], "f1": [mf, macro[2]]},
        index=pd.Index(["micro", "macro"], name="finding"))
    for name, bm, bM in (("precision", bmp, bmacro[0]), ("recall", bmr, bmacro[1]),
                         ("f1", bmf, bmacro[2])):
        lo1, hi1 = _ci(bm)
        lo2, hi2 = _ci(bM)
        summary[f"{name}_lo"] = [lo1, lo2]
        summary[f"{name}_hi"] = [hi1, hi2]
    return LabelEvaluation(per, summary, n)


def _ci(b: np.ndarray) -> tuple:
    if len(b) == 0:
        return (np.full(b.shape[1:], np.nan),) * 2 if b.ndim > 1 else (np.nan, np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a finding absent from every resample
        return np.nanpercentile(b, 2.5, axis=0), np.nanpercentile(b, 97.5, axis=0)
