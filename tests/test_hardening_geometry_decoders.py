"""Issue 25, cases 1 and 3: pixel geometry that does not describe the pixel data never reaches
curated/, and a decoder that panics, aborts or hangs costs one file, not the run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pydicom.data
import pytest

from radcurate.deid import DeidConfig, Keyer, deidentify_file
from radcurate.isolation import NativeFailure, Sandbox, guarded
from radcurate.synthesis.burned_in import burn_text
from radcurate.tables import read_table

from test_deid_dicom import make_ct
from test_deid_dicom_pixels import radiograph

KEYER = Keyer(b"geometry-test-secret-" + b"g" * 40)
NAME_LINES = ("RODRIGUEZ, JOSE", "MRN 1600000", "2017-01-18")


def ct_with_burned_name(tmp_path, name="IM0001"):
    img = radiograph(256)
    burn_text(img, list(NAME_LINES), value=int(img.max()) + 300, font_px=11, origin=(4, 4))
    ds = make_ct(pixels=img)
    ds.Rows = ds.Columns = 256
    for tag in [t for t in ds.keys() if t.group in (0x6000, 0x5000)]:
        del ds[tag]
    return ds, img


def deid(ds, tmp_path, name="IM0001"):
    src = tmp_path / name
    ds.save_as(src, enforce_file_format=True)
    out = tmp_path / "out"
    return deidentify_file(str(src), name, str(out), KEYER, DeidConfig()), out


def _no_curated_file(out: Path) -> bool:
    return not list(out.rglob("*.dcm"))


@pytest.mark.parametrize("change", ["rows_0", "rows_missing", "columns_0", "bits_0"])
def test_geometry_that_hides_the_burned_in_name_is_quarantined_and_never_written(tmp_path, change):
    ds, _ = ct_with_burned_name(tmp_path)
    if change == "rows_0":
        ds.Rows = 0
    elif change == "rows_missing":
        del ds.Rows
    elif change == "columns_0":
        ds.Columns = 0
    else:
        ds.BitsAllocated = 0
    res, out = deid(ds, tmp_path)
    assert "quarantine" in res, "a file whose pixel check saw nothing was written to curated/"
    assert res["quarantine"]["reason"] == "bad_pixel_geometry"
    assert "RODRIGUEZ" not in res["quarantine"]["detail"]
    assert _no_curated_file(out)


def test_pixel_data_longer_than_the_header_says_is_quarantined(tmp_path):
    # the name is burned into rows 200-255; the header claims 200 rows, so the pixel check would
    # scan only rows 0-199 and write the rest unchanged
    img = radiograph(256)
    burn_text(img, list(NAME_LINES), value=int(img.max()) + 300, font_px=11, origin=(4, 210))
    ds = make_ct(pixels=img)
    ds.Rows, ds.Columns = 200, 256
    res, out = deid(ds, tmp_path)
    assert res.get("quarantine", {}).get("reason") == "bad_pixel_geometry"
    assert "more than" in res["quarantine"]["detail"]
    assert _no_curated_file(out)
    # a consistent header over the same bytes is de-identified and its text blanked
    ds.Rows = 256
    res, out = deid(ds, tmp_path, "IM0002")
    assert "instance" in res and res["instance"]["text_regions_blanked"] >= 1


def test_the_geometry_check_runs_in_a_full_deid_run_and_counts_the_file(tmp_path):
    tree = tmp_path / "pacs"
    tree.mkdir()
    ds, _ = ct_with_burned_name(tmp_path)
    ds.Rows = 0
    ds.save_as(tree / "IM0001", enforce_file_format=True)
    good, _ = ct_with_burned_name(tmp_path)
    good.SOPInstanceUID = good.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.8.498.55555"
    good.save_as(tree / "IM0002", enforce_file_format=True)
    from radcurate.dags.cli import main as radcurate

    out = tmp_path / "out"
    assert radcurate(["deid", "--dicom", str(tree), "--out", str(out), "--workers", "0"]) == 0
    q = read_table(out / "quarantine.parquet")
    assert list(q[q.stage == "deid"].reason) == ["bad_pixel_geometry"]
    assert len(list((out / "curated" / "dicom").rglob("*.dcm"))) == 1


def rle_that_panics(tmp_path) -> Path:
    """pydicom's MR_small_RLE.dcm (64 x 64) with Rows set to 32: the Rust RLE decoder panics."""
    ds = pydicom.dcmread(pydicom.data.get_testdata_file("MR_small_RLE.dcm"))
    ds.Rows = 32
    path = tmp_path / "MR_RLE_BAD"
    ds.save_as(path, enforce_file_format=True)
    return path


def test_a_decoder_panic_is_caught_as_a_failure_not_an_exit(tmp_path):
    ds = pydicom.dcmread(rle_that_panics(tmp_path))
    try:
        ds.pixel_array
    except Exception:
        pytest.skip("this pydicom decodes the file with a plugin that raises instead of panicking")
    except BaseException as exc:  # what the native decoder really does
        assert not isinstance(exc, Exception)
    with pytest.raises(NativeFailure, match="PanicException"):
        guarded(lambda: pydicom.dcmread(rle_that_panics(tmp_path)).pixel_array)


