"""Study-level weak labels: votes → label model → value, probability, policy and sources.

For every report and finding of the configured vocabularies one row: ``value`` (1 present, 0
absent, -1 uncertain, null not mentioned), ``probability`` of present, the uncertainty ``policy``
applied, the labeling functions that voted (``sources``) and whether a human ``reviewed`` it.
Reviewed reports keep their reviewed labels.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa

from .config import VOCABULARIES, LabelingConfig
from .functions import (RULE_FUNCTIONS, all_votes, classifier_scores, normalize_mined, report_ids,
                        text_features)
from .label_model import DawidSkene, encode_votes

LABELS_SCHEMA = pa.schema([
    pa.field("report_id", pa.string(), nullable=False),
    pa.field("vocabulary", pa.string(), nullable=False),
    pa.field("finding", pa.string(), nullable=False),
    pa.field("value", pa.int8()),
    pa.field("probability", pa.float64(), nullable=False),
    pa.field("policy", pa.string(), nullable=False),
    pa.field("sources", pa.list_(pa.string()), nullable=False),
    pa.field("reviewed", pa.bool_(), nullable=False),
])
LABEL_COLUMNS = [f.name for f in LABELS_SCHEMA]


def reviewed_long(reviewed: pd.DataFrame | None, vocabularies=("chestxray14",),
                  registry=None) -> pd.DataFrame:
    """Reviewed labels as long rows (report_id, vocabulary, finding, value).

    Accepts the wide review layout (``report_id`` + one column per finding, 1/0/-1/blank, other
    columns ignored) or a long table. A finding name is applied to every configured vocabulary
    that has it; blank stays null (not mentioned).
    """
    cols = ["report_id", "vocabulary", "finding", "value"]
    if reviewed is None or len(reviewed) == 0:
        return pd.DataFrame(columns=cols)
    registry = registry or VOCABULARIES
    df = normalize_mined({"r": reviewed})["r"]
    if {"finding", "value"} <= set(df.columns):
        long = df
        if "vocabulary" not in long.columns:
            long = pd.concat([long.assign(vocabulary=v) for v in vocabularies], ignore_index=True)
    else:
        parts = []
        for vocab in vocabularies:
            fcols = [f for f in registry[vocab] if f in df.columns]
            if fcols:
                m = df.melt(id_vars="report_id", value_vars=fcols, var_name="finding",
                            value_name="value")
                parts.append(m.assign(vocabulary=vocab))
        if not parts:
            return pd.DataFrame(columns=cols)
        long = pd.concat(parts, ignore_index=True)
    long = long[long["vocabulary"].isin(vocabularies)].copy()
    long["value"] = pd.to_numeric(long["value"], errors="coerce")
    return long[cols].drop_duplicates(["report_id", "vocabulary", "finding"], keep="last")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def weak_labels(mined: Mapping[str, pd.DataFrame], reviewed: pd.DataFrame | None = None,
                config: LabelingConfig = LabelingConfig()) -> pd.DataFrame:
    """One label row per report and finding of ``config.vocabularies`` (see module docstring).

    ``mined`` holds the miner's tables by name (``labels``, ``mentions``, ``measurements``,
    ``topics``, and ``reports`` for text); ``reviewed`` is the wide review layout or long rows.
    """
    return label_with_votes(mined, reviewed, config)[0]


def label_with_votes(mined: Mapping[str, pd.DataFrame], reviewed: pd.DataFrame | None = None,
                     config: LabelingConfig = LabelingConfig()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`weak_labels` and the labeling-function votes behind them (the review queue needs both)."""
    mined = normalize_mined(mined)
    rev = reviewed_long(reviewed, config.vocabularies, config.registry)
    rev["report_id"] = rev["report_id"].astype(str)
    ids = report_ids(mined).union(pd.Index(rev["report_id"].unique()), sort=False)
    votes = all_votes(mined, rev if len(rev) else None, config)
    features = text_features(mined, ids, config) if len(rev) else None  # fitted once, all findings
    out, clf_votes, trust = [], [], {}
    for vocab in config.vocabularies:
        for finding in config.registry[vocab]:
            v = votes[(votes["vocabulary"] == vocab) & (votes["finding"] == finding)]
            r = rev[(rev["vocabulary"] == vocab) & (rev["finding"] == finding)]
            labels, clf, trust[f"{vocab}/{finding}"] = _label_one_finding(ids, vocab, finding, v, r, votes,
                                                                       features, config)
            out.append(labels)
            if clf is not None:
                clf_votes.append(clf)
    labels = pd.concat(out, ignore_index=True)[LABEL_COLUMNS]
    labels.attrs["trust"] = trust  # classifier weight per "vocabulary/finding"; 0: the rules decide
    votes = pd.concat([votes, *clf_votes], ignore_index=True)
    return labels, votes


