"""Pixel geometry checked before anything is written: the header must describe every pixel byte.

The burned-in text check reads pixels through the Image Pixel attributes (Rows, Columns, Samples
per Pixel, Bits Allocated, Number of Frames). When they do not describe the pixel data, the check
sees nothing (``Rows = 0``, ``Rows`` missing, ``Bits Allocated = 0``) or only part of it (pixel data
longer than the header says: the extra rows are never scanned), while anyone can set the values
back on the curated file and read the text. Such a file is quarantined at deid, never written.

Native pixel data must have exactly the length the attributes give (plus one padding byte when
that length is odd), as :func:`pydicom.pixels.utils.get_expected_length` computes it. Encapsulated
(compressed) pixel data cannot be measured without decoding; its attributes must still be valid,
and the decoder checks each frame against them (a frame that does not fit fails to decode and is
quarantined as ``pixel_undecodable``). pydicom reads what it is given and validates none of this
up front, hence this module.
"""

from __future__ import annotations

import io
from typing import Any

from pydicom.dataset import Dataset
from pydicom.encaps import parse_basic_offsets, parse_fragments
from pydicom.pixels.utils import get_expected_length
from pydicom.uid import UID

REASON = "bad_pixel_geometry"
BITS_ALLOCATED = frozenset({1, 8, 16, 32, 64})
SAMPLES = frozenset({1, 3, 4})  # 4: retired ARGB/CMYK, still met in old files


class GeometryError(ValueError):
    """Image Pixel attributes that do not describe the pixel data; ``detail`` holds no PHI."""

    reason = REASON


def _count(ds: Dataset, keyword: str, *, default: int | None = None) -> int:
    """A positive integer attribute; missing ones take ``default`` (None: the attribute is required)."""
    value: Any = ds.get(keyword)
    if value is None or value == "":
        if default is None:
            raise GeometryError(f"{keyword} is missing, so the pixel data cannot be checked for burned-in text")
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise GeometryError(f"{keyword} is not a number") from None
    if number < 1:
        raise GeometryError(f"{keyword} is {number}: no image of that size can hold the pixel data")
    return number


def check_geometry(ds: Dataset, transfer_syntax: str) -> None:
    """Raise :class:`GeometryError` unless the Image Pixel attributes of ``ds`` describe its
    Pixel Data exactly (see the module docstring). Files without Pixel Data pass."""
    if "PixelData" not in ds:
        return
    rows, columns = _count(ds, "Rows"), _count(ds, "Columns")
    samples = _count(ds, "SamplesPerPixel", default=1)
    bits = _count(ds, "BitsAllocated")
    frames = _count(ds, "NumberOfFrames", default=1)
    if bits not in BITS_ALLOCATED:
        raise GeometryError(f"BitsAllocated is {bits}; pixel data is stored in 1, 8, 16, 32 or 64 bits")
    if samples not in SAMPLES:
        raise GeometryError(f"SamplesPerPixel is {samples}; images have 1, 3 or 4 samples per pixel")
    if rows > 65535 or columns > 65535:
        raise GeometryError("Rows or Columns is over 65535, the most their VR (US) holds")
    elem = ds["PixelData"]
    if getattr(elem, "is_undefined_length", False) or UID(str(transfer_syntax)).is_compressed:
        _check_frames(ds, frames, str(transfer_syntax))  # each frame's size is checked when decoded
        return
    probe = Dataset()
    probe.Rows, probe.Columns, probe.SamplesPerPixel, probe.BitsAllocated = rows, columns, samples, bits
    probe.NumberOfFrames = frames
    probe.PhotometricInterpretation = str(ds.get("PhotometricInterpretation", "") or "")
    expected = get_expected_length(probe, "bytes")
    value = elem.value
    actual = len(value) if value is not None else 0
    if actual == expected or actual == expected + (expected % 2):
        return
    shape = f"{frames} frame(s) of {rows} x {columns} x {samples} samples at {bits} bits"
    if actual < expected:
        raise GeometryError(f"pixel data holds {actual} bytes, fewer than the {expected} that {shape} need")
    raise GeometryError(f"pixel data holds {actual} bytes, more than the {expected} that {shape} need: "
                        "the extra bytes would never be checked for burned-in text")


def _check_frames(ds: Dataset, frames: int, transfer_syntax: str) -> None:
    """Encapsulated pixel data holds the frames the header counts: no more (a frame beyond Number of
    Frames is never decoded, so never checked for burned-in text, yet it would be written)."""
    value = ds.PixelData
    try:
        buf = io.BytesIO(value)
        offsets = parse_basic_offsets(buf)
        fragments, _ = parse_fragments(buf)
    except Exception:
        raise GeometryError("encapsulated pixel data cannot be split into items") from None
    table = ds.get("ExtendedOffsetTable")
    listed = len(table) // 8 if table else len(offsets)
    if listed and listed != frames:
        raise GeometryError(f"the offset table lists {listed} frame(s), NumberOfFrames says {frames}")
    if fragments < frames:
        raise GeometryError(f"{fragments} fragment(s) of pixel data cannot hold {frames} frame(s)")
    if str(transfer_syntax) == "1.2.840.10008.1.2.5" and fragments != frames:  # RLE: one fragment a frame
        raise GeometryError(f"{fragments} RLE fragments for {frames} frame(s): RLE stores one per frame")
