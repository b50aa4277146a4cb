"""Lesion insertion into CT slices and radiographs: where it goes, what it adds, what is recorded."""

from __future__ import annotations

import math

import numpy as np
import pytest

from radcurate.synthesis.lesions import (LesionConfig, LesionModel, insert_ct, insert_radiograph, lesion_chord,
                                         lung_mask_ct, lung_mask_radiograph, slice_occupancy)
from radcurate.synthesis.lowdose import MU_WATER_PER_MM
from radcurate.synthesis.phantom import LUNG_CENTER_Z, Phantom, render
from radcurate.synthesis.projection import project

PX = 360 / 128


@pytest.fixture(scope="module")
def ct_slice():
    xs = (np.arange(128) - 64 + 0.5) * PX
    return render(Phantom(seed=1), xs, xs, np.array([LUNG_CENTER_Z + 30.0]))[0].astype(np.int16)


@pytest.fixture(scope="module")
def radiograph():
    return project(Phantom(seed=2), 256, 1.4, np.random.default_rng(0))


def _full_mask(ins, shape):
    m = np.zeros(shape, bool)
    x0, y0, x1, y1 = ins.box
    m[y0:y1, x0:x1] = ins.mask.astype(bool)
    return m


def test_ct_lesion_lands_inside_lung_with_its_hu_and_nothing_else_changes(ct_slice):
    cfg = LesionConfig(diameter_mm=(26.0, 30.0), elongation=(0.9, 1.0), hu=(40.0, 40.0), lobulation=0, spiculation=0)
    ins = insert_ct(ct_slice, (PX, PX), 2.0, np.random.default_rng(3), cfg)
    assert ins is not None
    lungs = lung_mask_ct(ct_slice)
    mask = _full_mask(ins, ct_slice.shape)
    assert mask.sum() > 10 and lungs[mask].all()  # wholly inside the lung
    from scipy import ndimage

    core = ndimage.binary_erosion(mask, iterations=2)
    assert abs(float(np.median(ins.image[core])) - 40.0) < 30.0  # lesion HU where it is solid
    assert ins.contrast > 700  # solid lesion in lung: ~ +850 HU
    far = ~ndimage.binary_dilation(mask, iterations=6)
    assert np.array_equal(ins.image[far], ct_slice[far])  # the rest of the slice is untouched
    # the recorded size is the model's cross-section on this slice (thin slice through the middle)
    assert ins.long_axis_mm == pytest.approx(ins.lesion.long_mm, rel=0.25)


def test_ct_partial_volume_thick_slices_dilute_a_small_lesion():
    lesion = LesionModel(6.0, 6.0, 6.0, 0.0, 40.0)
    thin = slice_occupancy(lesion, (0.7, 0.7), 1.0)
    thick = slice_occupancy(lesion, (0.7, 0.7), 10.0)
    assert thin.max() == pytest.approx(1.0, abs=0.01)
    assert thick.max() == pytest.approx(0.6, abs=0.05)  # 6 mm of lesion in a 10 mm slice
    # the volume is conserved whatever the slice thickness: area x thickness x occupancy
    assert (thick.sum() * 0.49 * 10.0) == pytest.approx(4 / 3 * math.pi * 27, rel=0.05)


def test_lobulated_and_spiculated_lesions_differ_from_the_ellipsoid():
    base = LesionModel(20.0, 16.0, 18.0, 0.3, 30.0)
    lob = LesionModel(20.0, 16.0, 18.0, 0.3, 30.0, lobes=((1.0, 0.0, 0.0, 0.3), (0.0, 1.0, 0.0, 0.3)))
    spic = LesionModel(20.0, 16.0, 18.0, 0.3, 30.0, spikes=tuple((math.cos(a), math.sin(a), 0.0, 0.8)
                                                                for a in np.linspace(0, 6, 8)))
    area = {k: slice_occupancy(m, (0.5, 0.5), 1.0).sum() for k, m in (("base", base), ("lob", lob), ("spic", spic))}
    assert area["lob"] > 1.05 * area["base"] and area["spic"] > 1.02 * area["base"]
    assert lesion_chord(spic, (0.5, 0.5)).shape[0] > lesion_chord(base, (0.5, 0.5)).shape[0]


def test_radiograph_insertion_obeys_beer_lambert(radiograph):
    cfg = LesionConfig(diameter_mm=(18.0, 22.0), hu=(30.0, 30.0), lobulation=0, spiculation=0)
    ins = insert_radiograph(radiograph, (1.4, 1.4), np.random.default_rng(1), cfg)
    assert ins is not None
    lungs = lung_mask_radiograph(radiograph)
    assert lungs[ins.center]
    added = (ins.image.astype(float) - radiograph) / cfg.radiograph_log_scale  # added line integral
    assert added.min() >= -0.5 / cfg.radiograph_log_scale  # only attenuation added (rounding aside)
    # the line integral summed over the detector is delta-mu x the lesion's volume (Beer-Lambert,
    # log domain): independent of where the rays cross it
    m = ins.lesion
    volume = 4 / 3 * math.pi * (m.long_mm / 2) * (m.short_mm / 2) * (m.depth_mm / 2)
    dmu = MU_WATER_PER_MM * (m.hu + 850.0) / 1000.0
    assert added.sum() * 1.4 * 1.4 == pytest.approx(dmu * volume, rel=0.05)
    mask = _full_mask(ins, radiograph.shape)
    assert added[mask].mean() > 5 * max(added[~mask].mean(), 1e-9)


def test_no_lung_means_no_insertion():
    soft = np.full((96, 96), 40, np.int16)
    assert insert_ct(soft, (1.0, 1.0), 2.0, np.random.default_rng(0), LesionConfig()) is None
