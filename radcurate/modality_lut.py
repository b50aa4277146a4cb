"""The one modality LUT: stored pixel values -> modality units (Hounsfield units for CT).

pydicom's :func:`~pydicom.pixels.apply_modality_lut` does the work (Rescale Slope/Intercept or a
Modality LUT Sequence); this module decides what the curated dataset keeps, so that the images
table, the lesion masks and anything else that reads pixels agree: CT in HU as int16 (rounded,
clipped), other grey-scale images in their stored dtype when the LUT is the identity and as
float32 through it otherwise, colour images as decoded (no modality LUT applies to them).
"""

from __future__ import annotations

import numpy as np

INT16 = np.iinfo(np.int16)


def _float(v) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def is_identity(ds) -> bool:
    """True when ``ds`` declares no modality transformation (or slope 1, intercept 0)."""
    if "ModalityLUTSequence" in ds:
        return False
    slope, icpt = _float(ds.get("RescaleSlope")), _float(ds.get("RescaleIntercept"))
    return (slope is None or slope == 1.0) and (icpt is None or icpt == 0.0)


def _lut(arr: np.ndarray, ds) -> np.ndarray:
    from pydicom.pixels import apply_modality_lut

    return apply_modality_lut(arr, ds)  # float64 for a rescale


def modality_values(arr: np.ndarray, ds) -> np.ndarray:
    """``arr`` (pydicom's decoded pixels of ``ds``) in modality units, as float32 (HU for CT)."""
    return arr.astype(np.float32) if is_identity(ds) else _lut(arr, ds).astype(np.float32)


def stored_values(arr: np.ndarray, ds) -> np.ndarray:
    """The array the images table stores for ``arr`` (pydicom's decoded pixels of ``ds``)."""
    if int(ds.get("SamplesPerPixel", 1) or 1) > 1:
        return arr  # colour: no modality LUT
    if str(ds.get("Modality", "")).upper() == "CT":
        hu = _lut(arr, ds) if not is_identity(ds) else arr
        return np.clip(np.rint(hu), INT16.min, INT16.max).astype(np.int16)
    if is_identity(ds):
        return arr
    return modality_values(arr, ds)
