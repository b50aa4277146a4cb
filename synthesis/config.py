"""Typed configuration of the synthetic PACS export."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExportConfig:
    """Sizes and rates of a synthetic export; defaults keep a 3-patient export to a few seconds.

    ``ct_size`` 512 with ``ct_slices`` 64 gives a clinical-looking series (slower, larger files).
    """

    ct_size: int = 128  # rows = columns of each axial CT slice
    ct_fov_mm: float = 400.0  # reconstruction field of view (PixelSpacing = fov / size)
    ct_slices: int = 24  # slices per CT series
    ct_coverage_mm: float = 300.0  # cranio-caudal coverage (slice spacing = coverage / slices)
    ct_noise_hu: float = 6.0  # Gaussian noise added to CT slices (HU)
    dx_size: int = 256  # rows = columns of each radiograph
    dx_pixel_mm: float = 1.6  # imager pixel spacing of radiographs
    max_timepoints: int = 3  # CT studies per patient at most (baseline + follow-ups)
    dx_rate: float = 0.7  # share of timepoints that also have a chest radiograph study
    burned_in_dx_rate: float = 0.5  # share of radiographs with burned-in patient text
    burned_in_ct_series_rate: float = 0.34  # share of CT series with text burned into slice 1
    dicomdir_every: int = 2  # every n-th patient arrives as a CD import with a DICOMDIR
    # The radiologist's measurement objects (GSPS or TID 1500 SR per CT study; truth/annotations).
    annotations: bool = False
    nontarget_annotation_rate: float = 0.5  # share of non-target lesions the reader also measures
    reader_error_mm: float = 1.0  # largest endpoint error of a drawn axis (diameters: up to twice)
    sr_every: int = 3  # one CT study in sr_every gets an SR measurement report instead of a GSPS
    adjacent_slice_rate: float = 0.15  # share of crosses drawn on the slice next to the one the report cites
