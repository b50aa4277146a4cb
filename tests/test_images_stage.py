"""A data team's story for the image side: `radcurate run` turns the curated DICOM into Parquet
pixels a trainer can stream, with patient-level splits; every image is there once, reads back
exactly as pydicom decodes it (CT in HU), and the odd file goes to quarantine, not into the data."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pydicom.data
import pytest
from pydicom.pixels import apply_modality_lut

from radcurate.dags.commands import format_summary
from radcurate.checks import validate
from radcurate.images.checks import images_suites
from radcurate.images import ImagesConfig, run_images
from radcurate.images_table import decode_pixels, read_images

PYDICOM_DATA = Path(os.path.dirname(pydicom.data.__file__))
SMALL_PARTS = {"row_group_mb": 0.25, "part_mb": 1.0, "task_mb": 2.0}  # many row groups, parts, tasks


def expected_pixels(ds: pydicom.Dataset) -> np.ndarray:
    """What a user expects back: pydicom's decoded array through the modality LUT; CT as int16 HU."""
    arr = ds.pixel_array
    if int(ds.get("SamplesPerPixel", 1)) > 1:
        return arr
    if ds.get("Modality") == "CT":
        return np.clip(np.rint(apply_modality_lut(arr, ds)), -32768, 32767).astype(np.int16)
    slope, intercept = float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)
    if "ModalityLUTSequence" in ds or (slope, intercept) != (1.0, 0.0):
        return apply_modality_lut(arr, ds).astype(np.float32)
    return arr


def frames_of(ds: pydicom.Dataset, arr: np.ndarray) -> list[np.ndarray]:
    return list(arr) if int(ds.get("NumberOfFrames", 1) or 1) > 1 else [arr]


@pytest.fixture(scope="module")
def run(images_run):
    return images_run


