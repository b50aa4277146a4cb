"""Per-report labels in the CheXpert convention from asserted mentions.

Values: 1 positive, 0 negative, -1 uncertain, null not mentioned.

Conflict resolution inside one report, for one finding (mentions in HISTORY/INDICATION,
COMPARISON, TECHNIQUE and EXAMINATION never count; hypothetical, family and historical mentions are
ignored, see `assertion.mention_value`):
  1. a positive mention in any labelled section wins ("Small effusion." in FINDINGS beats "No acute
     disease" elsewhere, and a positive IMPRESSION beats a negative FINDINGS sentence);
  2. otherwise, if the IMPRESSION mentions the finding, the impression decides (uncertain over
     negative): it is the radiologist's conclusion ("possible infiltrate" in FINDINGS, "no
     pneumonia" in IMPRESSION -> 0);
  3. otherwise uncertain over negative over the remaining sections;
  4. no usable mention -> null.
"No Finding" (CheXpert vocabulary) follows ChestX-ray14's view that a finding is present only when
positive: 1 when no other CheXpert observation except Support Devices is 1, else 0
(`no_finding_blocked_by_uncertain=True` gives CheXpert's stricter rule, where -1 also blocks it).
"Normal" (ChestX-ray14 vocabulary; ChestX-ray8's "no abnormality of any kind") is stricter: 1 only
when no finding of any vocabulary is positive or uncertain *and* no other abnormality is asserted or
suspected — the lexicon's `Normal` phrases are its defeaters (granuloma, scoliosis, tortuous aorta,
low lung volumes, sternotomy wires, old fractures, ...): their mentions say "not normal".
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import pandas as pd

LABEL_COLUMNS = ("report_id", "vocabulary", "finding", "value")


def resolve(values: Iterable[tuple[str, int]]) -> int | None:
    """One label from (section, mention value) pairs, by the documented order above."""
    values = list(values)
    if not values:
        return None
    if any(v == 1 for _, v in values):
        return 1
    impression = [v for s, v in values if s == "impression"]
    pool = impression or [v for _, v in values]
    if -1 in pool:
        return -1
    return 0


def report_labels(mentions: Sequence, report_ids: Sequence[str], vocabularies: dict[str, list[str]],
                  ignore_sections: Iterable[str], no_finding_blocked_by_uncertain: bool = False,
                  implications: dict[str, dict[str, set[str]]] | None = None) -> pd.DataFrame:
    """Long label table (report_id, vocabulary, finding, value) from `(report_id, Mention)` pairs.

    `implications` (from the lexicon's `implied_by`) make a finding positive when a finding that
    implies it is positive; a negative child says nothing about its parent.
    """
    ignore = set(ignore_sections)
    implications = implications or {}
    by_key: dict[tuple[str, str, str], list[tuple[str, int]]] = defaultdict(list)
    for report_id, m in mentions:
        if m.finding == "Normal" and m.section not in ignore:  # a defeater: old or new, it is not normal
            a = m.assertion
            if not (a.negated or a.hypothetical or a.family):
                by_key[(report_id, m.vocabulary, m.finding)].append((m.section, -1 if a.uncertain else 1))
            continue
        if m.value is None or m.section in ignore:
            continue
        by_key[(report_id, m.vocabulary, m.finding)].append((m.section, m.value))
    rows_id, rows_vocab, rows_finding, rows_value = [], [], [], []
    for rid in report_ids:
        abnormal = False  # any finding of any vocabulary positive or uncertain (defeats Normal)
        per_vocab = {}
        for vocab, findings in vocabularies.items():
            values = {f: resolve(by_key.get((rid, vocab, f), ())) for f in findings
                      if f not in ("No Finding", "Normal")}
            for parent, children in implications.get(vocab, {}).items():
                if values.get(parent) != 1 and any(values.get(c) == 1 for c in children):
                    values[parent] = 1
            if vocab == "chexpert":
                blocking = {1, -1} if no_finding_blocked_by_uncertain else {1}
                values["No Finding"] = 0 if any(v in blocking for f, v in values.items()
                                                if f != "Support Devices") else 1
            abnormal = abnormal or any(v in (1, -1) for f, v in values.items() if f != "No Finding")
            per_vocab[vocab] = values
        for vocab, findings in vocabularies.items():
            values = per_vocab[vocab]
            if "Normal" in findings:
                defeater = resolve(by_key.get((rid, vocab, "Normal"), ()))
                values["Normal"] = 0 if abnormal or defeater in (1, -1) else 1
            for f in findings:
                rows_id.append(rid)
                rows_vocab.append(vocab)
                rows_finding.append(f)
                rows_value.append(values.get(f))
    return pd.DataFrame({
        "report_id": pd.array(rows_id, dtype="string"),
        "vocabulary": pd.array(rows_vocab, dtype="string"),
        "finding": pd.array(rows_finding, dtype="string"),
        "value": pd.array(rows_value, dtype="Int8"),
    })


def wide_labels(labels: pd.DataFrame, vocabulary: str) -> pd.DataFrame:
    """One row per report, one column per finding of `vocabulary` (handy for training code)."""
    sub = labels[labels["vocabulary"] == vocabulary]
    return sub.pivot(index="report_id", columns="finding", values="value")
