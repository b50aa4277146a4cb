"""Labeling functions: each reads the mined tables and votes per report and finding.

A vote is 1 (present), 0 (absent) or -1 (uncertain); a function that has nothing to say about a
report and finding abstains by emitting no row. Votes are a long table (`VOTE_COLUMNS`); `score`
carries a probability where the function has one (the text classifier), NaN otherwise.

Functions:
- ``miner_label`` — the rule miner's own label (labels table).
- ``impression_mentions`` / ``findings_mentions`` — the miner's mentions in one section, asserted
  (present), uncertain or negated; historical, hypothetical and family mentions abstain.
- ``normal_statement`` — "no acute cardiopulmonary disease", "lungs are clear": absent, for every
  finding of the vocabulary.
- ``measurement_size`` — a stated current lesion ≥ 30 mm is a Mass, a smaller one a Nodule.
- ``topic_prevalence`` — a report's dominant LDA topic votes what the reviewed reports of that topic
  mostly were (abstains without reviewed reports).
- ``text_classifier`` — Zech et al. (Radiology 2018): bag of 1–2-grams with negation-marked tokens,
  topic mixtures and the rule votes as features, one logistic regression per finding, trained on the
  human-reviewed reports with the rule label model's log-odds as its offset, so that it learns
  corrections to the rules (abstains for findings with too few reviewed reports). It is fitted per
  finding inside `aggregate`, after the label model (`classifier_scores`).
"""
from __future__ import annotations

import re
from typing import Iterable, Mapping

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.model_selection import KFold, StratifiedKFold

from radcurate.vocabulary import DERIVED

from .config import VOCABULARIES, ClassifierConfig, LabelingConfig

VOTE_COLUMNS = ["report_id", "vocabulary", "finding", "lf", "vote", "score"]
RULE_FUNCTIONS = ("miner_label", "impression_mentions", "findings_mentions", "normal_statement",
                  "measurement_size")
TEXT_SECTIONS = ("findings", "impression")
ID_ALIASES = ("report_id", "report_key", "study_key", "accession")


# -- tables -------------------------------------------------------------------------------------
def normalize_mined(mined: Mapping[str, pd.DataFrame | None]) -> dict[str, pd.DataFrame]:
    """Mined tables keyed by name, each with a ``report_id`` column (renamed from ``report_key``)."""
    out: dict[str, pd.DataFrame] = {}
    for name, table in mined.items():
        if table is None:
            continue
        table = pd.DataFrame(table)
        if "report_id" not in table.columns:
            for alias in ID_ALIASES[1:]:
                if alias in table.columns:
                    table = table.rename(columns={alias: "report_id"})
                    break
        if "report_id" in table.columns:
            table["report_id"] = table["report_id"].astype(str)
        out[name] = table
    return out


def report_ids(mined: Mapping[str, pd.DataFrame]) -> pd.Index:
    """Every report the mined tables know, in first-seen order (reports table first)."""
    ids: list[str] = []
    for name in ("reports", "labels", "topics", "mentions", "measurements"):
        t = mined.get(name)
        if t is not None and "report_id" in t.columns:
            ids.extend(t["report_id"].astype(str).tolist())
    return pd.Index(pd.unique(pd.Series(ids, dtype=object)), name="report_id")


def report_texts(reports: pd.DataFrame | None) -> pd.Series:
    """Report text per report id: FINDINGS + IMPRESSION when sectioned, else the ``text`` column."""
    if reports is None or reports.empty:
        return pd.Series(dtype=object)
    cols = [c for c in TEXT_SECTIONS if c in reports.columns]
    if not cols:
        cols = ["text"] if "text" in reports.columns else [
            c for c in reports.columns if c != "report_id" and reports[c].dtype == object]
    text = reports[cols].fillna("").astype(str).agg("\n".join, axis=1)
    return pd.Series(text.values, index=reports["report_id"].astype(str).values)


def empty_votes() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
        VOTE_COLUMNS, (object, object, object, object, "int8", float))})


