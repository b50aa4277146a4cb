"""Label evaluation: confusion counts, P/R/F1, micro/macro and bootstrap CIs by report."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radcurate.labeling import evaluate_labels


def gold_and_pred():
    gold = pd.DataFrame({"report_id": [f"r{i}" for i in range(10)],
                         "Effusion": [1, 1, 1, 1, 0, 0, 0, 0, 0, 0],
                         "Nodule": [1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                         "Hernia": 0, "normal": 1})
    pred = pd.DataFrame([
        *({"report_id": f"r{i}", "vocabulary": "chestxray14", "finding": "Effusion", "value": 1}
          for i in (0, 1, 2, 5)),                      # 3 TP, 1 FP, 1 FN
        {"report_id": "r3", "vocabulary": "chestxray14", "finding": "Effusion", "value": -1},
        {"report_id": "r0", "vocabulary": "chestxray14", "finding": "Nodule", "value": 0},
        {"report_id": "r9", "vocabulary": "chexpert", "finding": "Nodule", "value": 1},
    ])
    return gold, pred


def test_counts_precision_recall_f1_per_finding():
    gold, pred = gold_and_pred()
    ev = evaluate_labels(gold, pred, n_boot=200, seed=1)
    eff = ev.per_finding.loc["Effusion"]
    assert (eff.tp, eff.fp, eff.fn, eff.tn) == (3, 1, 1, 5)  # uncertain is not positive
    assert eff.precision == pytest.approx(0.75) and eff.recall == pytest.approx(0.75)
    nod = ev.per_finding.loc["Nodule"]
    assert (nod.tp, nod.fn) == (0, 1)  # the chexpert row does not count for chestxray14
    assert ev.micro_f1 == pytest.approx(2 * 3 / (2 * 3 + 1 + 2))
    assert ev.macro_f1 == pytest.approx((0.75 + 0.0) / 2)  # Hernia never occurs: left out
    assert ev.n_reports == 10


def test_confidence_intervals_bracket_the_estimate_and_are_reproducible():
    gold, pred = gold_and_pred()
    a = evaluate_labels(gold, pred, n_boot=300, seed=7)
    b = evaluate_labels(gold, pred, n_boot=300, seed=7)
    pd.testing.assert_frame_equal(a.summary, b.summary)
    lo, hi = a.summary.loc["micro", ["f1_lo", "f1_hi"]]
    assert lo <= a.micro_f1 <= hi and hi - lo > 0.05
    assert "Effusion" in a.table() and "micro" in a.table()


def test_long_gold_and_missing_reports_are_understood():
    gold, pred = gold_and_pred()
    long_gold = gold.melt(id_vars="report_id", value_vars=["Effusion", "Nodule", "Hernia"],
                          var_name="finding", value_name="value")
    wide = evaluate_labels(gold, pred, n_boot=0)
    long = evaluate_labels(long_gold, pred, n_boot=0)
    assert np.isclose(wide.micro_f1, long.micro_f1)
    nothing = evaluate_labels(gold, pred.iloc[:0], n_boot=0)
    assert nothing.per_finding["tp"].sum() == 0 and nothing.per_finding["fn"].sum() == 5


def test_gold_without_findings_is_a_clear_error():
    with pytest.raises(ValueError, match="finding"):
        evaluate_labels(pd.DataFrame({"report_id": ["a"], "other": [1]}),
                        pd.DataFrame(columns=["report_id", "finding", "value"]))
