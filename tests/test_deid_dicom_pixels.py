"""Burned-in text is found whatever Burned In Annotation says, blanked, and nothing else changes."""

import numpy as np
import pydicom
import pytest
from pydicom.uid import RLELossless

from radcurate.deid import DeidConfig, Keyer, deidentify_file
from radcurate.deid.textdetect import detect_text, tesseract_available
from radcurate.synthesis.burned_in import burn_text

from test_deid_dicom import make_ct


def radiograph(size=256, seed=0):
    """A smooth 'chest' with noise and thin bright vessels: anatomy that must not be blanked."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    img = 600 + 900 * np.exp(-(((yy - size / 2) / (size / 2.6)) ** 2 + ((xx - size / 2) / (size / 3.2)) ** 2))
    img = img + rng.normal(0, 15, img.shape)
    for _ in range(25):
        y, x = rng.integers(size // 4, 3 * size // 4, 2)
        img[y:y + 2, x:x + int(rng.integers(4, 25))] += 250
    return img.astype(np.int16)


def with_text(img, lines=("GARCIA, MARIA", "MRN 7712345", "03/14/2021"), origin=(4, 4), font_px=11):
    img = img.copy()
    boxes = burn_text(img, list(lines), value=int(img.max()) + 300, font_px=font_px, origin=origin)
    return img, boxes


def covered(truth, found):
    x0, y0, x1, y1 = truth[:4]
    return any(b.x0 <= x0 and b.y0 <= y0 and b.x1 >= x1 and b.y1 >= y1 for b in found)


@pytest.mark.parametrize("origin", [(4, 4), (150, 230)])
def test_numpy_detector_finds_every_text_line_and_not_the_anatomy(origin):
    img, truth = with_text(radiograph(), origin=origin)
    found = detect_text(img, method="numpy")
    assert all(covered(t, found) for t in truth)
    blanked = sum(b.area for b in found)
    text_area = sum((t[2] - t[0] + 4) * (t[3] - t[1] + 4) for t in truth)
    assert blanked <= 1.5 * text_area
    assert detect_text(radiograph(seed=3), method="numpy") == []


@pytest.mark.skipif(not tesseract_available(), reason="tesseract not installed")
def test_tesseract_confirms_the_text_lines():
    img, truth = with_text(radiograph(), font_px=14)
    found = detect_text(img, method="tesseract")
    assert all(covered(t, found) for t in truth)


def _dx(tmp_path, flag, compress=False):
    img, truth = with_text(radiograph())
    ds = make_ct(pixels=img)
    ds.Rows = ds.Columns = img.shape[0]
    ds.Modality = "DX"
    for tag in [t for t in ds.keys() if t.group in (0x6000, 0x5000)]:
        del ds[tag]
    if flag is not None:
        ds.BurnedInAnnotation = flag
    if compress:
        ds.compress(RLELossless, img, generate_instance_uid=False)
    src = tmp_path / "dx.dcm"
    ds.save_as(src, enforce_file_format=True)
    return src, img, truth


@pytest.mark.parametrize("flag", ["NO", None])
def test_text_is_blanked_even_when_the_flag_says_no_and_other_pixels_stay_byte_identical(tmp_path, flag):
    src, img, truth = _dx(tmp_path, flag)
    res = deidentify_file(str(src), "dx.dcm", str(tmp_path / "out"), Keyer(b"k" * 64), DeidConfig())
    out = pydicom.dcmread(tmp_path / "out" / res["instance"]["path"])
    assert out.file_meta.TransferSyntaxUID == pydicom.dcmread(src).file_meta.TransferSyntaxUID
    after = out.pixel_array
    boxes = [(a["x0"], a["y0"], a["x1"], a["y1"]) for a in res["audit"] if a["action"] == "blanked"]
    mask = np.zeros(img.shape, bool)
    for x0, y0, x1, y1 in boxes:
        mask[y0:y1, x0:x1] = True
    for x0, y0, x1, y1, _ in truth:
        assert mask[y0:y1, x0:x1].all()
        assert after[y0:y1, x0:x1].max() < img.max()  # the bright glyphs are gone
    before_bytes = np.frombuffer(pydicom.dcmread(src).PixelData, np.int16).reshape(img.shape)
    after_bytes = np.frombuffer(out.PixelData, np.int16).reshape(img.shape)
    assert np.array_equal(before_bytes[~mask], after_bytes[~mask])


def test_rle_compressed_text_is_cleaned_and_written_back_as_rle(tmp_path):
    src, img, truth = _dx(tmp_path, "YES", compress=True)
    res = deidentify_file(str(src), "dx.dcm", str(tmp_path / "out"), Keyer(b"k" * 64), DeidConfig())
    out = pydicom.dcmread(tmp_path / "out" / res["instance"]["path"])
    assert out.file_meta.TransferSyntaxUID == RLELossless
    after = out.pixel_array
    mask = np.zeros(img.shape, bool)
    for a in res["audit"]:
        if a["action"] == "blanked":
            mask[a["y0"]:a["y1"], a["x0"]:a["x1"]] = True
    assert mask.any() and np.array_equal(after[~mask], img[~mask])
    assert all(after[y0:y1, x0:x1].max() < img.max() for x0, y0, x1, y1, _ in truth)