def _votes(df: pd.DataFrame, lf: str) -> pd.DataFrame:
    if df.empty:
        return empty_votes()
    out = df[["report_id", "vocabulary", "finding", "vote"]].copy()
    out["lf"] = lf
    out["vote"] = out["vote"].astype("int8")
    out["score"] = df["score"].astype(float) if "score" in df.columns else np.nan
    return out[VOTE_COLUMNS].reset_index(drop=True)


# -- rule functions -----------------------------------------------------------------------------
def miner_label_votes(labels: pd.DataFrame | None) -> pd.DataFrame:
    """The rule miner's label: 1 / 0 / -1 votes; not mentioned (null) abstains."""
    if labels is None or labels.empty:
        return empty_votes()
    v = pd.to_numeric(labels["value"], errors="coerce")
    df = labels.loc[v.isin([1, 0, -1]), ["report_id", "vocabulary", "finding"]].copy()
    df["vote"] = v[v.isin([1, 0, -1])].astype(int).values
    return _votes(df, "miner_label")


def mention_votes(mentions: pd.DataFrame | None, sections: Iterable[str], lf: str) -> pd.DataFrame:
    """One section's mentions: present if any is asserted, else uncertain, else absent if negated."""
    if mentions is None or mentions.empty:
        return empty_votes()
    m = mentions[mentions["section"].astype(str).str.lower().isin(set(sections))]
    if "labelled" in m.columns:  # the miner marks mentions in sections that never make labels
        m = m[m["labelled"].fillna(False).astype(bool)]
    for flag in ("historical", "hypothetical", "family"):
        if flag in m.columns:
            m = m[~m[flag].fillna(False).astype(bool)]
    if m.empty:
        return empty_votes()
    negated = m["negated"].fillna(False).astype(bool)
    uncertain = m["uncertain"].fillna(False).astype(bool) & ~negated
    m = m.assign(_pos=~negated & ~uncertain, _unc=uncertain, _neg=negated)
    g = m.groupby(["report_id", "vocabulary", "finding"], sort=False)[["_pos", "_unc", "_neg"]].any()
    vote = np.where(g["_pos"], 1, np.where(g["_unc"], -1, 0))
    return _votes(g.reset_index().assign(vote=vote), lf)


NORMAL_STATEMENT = re.compile(
    r"\b(?:no acute (?:cardiopulmonary|pulmonary|cardiac|intrathoracic|chest|osseous|radiographic)?\s*"
    r"(?:disease|abnormalit\w*|findings?|process|pathology)"
    r"|no acute cardiopulmonary\b|normal (?:chest|study|exam\w*|radiograph\w*|x-?ray)"
    r"|no active (?:disease|lung disease|cardiopulmonary disease)"
    r"|negative (?:chest|study|exam\w*)|no (?:significant )?(?:radiographic )?abnormalit\w*"
    r"|lungs (?:are )?clear)\b",
    re.IGNORECASE,
)


def normal_statement_votes(mined: Mapping[str, pd.DataFrame], vocabularies: Iterable[str],
                           registry: Mapping[str, tuple[str, ...]] = VOCABULARIES) -> pd.DataFrame:
    """Reports stating normality vote absent for every finding of each vocabulary (derived ones,
    "No Finding" and "Normal", excepted: "no acute disease" does not rule out an old granuloma).

    Reads the report text when present, else the miner's CheXpert ``No Finding`` label.
    """
    texts = report_texts(mined.get("reports"))
    if len(texts):
        ids = texts.index[texts.str.contains(NORMAL_STATEMENT)]
    else:
        labels = mined.get("labels")
        if labels is None or labels.empty:
            return empty_votes()
        nf = labels[(labels["finding"] == "No Finding") & (pd.to_numeric(
            labels["value"], errors="coerce") == 1)]
        ids = pd.Index(nf["report_id"].unique())
    derived = {f for names in DERIVED.values() for f in names}
    rows = [(rid, vocab, f, 0) for vocab in vocabularies for f in registry[vocab]
            if f not in derived for rid in ids]
    return _votes(pd.DataFrame(rows, columns=["report_id", "vocabulary", "finding", "vote"]),
                  "normal_statement")