def test_one_row_per_image_and_pixels_equal_pydicom_for_every_transfer_syntax(run):
    out, _ = run
    curated = out / "curated"
    instances = pd.read_parquet(curated / "instances.parquet")
    images = read_images(curated)
    native = images[images["preprocessing"] == "native"]
    assert sorted(native["instance_key"]) == sorted(instances["instance_key"])  # one row per instance
    assert len(list((curated / "images").glob("part-*.parquet"))) > 3  # sharded
    syntaxes = set()
    by_key = native.set_index("instance_key")
    for inst in instances.itertuples():
        ds = pydicom.dcmread(curated / inst.path)
        syntaxes.add(str(ds.file_meta.TransferSyntaxUID))
        row = by_key.loc[inst.instance_key]
        got = decode_pixels(row["pixels"], row["shape"], row["dtype"])
        want = expected_pixels(ds)
        assert got.dtype == want.dtype and np.array_equal(got, want), inst.path
        assert (row["rows"], row["columns"]) == want.shape[:2]
        assert row["patient_key"] == inst.patient_key and row["study_key"] == inst.study_key
    # explicit and implicit VR, RLE lossless and deflated: every syntax the synthetic export uses
    assert {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.1.99"} <= syntaxes
    ct = native[native["modality"] == "CT"]
    assert set(ct["dtype"]) == {"int16"}
    for _, series in ct.groupby("series_key"):  # slice_index orders slices by position
        s = series.sort_values("slice_index")
        assert list(s["slice_index"]) == list(range(len(s)))
        assert s["slice_position"].is_monotonic_increasing or s["slice_position"].is_monotonic_decreasing


def test_radiographs_also_come_resized_and_padded_to_512(run):
    out, _ = run
    images = read_images(out / "curated")
    xr = images[images["modality"].isin(["DX", "CR"])]
    native, small = xr[xr["preprocessing"] == "native"], xr[xr["preprocessing"] == "resize512"]
    assert len(native) == len(small) > 0
    for row in small.itertuples():
        src = native[native["instance_key"] == row.instance_key].iloc[0]
        img = decode_pixels(row.pixels, row.shape, row.dtype)
        assert img.shape == (512, 512) and row.dtype == src["dtype"]
        scale = 512 / max(src["rows"], src["columns"])
        assert row.pixel_spacing_row == pytest.approx(src["pixel_spacing_row"] / scale)
        orig = decode_pixels(src["pixels"], src["shape"], src["dtype"]).astype(float)
        # same picture: the mean over the stored area matches the original's
        area = img[: round(src["rows"] * scale), : round(src["columns"] * scale)].astype(float)
        assert abs(area.mean() - orig.mean()) < 0.02 * (orig.max() - orig.min())


def test_ct_air_and_soft_tissue_read_back_at_their_hounsfield_units(run, synth_export):
    """The phantom's own label map says where air (-1000 HU) and soft tissue (+40 HU) are."""
    from radcurate.synthesis.config import ExportConfig
    from radcurate.synthesis.phantom import AIR, BODY, labels_at
    from radcurate.synthesis.plan import plan_export

    out, _ = run
    p = json.loads((synth_export / "truth" / "export.json").read_text())
    phantoms = {sp.accession: sp.phantom for pp in plan_export(p["seed"], p["patients"], ExportConfig(**p["config"]))
                for sp in pp.studies}
    crosswalk = pd.read_parquet(out / "phi" / "crosswalk.parquet")[["instance_key", "accession"]]
    inst = pd.read_parquet(out / "curated" / "instances.parquet").merge(crosswalk, on="instance_key")
    images = read_images(out / "curated", filters=[("modality", "=", "CT")]).merge(
        inst[["instance_key", "accession", "image_position", "pixel_spacing"]], on="instance_key")
    air, tissue = [], []
    for row in images[images["slice_index"] % 5 == 2].itertuples():  # a few slices of every series
        hu = decode_pixels(row.pixels, row.shape, row.dtype).astype(float)
        x0, y0, _ = row.image_position
        dy, dx = row.pixel_spacing
        xs, ys = x0 + dx * np.arange(row.columns), y0 + dy * np.arange(row.rows)
        lab = labels_at(phantoms[row.accession], xs[None, :], ys[:, None], row.slice_position)
        core = np.ones_like(lab, bool)  # pixels whose 5x5 neighbourhood is one tissue
        for sy in range(-2, 3):
            for sx in range(-2, 3):
                core &= np.roll(lab, (sy, sx), axis=(0, 1)) == lab
        air.append(hu[core & (lab == AIR)])
        tissue.append(hu[core & (lab == BODY)])
    air, tissue = np.concatenate(air), np.concatenate(tissue)
    assert len(air) > 1000 and len(tissue) > 1000
    assert abs(air.mean() - (-1000)) < 3 and abs(tissue.mean() - 40) < 3  # 6 HU noise, many pixels


def test_pydicom_test_files_read_back_as_pydicom_decodes_them(tmp_path):
    """Every pydicom test file with pixel data, in its own transfer syntax (JPEG family, JPEG-LS,
    JPEG 2000, RLE, big endian, deflate; multi-frame, colour): decoded rows equal pydicom's, and
    files pydicom cannot decode are quarantined with a reason."""
    curated = tmp_path / "curated"
    rows, decodable = [], {}
    for i, f in enumerate(sorted(p for p in PYDICOM_DATA.rglob("*.dcm") if p.is_file())):
        try:
            ds = pydicom.dcmread(f)
        except Exception:
            continue
        if "PixelData" not in ds:
            continue
        rel = f"dicom/{i:03d}_{f.name}"
        (curated / "dicom").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, curated / rel)
        try:
            decodable[rel] = (frames_of(ds, expected_pixels(ds)), str(ds.file_meta.TransferSyntaxUID))
            frames = len(decodable[rel][0])
        except Exception:
            frames = 1
        rows.append({"series_key": f"E{i}", "instance_key": f"I{i:03d}", "instance_number": 1, "path": rel,
                     "rows": ds.get("Rows"), "columns": ds.get("Columns"),
                     "number_of_frames": frames, "slice_position": None,
                     "slice_thickness": None, "study_key": f"S{i}", "patient_key": f"P{i % 7}"})
    pd.DataFrame(rows).to_parquet(curated / "instances.parquet")
    summary = run_images(curated, config=ImagesConfig(**SMALL_PARTS))
    assert summary.instances_in == len(rows) == summary.instances + summary.quarantined
    images = read_images(curated, filters=[("preprocessing", "=", "native")])
    path_of = {r["instance_key"]: r["path"] for r in rows}
    images["path"] = images["instance_key"].map(path_of)
    assert set(images["path"]) == set(decodable)  # every file pydicom decodes is in, the others are not
    syntaxes = set()
    for path, group in images.groupby("path"):
        frames, ts = decodable[path]
        syntaxes.add(ts)
        group = group.sort_values("frame_index")
        assert list(group["frame_index"]) == list(range(len(frames)))
        for row, want in zip(group.itertuples(), frames):
            got = decode_pixels(row.pixels, row.shape, row.dtype)
            assert got.dtype.name == want.dtype.name and np.array_equal(got, want), path  # stored little endian
    assert {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81",
            "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.2",
            "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2"} <= syntaxes
    assert images.groupby("path")["frame_index"].max().max() >= 29  # a 30-frame colour cine
    q = pd.read_parquet(tmp_path / "quarantine.parquet")
    assert len(q) == summary.quarantined and set(q["stage"]) == {"images"}
    assert set(q["reason"]) <= {"undecodable_pixels", "no_pixel_data"} and q["detail"].str.len().gt(0).all()


