"""Batched augmentation (the loader's transform hook) and class-balanced oversampling."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from radcurate.training.augment import (AugmentConfig, BatchAugment, balanced_sampler, ct_recipe,
                                        oversampling_weights, per_image_transform, radiograph_recipe)

STILL = AugmentConfig(rotate_deg=0, scale=(1, 1), translate=0, crop=(1, 1), elastic_prob=0, contrast=0,
                      brightness=0, noise=0)


def _blob_batch(b=8, n=64):
    x = torch.zeros(b, 1, n, n)
    m = torch.zeros(b, 1, n, n, dtype=torch.uint8)
    x[:, :, 20:34, 26:40] = 1.0
    m[:, :, 20:34, 26:40] = 1
    return x + 0.1, m


def test_an_identity_recipe_returns_the_batch():
    x = torch.rand(4, 1, 40, 56)
    assert torch.allclose(BatchAugment(STILL)(x), x, atol=1e-5)


def test_each_image_gets_its_own_transform_and_masks_follow_the_image():
    x, m = _blob_batch()
    aug = BatchAugment(radiograph_recipe(), torch.Generator().manual_seed(0))
    out, moved = aug(x, m)
    assert out.shape == x.shape and moved.dtype == torch.uint8
    assert len({tuple(out[i].flatten()[:50].tolist()) for i in range(len(out))}) == len(out)
    for i in range(len(out)):
        bright = out[i, 0] > 0.6  # the blob, wherever it went
        mask = moved[i, 0].bool()
        overlap = (bright & mask).sum() / max(int(mask.sum()), 1)
        assert overlap > 0.8
        # label-preserving: the blob is still in the picture with about its area (scale 0.9-1.1, crop)
        assert 0.6 * 196 < mask.sum() < 1.8 * 196


def test_no_flips_by_default_and_flips_only_when_allowed():
    x = torch.zeros(16, 1, 32, 32)
    x[:, :, :, :8] = 1.0  # the patient's right side bright
    still = BatchAugment(STILL)(x)
    assert (still[:, 0, :, :8].mean(dim=(1, 2)) > 0.9).all()
    flip = AugmentConfig(**{**STILL.__dict__, "flip_lr": True})
    out = BatchAugment(flip, torch.Generator().manual_seed(1))(x)
    flipped = out[:, 0, :, -8:].mean(dim=(1, 2)) > 0.9
    assert 0 < int(flipped.sum()) < 16


def test_reproducible_with_a_generator_and_ct_keeps_air_outside():
    x = torch.full((2, 1, 48, 48), -1000.0)
    x[:, :, 8:40, 8:40] = 40.0
    a = BatchAugment(ct_recipe(), torch.Generator().manual_seed(7))(x)
    b = BatchAugment(ct_recipe(), torch.Generator().manual_seed(7))(x)
    assert torch.equal(a, b)
    assert a[:, :, 0, 0].mean() < -900  # corners come in as air, not 0 HU


def test_per_image_monai_recipe_runs_on_one_image():
    img = torch.rand(1, 64, 64)
    out = per_image_transform(radiograph_recipe())(img)
    assert tuple(out.shape) == (1, 64, 64)


def _features(out: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Per image: blob centroid shift and area ratio (spatial), mean shift in input SDs and the SD of
    the flat background's residual noise in input SDs (intensity)."""
    thr = (out.max(axis=(1, 2), keepdims=True) + np.median(out, axis=(1, 2), keepdims=True)) / 2
    blob = out > thr
    yy, xx = np.mgrid[:n, :n]
    area = blob.sum((1, 2))
    cy = (blob * yy).sum((1, 2)) / np.maximum(area, 1)
    cx = (blob * xx).sum((1, 2)) / np.maximum(area, 1)
    corner = out[:, 2:14, 2:14]
    rough = corner - (np.roll(corner, 1, 1) + np.roll(corner, -1, 1) + np.roll(corner, 1, 2) + np.roll(corner, -1, 2)) / 4
    return {"shift": np.hypot(cy - 31.5, cx - 31.5), "area": area / 256.0,
            "mean": out.mean((1, 2)), "noise": rough[:, 1:-1, 1:-1].std((1, 2))}


def test_the_per_image_monai_recipe_matches_batch_augment_in_distribution():
    """The same recipe run both ways on 300 CT-like images (HU: air -1000, a 16 px soft-tissue square):
    the distributions of translation, zoom, intensity shift and added noise agree (mean and SD within
    15 % of the batched spread), so the benchmark's speed ratio compares like with like."""
    n, count = 64, 300
    img = torch.full((1, n, n), -1000.0)
    img[:, 24:40, 24:40] = 40.0
    rng = torch.Generator().manual_seed(0)
    cfg = dataclasses.replace(ct_recipe(), elastic_prob=0.0)
    batched = BatchAugment(cfg, rng)(img[None].repeat(count, 1, 1, 1))[:, 0].numpy()
    per = per_image_transform(cfg, seed=0)
    single = np.stack([np.asarray(per(img.clone()))[0] for _ in range(count)])
    a, b = _features(batched, n), _features(single, n)
    for name in ("shift", "area", "mean", "noise"):
        spread = a[name].std()
        assert abs(a[name].mean() - b[name].mean()) < 0.15 * spread, (name, a[name].mean(), b[name].mean(), spread)
        assert 0.8 < b[name].std() / spread < 1.25, (name, a[name].std(), b[name].std())


def test_training_import_needs_no_dicom_nlp_or_dask():
    code = ("import sys; import radcurate.training.augment, radcurate.synthesis.lowdose, radcurate.synthesis.lesions;"
            "bad=[m for m in ('pydicom','spacy','dask','distributed') if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_oversampling_draws_rare_findings_as_often_as_common_ones():
    rng = np.random.default_rng(0)
    n = 1000
    df = pd.DataFrame({"split": "train", "Nodule": (rng.random(n) < 0.02).astype(float),
                       "Effusion": (rng.random(n) < 0.3).astype(float)})
    sampler = balanced_sampler(df, ["Nodule", "Effusion"], num_samples=20000, generator=torch.Generator().manual_seed(0))
    drawn = df.iloc[list(sampler)]
    nodule = drawn["Nodule"].mean()
    effusion_only = ((drawn["Nodule"] == 0) & (drawn["Effusion"] == 1)).mean()
    none = ((drawn["Nodule"] == 0) & (drawn["Effusion"] == 0)).mean()
    assert nodule > 10 * df["Nodule"].mean()  # 2 % of the data, ~ a third of the draws (ratio capped at 20)
    for share in (nodule, effusion_only, none):
        assert 0.2 < share < 0.45


def test_oversampling_refuses_val_or_test_rows():
    df = pd.DataFrame({"split": ["train", "val"], "Nodule": [1.0, 0.0]})
    with pytest.raises(ValueError, match="training split only"):
        oversampling_weights(df, ["Nodule"])


def test_as_the_loaders_transform_hook_it_changes_images_and_keeps_labels():
    x, m = _blob_batch(4)
    batch = {"image": x, "label": torch.tensor([[1.0], [0.0], [1.0], [0.0]]), "instance_key": ["a", "b", "c", "d"]}
    out = BatchAugment(radiograph_recipe(), torch.Generator().manual_seed(2))(batch)
    assert out["image"].shape == x.shape and not torch.equal(out["image"], x)
    assert out["label"] is batch["label"] and out["instance_key"] == ["a", "b", "c", "d"]
    out = BatchAugment(radiograph_recipe())({**batch, "mask": m})
    assert out["mask"].dtype == torch.uint8 and out["mask"].shape == m.shape