def measurement_votes(measurements: pd.DataFrame | None, vocabularies: Iterable[str],
                      mass_min_mm: float = 30.0) -> pd.DataFrame:
    """A stated current lesion ≥ ``mass_min_mm`` votes Mass, a smaller one Nodule (Lung Lesion)."""
    if measurements is None or measurements.empty or "long_axis_mm" not in measurements.columns:
        return empty_votes()
    m = measurements
    if "kind" in m.columns:
        m = m[m["kind"].isna() | (m["kind"].astype(str) == "lesion")]
    if "timepoint" in m.columns:
        m = m[m["timepoint"].isna() | (m["timepoint"].astype(str) == "current")]
    size = pd.to_numeric(m["long_axis_mm"], errors="coerce")
    m = m.assign(_size=size).dropna(subset=["_size"])
    rows = []
    for rid, big in zip(m["report_id"], m["_size"] >= mass_min_mm):
        if "chestxray14" in vocabularies:
            rows.append((rid, "chestxray14", "Mass" if big else "Nodule", 1))
        if "chexpert" in vocabularies:
            rows.append((rid, "chexpert", "Lung Lesion", 1))
    df = pd.DataFrame(rows, columns=["report_id", "vocabulary", "finding", "vote"])
    return _votes(df.drop_duplicates(), "measurement_size")


def rule_votes(mined: Mapping[str, pd.DataFrame], config: LabelingConfig = LabelingConfig()
               ) -> pd.DataFrame:
    """Votes of every function that needs no reviewed labels, for the configured vocabularies."""
    vocabs = config.vocabularies
    parts = [
        miner_label_votes(mined.get("labels")),
        mention_votes(mined.get("mentions"), ("impression",), "impression_mentions"),
        mention_votes(mined.get("mentions"), ("findings", "body"), "findings_mentions"),
        normal_statement_votes(mined, vocabs, config.registry),
        measurement_votes(mined.get("measurements"), vocabs, config.mass_min_mm),
    ]
    votes = pd.concat([p for p in parts if not p.empty] or [empty_votes()], ignore_index=True)
    return votes[votes["vocabulary"].isin(vocabs)].reset_index(drop=True)


# -- functions learned from reviewed labels -----------------------------------------------------
def topic_votes(topics: pd.DataFrame | None, reviewed: pd.DataFrame | None,
                config: LabelingConfig = LabelingConfig()) -> pd.DataFrame:
    """Each dominant topic votes the majority reviewed answer of its reports, per finding.

    A topic votes present when most of its reviewed reports had the finding, absent when none
    did; it abstains with fewer than ``topic_min_reviewed`` reviewed reports or a mixed record.
    """
    if topics is None or topics.empty or reviewed is None or reviewed.empty \
            or "dominant_topic" not in topics.columns:
        return empty_votes()
    dom = topics.set_index("report_id")["dominant_topic"]
    r = reviewed.assign(topic=reviewed["report_id"].map(dom)).dropna(subset=["topic"])
    r = r.assign(pos=(pd.to_numeric(r["value"], errors="coerce") == 1).astype(float))
    stats = r.groupby(["vocabulary", "finding", "topic"])["pos"].agg(["mean", "size"]).reset_index()
    stats = stats[stats["size"] >= config.topic_min_reviewed]
    stats["vote"] = np.where(stats["mean"] >= 0.5, 1, np.where(stats["mean"] == 0, 0, -9))
    stats = stats[stats["vote"] != -9]
    if stats.empty:
        return empty_votes()
    t = dom.rename("topic").reset_index()
    df = t.merge(stats[["vocabulary", "finding", "topic", "vote"]], on="topic")
    return _votes(df, "topic_prevalence")