def test_a_broken_image_is_quarantined_and_an_all_broken_input_fails_its_suite(run, tmp_path):
    out, _ = run
    work = tmp_path / "out"
    shutil.copytree(out / "curated" / "dicom", work / "curated" / "dicom")
    inst = pd.read_parquet(out / "curated" / "instances.parquet")
    inst.to_parquet(work / "curated" / "instances.parquet")
    broken = inst.loc[inst["transfer_syntax"] == "1.2.840.10008.1.2.1", "path"].iloc[0]
    data = (work / "curated" / broken).read_bytes()
    (work / "curated" / broken).write_bytes(data[:-100])  # pixel data cut short
    s = run_images(work / "curated", config=ImagesConfig(resize=0))
    assert (s.instances_in, s.instances, s.quarantined) == (len(inst), len(inst) - 1, 1)
    q = pd.read_parquet(work / "quarantine.parquet")
    assert q[["source", "reason"]].values.tolist() == [[broken, "undecodable_pixels"]]
    assert all(r.success for r in validate(work, images_suites(work, {}, s.to_dict())))
    # every input broken: nothing to read, the stage does not pass
    few = inst.iloc[:3]
    few.to_parquet(work / "curated" / "instances.parquet")
    for p in few["path"]:
        (work / "curated" / p).write_bytes(b"DICM" * 10)
    s = run_images(work / "curated", config=ImagesConfig(resize=0))
    assert (s.instances, s.quarantined) == (0, 3)
    assert not all(r.success for r in validate(work, images_suites(work, {}, s.to_dict())))


def test_the_run_summary_counts_images_patients_per_split_and_quarantine(run):
    out, report = run
    text = format_summary(report)
    images_line = next(line for line in text.splitlines() if line.startswith("images"))
    splits_line = next(line for line in text.splitlines() if line.startswith("splits"))
    n = len(pd.read_parquet(out / "curated" / "instances.parquet"))
    assert f"{n} images -> {n} decoded" in images_line and "0 quarantined" in images_line
    splits = pd.read_parquet(out / "curated" / "splits.parquet")
    for name in ("train", "val", "test"):
        assert f"{name} {int((splits['split'] == name).sum())}" in splits_line


def test_radcurate_images_command(run, tmp_path, capsys):
    from radcurate.dags.cli import main

    out, _ = run
    assert main(["images", "--curated", str(tmp_path / "nowhere")]) == 2
    curated = tmp_path / "curated"
    shutil.copytree(out / "curated" / "dicom", curated / "dicom")
    for t in ("instances", "studies", "labels"):
        shutil.copytree(out / "curated" / f"{t}.parquet", curated / f"{t}.parquet")
    assert main(["images", "--curated", str(curated), "--workers", "0", "--resize", "0",
                 "--fractions", "0.8,0.1"]) == 2
    capsys.readouterr()
    assert main(["images", "--curated", str(curated), "--workers", "0", "--resize", "0"]) == 0
    text = capsys.readouterr().out
    n = len(pd.read_parquet(curated / "instances.parquet"))
    assert f"{n} curated images -> {n} decoded" in text and "0 resized copies" in text
    assert "splits: 3 patients" in text
    assert (curated / "splits.parquet").exists() and len(read_images(curated, columns=["instance_key"])) == n
