"""One curated DICOM file -> its frames as numpy arrays, with the modality LUT applied.

pydicom (with the pylibjpeg / pyjpegls plugins the project installs) decodes every transfer syntax;
the values stored are those of the one modality LUT (:func:`radcurate.modality_lut.stored_values`:
CT in Hounsfield units as int16, other grey-scale images in their stored dtype or as float32
through the LUT), colour images as RGB uint8/uint16 (pydicom converts YBR to RGB).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from radcurate.modality_lut import stored_values



@dataclass
class Decoded:
    """The frames of one instance and the header facts the images table keeps."""

    frames: list[np.ndarray]
    modality: str | None = None
    body_part: str | None = None
    view: str | None = None
    photometric: str | None = None
    spacing: tuple[float, float] | None = None  # (row, column) mm
    slice_thickness: float | None = None
    frame_positions: list[float | None] = field(default_factory=list)  # per frame, multi-frame only


def _text(ds, keyword: str) -> str | None:
    v = ds.get(keyword)
    v = str(v).strip() if v is not None else ""
    return v or None


def _float(v) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _spacing(ds) -> tuple[float, float] | None:
    for kw in ("PixelSpacing", "ImagerPixelSpacing"):
        v = ds.get(kw)
        if v is not None and len(v) == 2:
            r, c = _float(v[0]), _float(v[1])
            if r and c:
                return (r, c)
    return None


def _frame_positions(ds, n: int) -> list[float | None]:
    """Slice position (mm along the normal) of each frame of an enhanced multi-frame image."""
    groups = ds.get("PerFrameFunctionalGroupsSequence")
    shared = ds.get("SharedFunctionalGroupsSequence")
    if not groups or len(groups) != n:
        return [None] * n
    orient = None
    for seq in (shared[0] if shared else None,):
        if seq is not None and "PlaneOrientationSequence" in seq:
            orient = seq.PlaneOrientationSequence[0].get("ImageOrientationPatient")
    out: list[float | None] = []
    for g in groups:
        o = orient
        if "PlaneOrientationSequence" in g:
            o = g.PlaneOrientationSequence[0].get("ImageOrientationPatient") or o
        pos = g.PlanePositionSequence[0].get("ImagePositionPatient") if "PlanePositionSequence" in g else None
        if o is None or pos is None or len(o) != 6 or len(pos) != 3:
            out.append(None)
            continue
        normal = np.cross(np.array(o[:3], float), np.array(o[3:], float))
        out.append(float(np.dot(normal, np.array(pos, float))))
    return out


def decode_file(path) -> Decoded:
    """Read and decode one DICOM file; raises on a file whose pixels cannot be decoded."""
    import pydicom

    ds = pydicom.dcmread(path)
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise LookupError("no pixel data")
    arr = ds.pixel_array
    n = int(ds.get("NumberOfFrames", 1) or 1)
    spp = int(ds.get("SamplesPerPixel", 1) or 1)
    if n == 1:
        arr = arr[None]
    expect = 3 + (spp > 1)
    if arr.ndim != expect or arr.shape[0] != n:
        raise ValueError(f"decoded shape {tuple(arr.shape)} does not fit {n} frame(s) of {spp} sample(s)")
    values = stored_values(arr, ds)
    photometric = _text(ds, "PhotometricInterpretation")
    if spp > 1 and photometric and photometric.startswith("YBR"):
        photometric = "RGB"  # pydicom's pixel_array converts YBR to RGB
    return Decoded(
        frames=[np.ascontiguousarray(values[i]) for i in range(n)],
        modality=_text(ds, "Modality"),
        body_part=_text(ds, "BodyPartExamined"),
        view=_text(ds, "ViewPosition"),
        photometric=photometric,
        spacing=_spacing(ds),
        slice_thickness=_float(ds.get("SliceThickness")),
        frame_positions=_frame_positions(ds, n) if n > 1 else [None],
    )


def resize_padded(frame: np.ndarray, size: int, pad_value) -> tuple[np.ndarray, float, float]:
    """``frame`` scaled so its long side is ``size`` (aspect kept) and padded to size x size.

    The image sits at the top-left corner (pixel coordinates scale, they do not shift); returns the
    array and the row/column scale factors (stored pixel / original pixel). Area averaging when
    shrinking, bilinear when enlarging (OpenCV).
    """
    import cv2

    r, c = frame.shape[:2]
    scale = size / max(r, c)
    nr, nc = max(1, round(r * scale)), max(1, round(c * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    src = frame
    if src.dtype not in (np.uint8, np.uint16, np.int16, np.float32, np.float64):
        src = src.astype(np.float32)
    small = cv2.resize(src, (nc, nr), interpolation=interp)
    if small.ndim < frame.ndim:
        small = small[..., None]
    if small.dtype != frame.dtype:
        info = np.iinfo(frame.dtype) if frame.dtype.kind in "iu" else None
        small = np.clip(np.rint(small), info.min, info.max) if info is not None else small
        small = small.astype(frame.dtype)
    out = np.full((size, size, *frame.shape[2:]), pad_value, dtype=frame.dtype)
    out[:nr, :nc] = small
    return out, nr / r, nc / c