NEGATION_CUES = frozenset({"no", "not", "without", "negative", "nor", "neither", "absent", "free"})
SCOPE_ENDS = frozenset({"but", "however", "although", "though", "except", "which", "whereas"})
_SENTENCE = re.compile(r"[.;:!?\n]+|\s\d+\.\s")
_WORD = re.compile(r"[a-z]+")


def negation_marked_tokens(text: str) -> list[str]:
    """Lower-cased words; words after a negation cue, up to the sentence or clause end, get ``neg_``.

    "No pleural effusion but mild atelectasis" → no neg_pleural neg_effusion but mild atelectasis.
    Publisher redactions (XXXX) are dropped.
    """
    out: list[str] = []
    for sentence in _SENTENCE.split(str(text).lower()):
        negated = False
        for word in _WORD.findall(sentence):
            if word == "xxxx":
                continue
            if word in NEGATION_CUES:
                negated = True
                out.append(word)
                continue
            if word in SCOPE_ENDS:
                negated = False
            out.append("neg_" + word if negated else word)
    return out


def _topic_matrix(topics: pd.DataFrame | None, ids: pd.Index) -> sparse.csr_matrix:
    if topics is None or topics.empty or "mixture" not in topics.columns:
        return sparse.csr_matrix((len(ids), 0))
    mix = topics.drop_duplicates("report_id").set_index("report_id")["mixture"].reindex(ids)
    width = max((len(x) for x in mix.dropna()), default=0)
    dense = np.zeros((len(ids), width))
    for i, x in enumerate(mix):
        if isinstance(x, (list, tuple, np.ndarray)) and len(x):
            dense[i, : len(x)] = np.asarray(x, dtype=float)
    return sparse.csr_matrix(dense)


def _rule_matrix(votes: pd.DataFrame, ids: pd.Index, vocabulary: str, finding: str,
                 scale: float) -> sparse.csr_matrix:
    """One-hot rule votes (function × present/absent/uncertain) for one finding."""
    v = votes[(votes["vocabulary"] == vocabulary) & (votes["finding"] == finding)
              & votes["lf"].isin(RULE_FUNCTIONS)]
    cols = [(lf, o) for lf in RULE_FUNCTIONS for o in (1, 0, -1)]
    dense = np.zeros((len(ids), len(cols)))
    if not v.empty:
        row = ids.get_indexer(v["report_id"])
        col = [cols.index((lf, int(o))) for lf, o in zip(v["lf"], v["vote"])]
        ok = row >= 0
        dense[row[ok], np.asarray(col)[ok]] = scale
    return sparse.csr_matrix(dense)


def text_features(mined: Mapping[str, pd.DataFrame], ids: pd.Index,
                  config: LabelingConfig = LabelingConfig()) -> sparse.csr_matrix:
    """Reports × features: negation-marked 1–2-gram presence and LDA topic mixtures."""
    cc: ClassifierConfig = config.classifier
    texts = report_texts(mined.get("reports")).reindex(ids).fillna("")
    blocks = []
    if texts.str.len().sum() > 0:
        vec = CountVectorizer(tokenizer=negation_marked_tokens, lowercase=False, token_pattern=None,
                              ngram_range=cc.ngram_range, min_df=cc.min_df, binary=True)
        try:
            blocks.append(vec.fit_transform(texts.tolist()).tocsr())
        except ValueError:  # no term reaches min_df (tiny batches)
            pass
    blocks.append(_topic_matrix(mined.get("topics"), ids))
    return sparse.hstack(blocks).tocsr()


