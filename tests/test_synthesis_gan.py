"""`radcurate synthesize gan`: lesion / no-lesion patches of training-split patients only, a class-
conditional GAN that trains, resumes and samples on CPU, samples with provenance, and conditioning a
classifier trained on real patches recognises."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from radcurate.dags.cli import main
from radcurate.synthesis.gan_patches import CLASSES, extract_patches
from radcurate.synthesis.phantom import LUNG_CENTER_Z, Phantom, render
from radcurate.images_table import decode_pixels, encode_pixels, images_schema

SPLIT = {"p-train-1": "train", "p-train-2": "train", "p-train-3": "train", "p-val": "val", "p-test": "test"}
SLICES = 8


def _row(patient, k, img, spacing, z):
    buf, shape, dtype = encode_pixels(img)
    return {"instance_key": f"{patient}-i{k}", "series_key": f"{patient}-CT", "study_key": f"{patient}-st",
            "patient_key": patient, "frame_index": 0, "modality": "CT", "body_part": "CHEST", "view": None,
            "preprocessing": "native", "rows": img.shape[0], "columns": img.shape[1],
            "pixel_spacing_row": spacing, "pixel_spacing_col": spacing, "slice_thickness": 5.0,
            "slice_position": z, "slice_index": k, "photometric": "MONOCHROME2", "dtype": dtype, "shape": shape,
            "pixels": buf}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small convolutions run faster on one thread than on oversubscribed CI cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    """Phantom CT slices of 5 patients (3 train, 1 val, 1 test), lesions inserted by
    `radcurate synthesize lesions` (training split), and a lesion table with val/test rows."""
    root = tmp_path_factory.mktemp("gan") / "out" / "curated"
    (root / "images").mkdir(parents=True)
    px = 360 / 96
    xs = (np.arange(96) - 48 + 0.5) * px
    rows = []
    for p, patient in enumerate(SPLIT):
        zs = LUNG_CENTER_Z + np.linspace(-30.0, 50.0, SLICES)
        vol = render(Phantom(seed=p), xs, xs, zs)
        rows += [_row(patient, k, np.rint(vol[k]).astype(np.int16), px, float(z)) for k, z in enumerate(zs)]
    pq.write_table(pa.Table.from_pylist(rows, schema=images_schema(len(rows[0]["pixels"]))), root / "images" / "part-0.parquet")
    pq.write_table(pa.table({"patient_key": list(SPLIT), "split": list(SPLIT.values()),
                             "fold": pa.array([0, 1, 2, 0, 0], pa.int32())}), root / "splits.parquet")
    # readers' measurements on held-out patients: must never become training patches
    held = [r for r in rows if SPLIT[r["patient_key"]] != "train"][::4]
    pq.write_table(pa.table({
        "lesion_key": [f"L{i}" for i in range(len(held))], "patient_key": [r["patient_key"] for r in held],
        "study_key": [r["study_key"] for r in held], "series_key": [r["series_key"] for r in held],
        "instance_key": [r["instance_key"] for r in held], "source": ["GSPS"] * len(held),
        "long_axis_mm": [20.0] * len(held), "finding": ["nodule"] * len(held),
        "box_x0": pa.array([40] * len(held), pa.int32()), "box_y0": pa.array([40] * len(held), pa.int32()),
        "box_x1": pa.array([46] * len(held), pa.int32()), "box_y1": pa.array([46] * len(held), pa.int32())}),
        root / "lesions.parquet")
    cfg = root.parent / "lesions.json"
    cfg.write_text(json.dumps({"diameter_mm": [8.0, 45.0], "hu": [20.0, 60.0], "max_parents": None}))
    assert main(["synthesize", "lesions", "--curated", str(root), "--config", str(cfg), "--seed", "3"]) == 0
    return root


def test_patches_come_from_training_patients_with_per_class_counts(curated):
    x, meta = extract_patches(curated)
    assert x.shape[1:] == (32, 32) and x.min() >= -1 and x.max() <= 1
    assert set(meta["patient_key"]) <= {p for p, s in SPLIT.items() if s == "train"}
    counts = meta["class_name"].value_counts()
    assert counts["nodule"] > 0 and counts["mass"] > 0 and counts["no_lesion"] > 0
    assert (meta.loc[meta["class_name"] == "mass", "long_axis_mm"] >= 30).all()
    held_x, held = extract_patches(curated, ("val", "test"))
    assert set(held.loc[held["source"].str.startswith("lesions"), "patient_key"]) == {"p-val", "p-test"}


def test_gan_trains_resumes_samples_with_provenance_and_conditioning(curated, capsys):
    args = ["synthesize", "gan", "--curated", str(curated), "--samples-per-class", "24", "--seed", "0"]
    assert main(args + ["--steps", "60"]) == 0
    assert main(args + ["--steps", "240"]) == 0
    out = capsys.readouterr().out
    assert "resumed from 60" in out and "OK" in out
    frames = [pq.read_table(p).to_pandas() for p in sorted((curated / "synthetic" / "gan").glob("part-*.parquet"))]
    df = pd.concat(frames, ignore_index=True)
    assert len(df) == 24 * 3 and df["synthetic_key"].is_unique
    assert set(df["patient_key"]) <= {p for p, s in SPLIT.items() if s == "train"}  # never a val/test parent
    sha = df["checkpoint_sha256"].iloc[0]
    assert len(sha) == 64 and (df["checkpoint_sha256"] == sha).all()
    assert json.loads(df["parameters"].iloc[0])["checkpoint_sha256"] == sha
    assert df.groupby("class_name")["seed"].nunique().eq(24).all()
    assert (curated / "synthetic" / "gan_preview.png").stat().st_size > 0
    gen = np.stack([decode_pixels(b, s, d) for b, s, d in zip(df["pixels"], df["shape"], df["dtype"])])
    assert gen.dtype == np.int16 and gen.min() >= -1000 and gen.max() <= 400

    # conditioning: a classifier trained on the real training patches (classic augmentation, so that
    # it is not thrown by the generator's texture) recognises the requested class
    from radcurate.training.gan_eval import ClassifierConfig, predict, train_classifier
    from radcurate.synthesis.gan_patches import PatchConfig, to_unit

    x, meta = extract_patches(curated)
    clf = train_classifier(x, meta["label"].to_numpy(), len(CLASSES), ClassifierConfig(min_steps=120, augment=True))
    assert (predict(clf, x).argmax(1) == meta["label"].to_numpy()).mean() > 0.8
    pred = predict(clf, to_unit(gen.astype(np.float32), PatchConfig().window_hu)).argmax(1)
    accuracy = (pred == df["class_index"].to_numpy()).mean()
    assert accuracy > 0.5, accuracy  # chance is 1/3


def test_gan_bad_settings_exit_2(curated, capsys):
    assert main(["synthesize", "gan", "--curated", str(curated), "--dose", "0.5"]) == 2
    assert "lowdose setting" in capsys.readouterr().err
    assert main(["synthesize", "gan", "--curated", str(curated), "--steps", "0"]) == 2


def test_a_resumed_gan_reaches_the_weights_of_an_uninterrupted_one(curated, tmp_path):
    """Every random stream is restored on resume (the discriminator's dropout draws from torch's
    global generator): 30 steps, a stop, 30 more equal 60 straight."""
    import torch

    from radcurate.synthesis.gan import GanConfig, train_gan

    x, meta = extract_patches(curated)
    y = meta["label"].to_numpy()
    straight, _ = train_gan(x, y, GanConfig(steps=60, batch_size=16, device="cpu"), tmp_path / "a.pt")
    train_gan(x, y, GanConfig(steps=30, batch_size=16, device="cpu", checkpoint_every=30), tmp_path / "b.pt")
    torch.manual_seed(12345)  # whatever ran in between moved the global streams
    resumed, stats = train_gan(x, y, GanConfig(steps=60, batch_size=16, device="cpu"), tmp_path / "b.pt")
    assert stats["resumed_from"] == 30
    a, b = straight.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_gan_rows_have_their_own_keys_and_real_only_patches_leave_inserted_lesions_out(curated):
    assert main(["synthesize", "gan", "--curated", str(curated), "--samples-per-class", "4", "--steps", "20"]) == 0
    df = pd.concat([pq.read_table(p).to_pandas() for p in sorted((curated / "synthetic" / "gan").glob("part-*.parquet"))])
    assert df["instance_key"].is_unique and (df["instance_key"] == df["synthetic_key"]).all()
    assert not df["instance_key"].isin(df["parent_instance_key"]).any()
    _, with_inserted = extract_patches(curated)
    _, real = extract_patches(curated, inserted=False)
    assert with_inserted["source"].str.startswith("synthetic:").any()
    assert not real["source"].str.startswith("synthetic:").any()