def test_an_rle_file_that_panics_the_decoder_is_quarantined_and_the_batch_goes_on(tmp_path):
    bad = rle_that_panics(tmp_path)
    res = deidentify_file(str(bad), "MR_RLE_BAD", str(tmp_path / "out"), KEYER, DeidConfig())
    assert res["quarantine"]["reason"] == "pixel_undecodable"
    assert "PanicException" in res["quarantine"]["detail"]
    assert _no_curated_file(tmp_path / "out")


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["0", "1"])
def test_a_run_over_the_panicking_file_finishes_with_a_quarantine_row(tmp_path, workers):
    tree = tmp_path / "pacs"
    tree.mkdir()
    shutil.move(rle_that_panics(tmp_path), tree / "MR_RLE_BAD")
    shutil.copy(pydicom.data.get_testdata_file("CT_small.dcm"), tree / "CT_small")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "radcurate.dags.cli", "run", "--dicom", str(tree), "--out", str(out),
           "--workers", workers]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)  # the bug: this hung forever
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    state = json.loads((out / "_state" / "deid.json").read_text())
    assert state["status"] != "running"
    q = read_table(out / "quarantine.parquet")
    row = q[(q.stage == "deid") & (q.source == "MR_RLE_BAD")]
    assert list(row.reason) == ["pixel_undecodable"]


# --- a decoder that aborts or hangs: the sandbox's child process takes the blow -----------------

def aborting_decoder(path: str) -> None:
    import os

    os.abort()  # what a C decoder's failed assertion does to its process


def hanging_decoder(path: str) -> None:
    import time

    time.sleep(600)


def test_a_decoder_that_aborts_or_hangs_is_stopped_and_the_next_file_still_decodes(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        aborting = Sandbox(f"{__name__}:aborting_decoder", timeout=60)
        assert aborting.check(str(tmp_path)) == "the decoder crashed (SIGABRT)"
        hanging = Sandbox(f"{__name__}:hanging_decoder", timeout=1)
        assert hanging.check(str(tmp_path)) == "decoding took longer than 1 s: stopped"
        aborting.close()
        hanging.close()
    finally:
        sys.path.remove(str(Path(__file__).parent))
    real = Sandbox()  # pydicom's decoders in a child: a good file, a broken one, a good one again
    try:
        assert real.check(pydicom.data.get_testdata_file("MR_small_RLE.dcm")) is None
        assert "PanicException" in real.check(str(rle_that_panics(tmp_path)))
        assert real.check(pydicom.data.get_testdata_file("JPEG2000.dcm")) is None
    finally:
        real.close()


def test_jpeg_files_are_decoded_in_the_sandbox_first_and_still_deidentified(tmp_path):
    src = pydicom.data.get_testdata_file("JPEG2000.dcm")
    res = deidentify_file(src, "JPEG2000.dcm", str(tmp_path / "out"), KEYER, DeidConfig())
    assert "instance" in res, res
    broken = pydicom.dcmread(src)
    frame = bytearray(broken.PixelData)
    frame[len(frame) // 2:] = b"\x00" * (len(frame) - len(frame) // 2)  # the codestream's tail is lost
    broken.PixelData = bytes(frame)
    path = tmp_path / "J2K_BROKEN"
    broken.save_as(path)
    res = deidentify_file(str(path), "J2K_BROKEN", str(tmp_path / "out2"), KEYER, DeidConfig())
    assert res.get("quarantine", {}).get("reason") in ("pixel_undecodable", "unparseable_pixel_data")
    assert _no_curated_file(tmp_path / "out2")


def test_the_images_stage_quarantines_a_curated_file_whose_decoder_panics(tmp_path):
    from radcurate.images.run import images_task
    from radcurate.images.config import ImagesConfig

    curated = tmp_path / "curated"
    (curated / "dicom").mkdir(parents=True)
    shutil.copy(rle_that_panics(tmp_path), curated / "dicom" / "a.dcm")
    item = {"path": "dicom/a.dcm", "instance_key": "I-1", "series_key": "E-1", "study_key": "S-1",
            "patient_key": "P-1", "slice_position": None, "instance_number": 1, "slice_thickness": None,
            "number_of_frames": 1, "rows": 32, "columns": 64}
    res = images_task(0, [item], str(curated), ImagesConfig(), folder=str(tmp_path / "images"))
    assert res["instances"] == 0 and [q["reason"] for q in res["quarantine"]] == ["undecodable_pixels"]
    assert "PanicException" in res["quarantine"][0]["detail"]


def test_a_compressed_frame_beyond_number_of_frames_is_quarantined(tmp_path):
    # two RLE frames, the second with the name burned in; the header says one frame, so only the
    # first would be decoded and checked, and both would be written
    clean = radiograph(256)
    named = clean.copy()
    burn_text(named, list(NAME_LINES), value=int(named.max()) + 300, font_px=11, origin=(4, 4))
    ds = make_ct(pixels=clean)
    ds.Rows = ds.Columns = 256
    ds.NumberOfFrames = 2
    ds.compress(pydicom.uid.RLELossless, np.stack([clean, named]), generate_instance_uid=False)
    ds.NumberOfFrames = 1
    res, out = deid(ds, tmp_path)
    assert res.get("quarantine", {}).get("reason") == "bad_pixel_geometry", res.get("quarantine")
    assert _no_curated_file(out)


def decode_unguarded(ctx) -> dict:
    """A stage that decodes the panicking file with no guard of its own."""
    pydicom.dcmread(ctx.config["path"]).pixel_array
    return {}


def test_a_panic_that_escapes_a_stage_is_an_error_not_a_stage_left_running(tmp_path):
    from radcurate.dags.runner import read_state, run_stage
    from radcurate.stage import Stage

    stage = Stage(name="decoder", function=decode_unguarded, inputs=(), outputs=())
    outcome = run_stage(stage, {}, tmp_path / "out", config={"path": str(rle_that_panics(tmp_path))},
                        log=lambda line: None)
    assert outcome.status == "error" and "PanicException" in outcome.message
    assert read_state(tmp_path / "out", "decoder")["status"] == "error"