def classifier_scores(features: sparse.csr_matrix | None, rule: pd.DataFrame, ids: pd.Index,
                      vocabulary: str, finding: str, reviewed_rows: np.ndarray, y: np.ndarray,
                      offset: np.ndarray, config: LabelingConfig = LabelingConfig()
                      ) -> np.ndarray | None:
    """The text classifier's P(present) for every report, or None when it must abstain.

    A logistic regression on the text features and the rule votes (one-hot), whose offset is the
    rule label model's log-odds: it starts from the rules, and its weights (L2-shrunk towards
    zero) learn only the corrections the reviewed reports ask for — what a phrase, a section or
    an uncertain mention means for this finding in this hospital's reports. Reviewed reports get
    out-of-fold scores, so the label model's users see the classifier's real accuracy on them.
    It abstains when fewer than ``min_reviewed`` reports were reviewed for the finding.
    """
    cc = config.classifier
    if len(y) < cc.min_reviewed:
        return None
    blocks = [_rule_matrix(rule, ids, vocabulary, finding, cc.rule_feature_scale)]
    if features is not None and features.shape[1]:
        blocks.insert(0, features)
    X = sparse.hstack(blocks).tocsr()
    fit = lambda rows, yy: OffsetLogistic(C=cc.C, intercept_penalty=cc.intercept_penalty).fit(  # noqa: E731
        X[rows], yy, offset[rows])
    scores = fit(reviewed_rows, y).predict_proba(X, offset)
    k = int(min(cc.folds, len(y)))
    if k >= 2:
        folds = StratifiedKFold(k, shuffle=True, random_state=config.seed) \
            if min(y.sum(), len(y) - y.sum()) >= k else KFold(k, shuffle=True, random_state=config.seed)
        for train, test in folds.split(reviewed_rows, y):
            model = fit(reviewed_rows[train], y[train])
            rows = reviewed_rows[test]
            scores[rows] = model.predict_proba(X[rows], offset[rows])
    return scores


class OffsetLogistic:
    """L2-penalised logistic regression with a fixed per-row offset (log-odds of a prior model).

    scikit-learn's LogisticRegression has no offset term, and without one a regression trained on
    a few hundred reviewed reports cannot start from the rules it is meant to correct. Fitted by
    L-BFGS on the mean log-loss + ||w||² / (2·C·n); the intercept is penalised lightly.
    """

    def __init__(self, C: float = 1.0, intercept_penalty: float = 0.01):
        self.C = C
        self.intercept_penalty = intercept_penalty
        self.coef_: np.ndarray | None = None
        self.intercept_ = 0.0

    def fit(self, X, y: np.ndarray, offset: np.ndarray) -> "OffsetLogistic":
        from scipy.optimize import minimize

        X = sparse.csr_matrix(X)
        y = np.asarray(y, dtype=float)
        n, d = X.shape
        lam = 1.0 / (self.C * max(n, 1))

        def loss(theta):
            w, b = theta[:d], theta[d]
            z = offset + X @ w + b
            ll = np.logaddexp(0, z) - y * z
            g = 1 / (1 + np.exp(-z)) - y
            f = ll.mean() + 0.5 * lam * (w @ w) + 0.5 * self.intercept_penalty * b * b
            grad = np.concatenate([X.T @ g / n + lam * w, [g.mean() + self.intercept_penalty * b]])
            return f, grad

        res = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B",
                       options={"maxiter": 500})
        self.coef_, self.intercept_ = res.x[:d], float(res.x[d])
        return self

    def predict_proba(self, X, offset: np.ndarray) -> np.ndarray:
        """P(class 1) per row."""
        z = offset + sparse.csr_matrix(X) @ self.coef_ + self.intercept_
        return 1 / (1 + np.exp(-z))


def all_votes(mined: Mapping[str, pd.DataFrame], reviewed: pd.DataFrame | None = None,
              config: LabelingConfig = LabelingConfig()) -> pd.DataFrame:
    """Votes of the rule and topic functions (the text classifier is fitted per finding in
    `aggregate`, on top of these); ``reviewed`` is long (report_id, vocabulary, finding, value)."""
    mined = normalize_mined(mined)
    rule = rule_votes(mined, config)
    parts = [rule, topic_votes(mined.get("topics"), reviewed, config)]
    return pd.concat([p for p in parts if not p.empty] or [empty_votes()], ignore_index=True)
