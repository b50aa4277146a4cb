"""`radcurate synthesize lowdose|lesions` over a curated dataset: training-split parents only, tables
with provenance, quarantine for unusable parents, previews, and the pipeline's optional stages."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from radcurate.dags.cli import main
from radcurate.synthesis.phantom import LUNG_CENTER_Z, Phantom, render
from radcurate.synthesis.projection import project
from radcurate.images_table import decode_pixels, encode_pixels, images_schema

SPLIT = {"p-train-1": "train", "p-train-2": "train", "p-val": "val", "p-test": "test"}


def _row(patient, k, modality, img, spacing, **extra):
    buf, shape, dtype = encode_pixels(img)
    return {"instance_key": f"{patient}-i{k}", "series_key": f"{patient}-{modality}", "study_key": f"{patient}-st",
            "patient_key": patient, "frame_index": 0, "modality": modality, "body_part": "CHEST", "view": None,
            "preprocessing": "native", "rows": img.shape[0], "columns": img.shape[1],
            "pixel_spacing_row": spacing, "pixel_spacing_col": spacing, "slice_thickness": extra.get("thickness"),
            "slice_position": extra.get("z"), "slice_index": extra.get("index"),
            "photometric": "MONOCHROME2", "dtype": dtype, "shape": shape, "pixels": buf}


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    """A small curated dataset: per patient two CT slices (96², HU) and a radiograph (128²);
    one training CT slice lacks its pixel spacing."""
    root = tmp_path_factory.mktemp("synth_stage") / "out" / "curated"
    (root / "images").mkdir(parents=True)
    px = 360 / 96
    xs = (np.arange(96) - 48 + 0.5) * px
    ct, dx = [], []
    for p, (patient, _) in enumerate(SPLIT.items()):
        zs = np.array([LUNG_CENTER_Z + 20.0, LUNG_CENTER_Z + 40.0])
        vol = render(Phantom(seed=p), xs, xs, zs)
        for k, z in enumerate(zs):
            ct.append(_row(patient, k, "CT", np.rint(vol[k]).astype(np.int16), px, thickness=5.0, z=float(z), index=k))
        dx.append(_row(patient, 9, "DX", project(Phantom(seed=p), 128, 2.8, np.random.default_rng(p)), 2.8))
    ct[1]["pixel_spacing_row"] = ct[1]["pixel_spacing_col"] = None  # unusable parent
    for name, rows in (("part-ct.parquet", ct), ("part-dx.parquet", dx)):
        schema = images_schema(len(rows[0]["pixels"]))
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), root / "images" / name)
    pq.write_table(pa.table({"patient_key": list(SPLIT), "split": list(SPLIT.values()),
                             "fold": pa.array([0, 1, 0, 0], pa.int32())}), root / "splits.parquet")
    return root


def _read(folder):
    frames = [pq.read_table(p).to_pandas() for p in sorted(folder.glob("part-*.parquet"))]
    return pd.concat(frames, ignore_index=True)


def test_lowdose_pairs_from_training_ct_only(curated, capsys):
    code = main(["synthesize", "lowdose", "--curated", str(curated), "--dose", "0.25", "--dose", "0.1", "--views", "120"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "OK" in out and "quarantined: 1" in out
    df = _read(curated / "synthetic" / "lowdose")
    assert set(df["patient_key"]) == {"p-train-1", "p-train-2"}  # never val or test
    assert len(df) == 3 * 2  # three usable training slices x two doses
    assert set(df["dose_fraction"]) == {0.25, 0.1}
    assert (df["instance_key"] == df["parent_instance_key"]).all()
    row = df[df["dose_fraction"] == 0.1].iloc[0]
    params = json.loads(row["parameters"])
    assert params["geometry"] == "parallel" and params["views"] == 120 and row["generator"].startswith("radcurate.lowdose")
    low = decode_pixels(row["pixels"], row["shape"], row["dtype"]).astype(float)
    full = decode_pixels(row["full_dose_pixels"], row["shape"], row["dtype"]).astype(float)
    assert low.shape == (96, 96) and row["dtype"] == "int16"
    assert 5.0 < np.std(low - full) < 300.0  # noise added, anatomy kept
    assert abs(np.mean(low - full)) < 5.0
    quarantine = pq.read_table(curated.parent / "quarantine.parquet").to_pandas()
    assert list(quarantine.loc[quarantine["stage"] == "synthesize_lowdose", "reason"]) == ["no_pixel_spacing"]
    assert (curated / "synthetic" / "lowdose_preview.png").stat().st_size > 1000
    # rerunning gives the same rows (seeds per parent and dose)
    assert main(["synthesize", "lowdose", "--curated", str(curated), "--dose", "0.25", "--dose", "0.1", "--views", "120"]) == 0
    again = _read(curated / "synthetic" / "lowdose")
    assert sorted(again["synthetic_key"]) == sorted(df["synthetic_key"])
    assert set(again["pixels"]) == set(df["pixels"])


def test_lesions_into_training_ct_and_radiographs(curated, capsys):
    code = main(["synthesize", "lesions", "--curated", str(curated), "--seed", "4"])
    out = capsys.readouterr().out
    assert code == 0, out
    df = _read(curated / "synthetic" / "lesions")
    assert set(df["patient_key"]) <= {"p-train-1", "p-train-2"}
    quarantine = pq.read_table(curated.parent / "quarantine.parquet").to_pandas()
    q = quarantine[quarantine["stage"] == "synthesize_lesions"]
    assert len(df) + len(q) == 6  # 4 CT slices + 2 radiographs of training patients
    assert {"CT", "DX"} <= set(df["modality"])
    for _, r in df.iterrows():
        mask = np.frombuffer(r["mask"], np.uint8).reshape(r["box_y1"] - r["box_y0"], r["box_x1"] - r["box_x0"])
        assert mask.sum() > 0 and r["box_x0"] <= r["center_col"] < r["box_x1"]
        assert r["long_axis_mm"] >= r["short_axis_mm"] > 0
        assert json.loads(r["parameters"])["model"]["long_mm"] == pytest.approx(r["diameter_mm"])
    assert (curated / "synthetic" / "lesions_preview.png").exists()


def test_the_expectation_catches_a_val_patient_among_synthetic_rows(curated):
    from radcurate.checks import validate
    from radcurate.synthesis.checks import synthesis_suites

    assert main(["synthesize", "lowdose", "--curated", str(curated), "--views", "60", "--max-parents", "1"]) == 0
    part = sorted((curated / "synthetic" / "lowdose").glob("part-*.parquet"))[0]
    table = pq.read_table(part).to_pandas()
    table.loc[0, "patient_key"] = "p-val"
    pq.write_table(pa.Table.from_pandas(table, schema=pq.read_schema(part), preserve_index=False), part)
    results = validate(curated.parent, synthesis_suites("lowdose")(curated.parent, {}, {"parents": 1}))
    failed = [c for r in results for c in r.checks if not c.success]
    assert [c.expectation for c in failed] == ["expect_column_values_to_be_in_set"]


def test_bad_usage_exits_2(tmp_path, curated, capsys):
    assert main(["synthesize", "lowdose", "--curated", str(tmp_path)]) == 2
    assert main(["synthesize", "lesions", "--curated", str(curated), "--dose", "0.5"]) == 2
    assert "lowdose setting" in capsys.readouterr().err


def test_pipeline_runs_synthesis_stages_only_when_configured(tmp_path):
    from radcurate.dags.config import load_config
    from radcurate.dags.pipeline import PIPELINE, active

    assert not any(s.name.startswith("synthesize") for s in active(PIPELINE, {}))
    cfg = tmp_path / "run.yaml"
    cfg.write_text("synthesize_lowdose: {dose_fractions: [0.5], geometry: fan}\n")
    config = load_config(str(cfg))
    names = [s.name for s in active(PIPELINE, config)]
    assert names[-1] == "synthesize_lowdose" and "synthesize_lesions" not in names
    cfg.write_text("synthesize_lowdose: {dose: 0.5}\n")
    with pytest.raises(ValueError, match="unknown synthesize_lowdose setting"):
        load_config(str(cfg))