def _label_one_finding(ids: pd.Index, vocab: str, finding: str, v: pd.DataFrame,
                       r: pd.DataFrame, all_rule_votes: pd.DataFrame, features, config: LabelingConfig
                       ) -> tuple[pd.DataFrame, pd.DataFrame | None, float]:
    """Label model over this finding's votes; then, with reviewed reports, the text classifier on
    top of it (its offset the label model's log-odds), trusted as far as its cross-fitted accuracy
    on the reviewed reports beats the rules' (`trust_weight`). Returns labels, the classifier's
    votes (None when it abstained) and the trust given to it (0: the rules decide)."""
    n = len(ids)
    lfs = sorted(v["lf"].unique())
    matrix = pd.DataFrame(np.nan, index=ids, columns=lfs)
    for lf, g in v.groupby("lf"):
        g = g.drop_duplicates("report_id", keep="last")
        matrix.loc[g["report_id"].values, lf] = g["vote"].values
    codes = encode_votes(matrix.to_numpy()) if lfs else np.zeros((n, 0), dtype=np.int8)

    reviewed_value = pd.Series(r["value"].values, index=r["report_id"].values).reindex(ids)
    is_reviewed = np.asarray(ids.isin(r["report_id"]))
    known = np.where(is_reviewed, reviewed_value.fillna(0).to_numpy(dtype=float), np.nan)
    known[known == -1] = np.nan  # an uncertain answer does not clamp the class

    below = np.nextafter(config.threshold, 0.0)
    rows = np.flatnonzero(~np.isnan(known))
    if codes.shape[1]:
        alone = [i for i, lf in enumerate(lfs) if lf in RULE_FUNCTIONS]  # no function learned from reviews
        p = rules_probability(codes[:, alone], None, config)
        if len(rows) >= config.classifier.min_reviewed:
            # Reviewed reports clamp the label model's EM and make topics vote, which re-weighs the
            # rules for every report: kept only if, cross-fitted, it beats the rules alone on them.
            y = known[rows].astype(int)
            held_out = np.empty(len(rows))
            for train, test in _folds(y, config):
                k = known.copy()
                k[rows[test]] = np.nan
                held_out[test] = rules_probability(codes, k, config)[rows[test]]
            if _gain(p[rows], held_out, y, config) > 0:
                p = rules_probability(codes, known, config)
    else:
        k = known[~np.isnan(known)]
        p = np.full(n, min((k.sum() + 0.5) / (len(k) + 1.0) if len(k) else 0.0, config.uncertain_min))

    clf_votes, trust = None, 0.0
    rule_lfs = list(lfs)
    if len(rows):
        # The classifier starts from what the rules decided (its offset: their log-odds).
        start = p
        scores = classifier_scores(features, all_rule_votes, ids, vocab, finding, rows,
                                   known[rows].astype(int), _logit(start), config)
        if scores is not None:
            # scores on reviewed rows are out-of-fold: a fair contest with the rules
            trust = trust_weight(start[rows], scores[rows], known[rows].astype(int), config)
            clf_votes = pd.DataFrame({"report_id": ids.astype(str), "vocabulary": vocab,
                                      "finding": finding, "lf": "text_classifier",
                                      "vote": (scores >= config.threshold).astype("int8"),
                                      "score": scores})
            if trust > 0:
                p = _sigmoid((1 - trust) * _logit(start) + trust * _logit(scores))
                lfs = lfs + ["text_classifier"]
                codes = np.column_stack([codes, np.where(scores >= config.threshold, 1, 2)])

    policy = config.policy(finding)
    value = decide(p, codes, rule_lfs, config, policy)

    rv = reviewed_value.to_numpy(dtype=float)
    value = np.where(is_reviewed, rv, value)
    # a reviewed answer is certain: 1.0 / 0.0; an uncertain answer keeps the model's probability,
    # held inside the uncertain band so that value and probability still agree
    band = np.clip(p, config.uncertain_min, below)
    prob = np.where(is_reviewed & (rv == 1), 1.0,
                    np.where(is_reviewed & (rv == -1), band, np.where(is_reviewed, 0.0, p)))
    voted = codes != 0
    names = np.array(lfs, dtype=object)
    sources = [list(names[row]) + (["reviewed"] if rev_ else [])
               for row, rev_ in zip(voted, is_reviewed)]
    labels = pd.DataFrame({
        "report_id": ids.astype(str), "vocabulary": vocab, "finding": finding,
        "value": pd.array(np.where(np.isnan(value), pd.NA, value), dtype="Int8"),
        "probability": np.clip(prob, 0.0, 1.0), "policy": policy, "sources": sources,
        "reviewed": is_reviewed,
    })
    return labels, clf_votes, trust


