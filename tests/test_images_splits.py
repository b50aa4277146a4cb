"""Patient-level splits: evaluation by case, rare findings in every split where the counts allow,
and a split that never moves a patient when more patients arrive."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from radcurate.images import SplitsConfig, assign_splits, patient_strata, run_splits


def keys(n, start=0):
    """Patient pseudonyms shaped like the Keyer's (P- + 16 hex digits)."""
    return [f"P-{hashlib.sha256(str(i).encode()).hexdigest()[:16]}" for i in range(start, start + n)]


def cohort(patients, seed=0):
    """Studies and labels of a cohort: common findings, a rare one (Hernia, 6 patients) and healthy patients."""
    rng = np.random.default_rng(seed)
    studies = pd.DataFrame({"patient_key": patients, "study_key": [f"S{p}" for p in patients]})
    rows = []
    for i, p in enumerate(patients):
        for finding, rate in (("Effusion", 0.3), ("Nodule", 0.2)):
            rows.append((f"S{p}", "chestxray14", finding, int(rng.random() < rate)))
        rows.append((f"S{p}", "chestxray14", "Hernia", int(i % 50 == 7)))
    labels = pd.DataFrame(rows, columns=["study_key", "vocabulary", "finding", "value"])
    return studies, labels


def test_fractions_rare_findings_in_every_split_and_balanced_folds():
    patients = keys(300)
    studies, labels = cohort(patients)
    strata = patient_strata(patients, labels, studies)
    assert (strata == "Hernia").sum() == 6
    s = assign_splits(strata, SplitsConfig(folds=5))
    assert s["patient_key"].is_unique and len(s) == 300
    share = s["split"].value_counts(normalize=True)
    assert share["train"] == pytest.approx(0.8, abs=0.03) and share["val"] == pytest.approx(0.1, abs=0.03)
    hernia = s[s["patient_key"].isin(strata.index[strata == "Hernia"])]
    assert set(hernia["split"]) == {"train", "val", "test"}  # 6 patients: one at least in each split
    dev = s[s["split"] != "test"]
    assert s.loc[s["split"] == "test", "fold"].isna().all() and dev["fold"].notna().all()
    per_fold = dev["fold"].value_counts()
    assert len(per_fold) == 5 and per_fold.max() - per_fold.min() <= 4
    assert assign_splits(strata, SplitsConfig(folds=5)).equals(s)  # deterministic


def test_adding_patients_never_moves_an_earlier_patient():
    first, later = keys(120), keys(60, start=1000)
    studies, labels = cohort(first + later, seed=1)
    before = assign_splits(patient_strata(first, labels, studies))
    after = assign_splits(patient_strata(first + later, labels, studies), previous=before)
    kept = after.set_index("patient_key").loc[before["patient_key"]]
    assert (kept["split"].to_numpy() == before["split"].to_numpy()).all()
    assert (kept["fold"].fillna(-1).to_numpy() == before["fold"].fillna(-1).to_numpy()).all()
    new = after[after["patient_key"].isin(later)]
    assert len(new) == 60 and set(new["split"]) == {"train", "val", "test"}
    assert after["split"].value_counts(normalize=True)["train"] == pytest.approx(0.8, abs=0.05)


def test_no_patient_study_or_image_in_two_splits_and_reruns_keep_them(images_run, tmp_path):
    out, _ = images_run
    curated = out / "curated"
    splits = pd.read_parquet(curated / "splits.parquet")
    per_image = pd.read_parquet(curated / "image_splits.parquet")
    studies = pd.read_parquet(curated / "studies.parquet")
    assert splits["patient_key"].is_unique and set(splits["patient_key"]) == set(studies["patient_key"])
    assert per_image["split"].notna().all() and per_image["instance_key"].is_unique
    instances = pd.read_parquet(curated / "instances.parquet")
    assert set(per_image["instance_key"]) == set(instances["instance_key"])
    assert (per_image.groupby("study_key")["split"].nunique() == 1).all()
    assert (per_image.groupby("patient_key")["split"].nunique() == 1).all()
    # three patients, each its own rare finding: pooled, one per split
    assert sorted(splits["split"]) == ["test", "train", "val"]
    manifest = json.loads((out / "manifest.json").read_text())
    checks = [c for suite in manifest["stages"]["splits"]["validation"] for c in suite["checks"]]
    assert any("no image in two splits" in c["why"] for c in checks) and all(c["success"] for c in checks)
    # a rerun with other fractions keeps every assigned patient where it was
    result = run_splits(curated, SplitsConfig(train=0.5, val=0.25, test=0.25))
    assert result["kept"] == len(splits)
    again = pd.read_parquet(curated / "splits.parquet")
    assert again[["patient_key", "split", "fold"]].equals(splits[["patient_key", "split", "fold"]])
