"""The label model learns how good each labeling function is without being told."""
from __future__ import annotations

import numpy as np

from radcurate.labeling.label_model import ABSTAIN, NEGATIVE, POSITIVE, UNCERTAIN, DawidSkene


def synthetic_votes(n, prevalence, accuracies, coverages, seed=0, uncertain_rate=0.0):
    """Votes from functions with known accuracy (P right | voted) and coverage (P voted)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(int)
    votes = np.full((n, len(accuracies)), ABSTAIN, dtype=np.int8)
    for j, (acc, cov) in enumerate(zip(accuracies, coverages)):
        voted = rng.random(n) < cov
        right = rng.random(n) < acc
        said_present = np.where(right, y == 1, y == 0)
        votes[voted & said_present, j] = POSITIVE
        votes[voted & ~said_present, j] = NEGATIVE
        unsure = voted & (y == 1) & (rng.random(n) < uncertain_rate)
        votes[unsure, j] = UNCERTAIN
    return y, votes


def test_recovers_known_function_accuracies_without_gold():
    accuracies = [0.95, 0.85, 0.75, 0.9, 0.65]
    coverages = [0.9, 0.7, 0.8, 0.5, 0.95]
    y, votes = synthetic_votes(6000, 0.3, accuracies, coverages, seed=1)
    model = DawidSkene().fit(votes)
    assert np.allclose(model.accuracies_, accuracies, atol=0.05), model.accuracies_
    assert abs(model.prior_[1] - y.mean()) < 0.05
    # the posterior beats the best single function
    pred = model.predict_proba(votes) >= 0.5
    assert (pred == y).mean() > 0.95


def test_silence_counts_as_evidence_of_absence():
    # Rules that only fire on present findings: all of them abstaining means "absent".
    rng = np.random.default_rng(2)
    n = 4000
    y = (rng.random(n) < 0.15).astype(int)
    votes = np.full((n, 3), ABSTAIN, dtype=np.int8)
    for j, (sens, false_alarm) in enumerate([(0.9, 0.005), (0.7, 0.02), (0.6, 0.01)]):
        fires = np.where(y == 1, rng.random(n) < sens, rng.random(n) < false_alarm)
        votes[fires, j] = POSITIVE
    p = DawidSkene().fit(votes).predict_proba(votes)
    silent = (votes == ABSTAIN).all(axis=1)
    assert p[silent].max() < 0.2
    assert ((p >= 0.5) == y).mean() > 0.97


def test_reviewed_items_calibrate_a_misleading_majority():
    # Three worse-than-chance functions outvote a good one; gold on 5 % of the items fixes it.
    rng = np.random.default_rng(3)
    n = 3000
    y = (rng.random(n) < 0.4).astype(int)
    cols = [np.where(rng.random(n) < acc, y, 1 - y) for acc in (0.95, 0.3, 0.3, 0.3)]
    votes = np.where(np.column_stack(cols) == 1, POSITIVE, NEGATIVE).astype(np.int8)
    unsupervised = DawidSkene().fit(votes).predict_proba(votes)
    known = np.full(n, np.nan)
    reviewed = rng.choice(n, 150, replace=False)
    known[reviewed] = y[reviewed]
    model = DawidSkene().fit(votes, known=known)
    p = model.predict_proba(votes)
    assert ((unsupervised >= 0.5) == y).mean() < 0.5
    assert ((p >= 0.5) == y).mean() > 0.9
    # the good function is found; the misleading ones are judged no better than a coin (the model
    # never lets a positive vote argue for absence)
    assert model.accuracies_[0] > 0.9 and model.accuracies_[1:].max() < 0.55


def test_uncertain_votes_get_their_own_learned_meaning():
    y, votes = synthetic_votes(5000, 0.3, [0.9, 0.85, 0.8], [0.8, 0.8, 0.8], seed=4,
                               uncertain_rate=0.3)
    model = DawidSkene().fit(votes)
    c = model.confusion_
    # uncertain votes were only cast on present findings, and the model sees that
    assert (c[:, 1, UNCERTAIN] > 5 * c[:, 0, UNCERTAIN]).all()