def rules_probability(codes: np.ndarray, known: np.ndarray | None, config: LabelingConfig) -> np.ndarray:
    """P(present) from the rule votes: the Dawid–Skene label model (reviewed reports clamped when
    ``known`` has them), shaped so that present needs a present vote. An unresolved uncertain
    mention ("possible atelectasis") stays in the uncertain band [uncertain_min, threshold) — the
    label model learns only definite present/absent and may call it near-certainly either; a
    report no function called present or uncertain is at most ``uncertain_min`` likely."""
    n = len(codes)
    weight = 1.0
    if known is not None:
        n_known = int((~np.isnan(known)).sum())
        weight = max(1.0, config.reviewed_weight * (n - n_known) / max(n_known, 1))
    p = DawidSkene().fit(codes, known=known, known_weight=weight).predict_proba(codes)
    said_present = (codes == 1).any(axis=1)
    uncertain_only = (codes == 3).any(axis=1) & ~said_present
    below = np.nextafter(config.threshold, 0.0)
    return np.where(said_present, p, np.where(uncertain_only, np.clip(p, config.uncertain_min, below),
                                              np.minimum(p, config.uncertain_min)))


def _folds(y: np.ndarray, config: LabelingConfig):
    from sklearn.model_selection import KFold, StratifiedKFold

    k = int(min(config.classifier.folds, len(y)))
    folds = StratifiedKFold(k, shuffle=True, random_state=config.seed) \
        if min(y.sum(), len(y) - y.sum()) >= k else KFold(k, shuffle=True, random_state=config.seed)
    return folds.split(np.zeros(len(y)), y)


def _gain(p_base: np.ndarray, p_new: np.ndarray, y: np.ndarray, config: LabelingConfig) -> int:
    """Errors ``p_new`` fixes minus those it makes against ``p_base`` (at the threshold), on held-out
    reviewed reports; 0 unless the gain is at least ``min_gain`` and ``min_gain_sd`` standard
    deviations of a sign test on the reports where the two disagree."""
    cc = config.classifier
    y = np.asarray(y).astype(bool)
    base_right = (np.asarray(p_base) >= config.threshold) == y
    right = (np.asarray(p_new) >= config.threshold) == y
    fixed, broken = int((right & ~base_right).sum()), int((~right & base_right).sum())
    gain = fixed - broken
    return gain if gain >= cc.min_gain and gain >= cc.min_gain_sd * np.sqrt(fixed + broken) else 0


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def trust_weight(p_rules: np.ndarray, p_classifier: np.ndarray, y: np.ndarray,
                 config: LabelingConfig = LabelingConfig()) -> float:
    """How far to trust the classifier over the rules for one finding, from held-out accuracy.

    Each weight w of ``trust_grid`` blends the two on the log-odds scale; its errors are counted
    on the reviewed reports at the labelling threshold, with the classifier's out-of-fold scores.
    The smallest weight with the largest gain over the rules alone (w = 0) wins, if that gain
    passes `_gain`'s bar (``min_gain`` errors and a sign test); otherwise the rules decide, so
    reviews never make a finding's labels worse than its rules on reports like the reviewed ones.

    >>> y = np.array([1, 1, 0, 0, 1, 0])
    >>> trust_weight(np.full(6, 0.4), np.array([.9, .8, .1, .2, .7, .3]), y)  # half-way fixes all 3
    0.5
    >>> trust_weight(np.array([.9, .8, .1, .2, .7, .3]), np.full(6, 0.4), y)
    0.0
    """
    lr, lc = _logit(np.asarray(p_rules, float)), _logit(np.asarray(p_classifier, float))
    best, best_gain = 0.0, 0
    for w in sorted(set(config.classifier.trust_grid) - {0.0}):
        gain = _gain(p_rules, _sigmoid((1 - w) * lr + w * lc), y, config)
        if gain > best_gain:
            best, best_gain = float(w), gain
    return best


def decide(p: np.ndarray, codes: np.ndarray, lfs: list[str], config: LabelingConfig,
           policy: str = "u_ignore") -> np.ndarray:
    """Value per report: the uncertainty policy applied to the model's probability.

    The rule the dataset card states (and the labeling expectations check):
    p ≥ ``threshold`` → 1; else an uncertain rule vote with p ≥ ``uncertain_min`` → -1, which the
    finding's policy may map to 1 (u_ones) or 0 (u_zeros); else 0 when a rule mentioned the
    finding, null when none did (a report-wide normal statement is not a mention: CheXpert keeps
    those blank). `codes` columns are the functions ``lfs`` (only rule functions are read).
    """
    rule = [i for i, lf in enumerate(lfs) if lf in RULE_FUNCTIONS]
    mentioned = (codes[:, [i for i in rule if lfs[i] != "normal_statement"]] != 0).any(axis=1)
    uncertain = (codes[:, rule] == 3).any(axis=1)
    value = np.where(mentioned, 0.0, np.nan)
    value[uncertain & (p >= config.uncertain_min)] = {"u_ones": 1.0, "u_zeros": 0.0}.get(policy, -1.0)
    value[p >= config.threshold] = 1.0
    return value


def apply_reviewed(mined: Mapping[str, pd.DataFrame], reviewed_df: pd.DataFrame | None,
                   config: LabelingConfig = LabelingConfig()) -> pd.DataFrame:
    """For `radcurate mine --reviewed FILE`: labels with probability and sources, reviewed kept."""
    return weak_labels(mined, reviewed_df, config)
