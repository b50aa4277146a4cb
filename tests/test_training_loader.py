"""A trainer's story: open the curated dataset in PyTorch, pick a split, fold, findings and label
policy, and get every training image exactly once per epoch, whatever the number of workers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from radcurate.images_table import read_images
from radcurate.training.loader import CuratedImages, collate, make_loader, series_volume


@pytest.fixture(scope="module")
def curated(images_run):
    return images_run[0] / "curated"


def expected_keys(curated, split, modality="CT"):
    per_image = pd.read_parquet(curated / "image_splits.parquet")
    images = read_images(curated, columns=["instance_key", "frame_index", "preprocessing", "modality"])
    images = images[(images["preprocessing"] == "native") & (images["modality"] == modality)]
    keep = set(per_image.loc[per_image["split"] == split, "instance_key"]) if split else set(per_image["instance_key"])
    return sorted((k, int(f)) for k, f in zip(images["instance_key"], images["frame_index"]) if k in keep)


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_every_training_image_exactly_once_per_epoch(curated, workers):
    want = expected_keys(curated, "train")
    ds = CuratedImages(curated, "train", modalities=["CT"], batch_size=5, seed=3)
    assert len(ds.units) > 2 and ds.num_samples == len(want) > 0
    loader = DataLoader(ds, batch_size=None, num_workers=workers)
    orders = []
    for epoch in range(2):
        ds.set_epoch(epoch)
        got = [(k, int(f)) for b in loader for k, f in zip(b["instance_key"], b["frame_index"])]
        assert sorted(got) == want  # no duplicate, no drop
        orders.append(got)
    assert orders[0] != orders[1]  # reshuffled each epoch


@pytest.mark.parametrize("workers", [0, 2])
def test_single_samples_with_collate_cover_every_split_once(curated, workers):
    for split in ("train", "val", "test"):
        ds = CuratedImages(curated, split, modalities=["CT"])
        loader = DataLoader(ds, batch_size=4, num_workers=workers, collate_fn=collate)
        got = []
        for batch in loader:
            assert batch["image"].dtype == torch.int16 and batch["image"].shape[1:] == (1, 128, 128)
            assert batch["label"].shape == batch["label_mask"].shape == (len(batch["instance_key"]), 15)  # 14 + Normal
            got += [(k, int(f)) for k, f in zip(batch["instance_key"], batch["frame_index"])]
        assert sorted(got) == expected_keys(curated, split)


def test_labels_follow_the_chosen_policy(curated):
    labels = pd.read_parquet(curated / "labels.parquet")
    labels = labels[labels["vocabulary"] == "chestxray14"]
    uncertain = labels[labels["value"] == -1].iloc[0]
    certain = labels[labels["value"].isin([0, 1])]
    findings = [uncertain["finding"]]

    def targets(policy):
        ds = CuratedImages(curated, None, findings=findings, label_policy=policy, modalities=["CT", "DX", "CR"],
                           shuffle=False)
        out = {}
        for s in ds:
            out[s["study_key"]] = (float(s["label"][0]), bool(s["label_mask"][0]))
        return out

    for policy, want in (("u_zeros", (0.0, True)), ("u_ones", (1.0, True)), ("u_ignore", (0.0, False)),
                         ("probability", (pytest.approx(float(uncertain["probability"])), True))):
        assert targets({findings[0]: policy})[uncertain["study_key"]] == want, policy
    got = targets("u_zeros")
    same = certain[certain["finding"] == findings[0]]
    for row in same.itertuples():
        if row.study_key in got:
            assert got[row.study_key] == (float(row.value), True)


def test_folds_split_the_development_patients_without_overlap(curated):
    splits = pd.read_parquet(curated / "splits.parquet")
    dev = set(splits.loc[splits["split"].isin(["train", "val"]), "patient_key"])
    for fold in range(int(splits["fold"].max()) + 1):
        tr = CuratedImages(curated, "train", fold=fold, modalities=["CT"])
        va = CuratedImages(curated, "val", fold=fold, modalities=["CT"])
        tr_pat = {p for u in tr.units for p in u.keys["patient_key"]}
        va_pat = {p for u in va.units for p in u.keys["patient_key"]}
        assert not tr_pat & va_pat and tr_pat | va_pat <= dev


def test_batches_reach_the_device_through_the_transform_hook(curated):
    seen = []

    def normalise(batch):  # what augmentation code plugs in: runs on the device, batch in, batch out
        seen.append(batch["image"].device)
        return {**batch, "image": (batch["image"].float() + 1000.0) / 1000.0}

    loader = make_loader(curated, "train", batch_size=8, num_workers=2, transform=normalise,
                         modalities=["CT"], pin_memory=False)
    n = 0
    for batch in loader:
        assert batch["image"].dtype == torch.float32 and batch["image"].shape[1:] == (1, 128, 128)
        n += len(batch["instance_key"])
    assert n == len(expected_keys(curated, "train")) and seen and all(d.type == "cpu" for d in seen)


def test_a_ct_series_assembles_into_a_volume_in_slice_order(curated):
    images = read_images(curated, columns=["series_key", "modality", "slice_index"])
    series = images.loc[images["modality"] == "CT", "series_key"].iloc[0]
    vol, z = series_volume(curated, series)
    n = int((images["series_key"] == series).sum())
    assert vol.shape == (n, 128, 128) and vol.dtype == np.int16
    assert np.all(np.diff(z) > 0) or np.all(np.diff(z) < 0)
