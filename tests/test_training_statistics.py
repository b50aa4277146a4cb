"""Statistics a reviewer checks: patient-bootstrap intervals that keep how often a patient was drawn,
the share of dropped resamples beside each interval, and no patient-level AUC from a handful of patients.

The per-patient metrics (pooled Dice, PSNR, SSIM) of a resample must weigh a patient drawn k times
k times; averaging over the patients present would count it once and narrow every interval (to
about 0.75x here). The widths are checked against the analytic bootstrap standard error of a mean
of K patient values, sd / sqrt(K): a wrong resampling is off by far more than Monte-Carlo noise.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from radcurate.training import metrics as M
from radcurate.training.config import TrainConfig
from radcurate.training.samples import TaskData

K = 40  # patients
PER = 3  # images per patient


def _patients():
    return np.repeat(np.array([f"P{i:02d}" for i in range(K)]), PER)


def _expected_width(v: np.ndarray) -> float:
    return 2 * 1.96 * np.std(v) / np.sqrt(len(v))


def test_a_patient_drawn_29_times_counts_29_times():
    patients = np.array(["P00", "P00", "P01"])
    stat = M.patient_weighted_mean(np.array([30.0, 60.0]), patients)
    ix = np.concatenate([np.tile([0, 1], 29), [2]])  # 29 x P00 (both its images) + 1 x P01
    assert stat(ix) == pytest.approx((29 * 30.0 + 60.0) / 30)


def test_psnr_interval_keeps_multiplicity():
    from radcurate.training.evaluate import _denoise

    rng = np.random.default_rng(1)
    patients = _patients()
    # per patient a different error level: images full dose 0.5 (0 HU), output off by delta
    delta = np.repeat(rng.uniform(0.002, 0.05, K), PER).astype(np.float32)
    y = torch.full((K * PER, 1, 16, 16), 0.5)
    noise = torch.from_numpy(rng.standard_normal((K * PER, 1, 16, 16)).astype(np.float32))
    out = y + torch.from_numpy(delta)[:, None, None, None] * noise
    data = TaskData(y.clone(), y, patients, np.array(["test"] * len(patients)), patients.copy())
    config = TrainConfig(task="denoise", bootstrap=2000)
    res = _denoise(data, out, config, None)
    psnr, _ = M.psnr_ssim(out * 2048 - 1024, y * 2048 - 1024, (-1000.0, 1000.0))
    per_patient = psnr.reshape(K, PER).mean(1)
    lo, hi = res["psnr_patient_ci"]
    assert (hi - lo) / _expected_width(per_patient) == pytest.approx(1.0, abs=0.12)
    assert res["psnr_patient"] == pytest.approx(per_patient.mean(), rel=1e-6)


def test_pooled_dice_interval_keeps_multiplicity():
    from radcurate.training.evaluate import _segment

    rng = np.random.default_rng(2)
    patients = _patients()
    n = K * PER
    truth = torch.zeros((n, 1, 16, 16))
    truth[:, :, 4:12, 4:12] = 1
    pred = truth.clone()
    # each patient's prediction misses a patient-specific share of the lesion
    miss = np.repeat(rng.integers(0, 8, K), PER)
    for i in range(n):
        pred[i, :, 4:4 + int(miss[i]), 4:12] = 0
    logits = (pred * 2 - 1) * 10
    data = TaskData(truth.clone(), truth, patients, np.array(["test"] * n), patients.copy())
    res = _segment(data, logits, TrainConfig(task="segment", bootstrap=2000), None)
    inter, total = M.dice_parts(pred.numpy(), truth.numpy())
    per_patient = inter.reshape(K, PER).sum(1) / total.reshape(K, PER).sum(1)
    lo, hi = res["dice_patient_ci"]
    assert (hi - lo) / _expected_width(per_patient) == pytest.approx(1.0, abs=0.12)
    assert res["dice_patient"] == pytest.approx(per_patient.mean(), rel=1e-6)


def _classify_data(n_pos_patients: int, n_patients: int = 20):
    patients = np.repeat(np.array([f"P{i:02d}" for i in range(n_patients)]), 2)
    y = np.zeros((len(patients), 2), np.float32)
    y[: 2 * n_pos_patients, 0] = 1  # finding A: n_pos_patients positive patients
    y[: n_patients:2, 1] = 1  # finding B: the first half of the patients, on their first image
    rng = np.random.default_rng(0)
    logits = torch.from_numpy((y * 1.5 + rng.standard_normal(y.shape)).astype(np.float32))
    data = TaskData(torch.zeros((len(patients), 1, 8, 8)), torch.from_numpy(y), patients,
                    np.array(["test"] * len(patients)), patients.copy(), mask=torch.ones_like(torch.from_numpy(y)),
                    weight=torch.ones_like(torch.from_numpy(y)), names=["A", "B"])
    return data, logits


def test_no_patient_auc_below_the_minimum_of_patients_per_class():
    from radcurate.training.evaluate import _classify, summary

    data, logits = _classify_data(n_pos_patients=1)
    res = _classify(data, logits, TrainConfig(task="classify", bootstrap=200), None)
    a = res["findings"]["A"]
    assert a["patients_positive"] == 1
    assert a["auc_patient"] is None or not np.isfinite(a["auc_patient"])
    assert str(M.MIN_PATIENTS_PER_CLASS) in a["auc_patient_note"]
    assert "A" not in res["macro_patient_over"] and "B" in res["macro_patient_over"]
    assert np.isfinite(res["findings"]["B"]["auc_patient"])
    text = summary({"task": "classify", "split": "test", "images": 40, "patients": 20, "data_version": "x",
                    "code_version": "y", **res})
    assert "fewer than" in text


def test_dropped_resamples_are_reported_beside_each_interval():
    from radcurate.training.evaluate import _classify, summary

    data, logits = _classify_data(n_pos_patients=2)  # A: 2 positive patients -> many resamples lack one
    res = _classify(data, logits, TrainConfig(task="classify", bootstrap=300), None)
    dropped = res["macro_auc_image_ci_dropped"]
    assert 0.05 < dropped < 1.0
    assert res["findings"]["A"]["auc_image_ci_dropped"] == pytest.approx(dropped, abs=0.2)
    text = summary({"task": "classify", "split": "test", "images": 40, "patients": 20, "data_version": "x",
                    "code_version": "y", **res})
    assert f"{100 * dropped:.0f}% dropped" in text
