"""Clean Pixel Data: find burned-in text in every frame and blank it, touching nothing else.

Every file with pixel data is checked, whatever Burned In Annotation says (the flag is often
missing or wrong, and the synthetic export burns text into CT slices too): the numpy detector is
cheap (~10-30 ms for 512x512) and Tesseract only reads its candidate lines. Blanking writes the
background value (median of the box's border) into the box only:

* native (uncompressed) pixel data is edited in place through a numpy view of its bytes, so every
  byte outside the boxes is identical and the transfer syntax is kept;
* encapsulated pixel data is decoded (pydicom; JPEG needs the pylibjpeg plugins) only to check it.
  With no text found the original bytes and transfer syntax are kept. With text found, RLE
  Lossless is re-encoded as RLE Lossless (lossless: other pixels keep their values); any other
  syntax is written decompressed as Explicit VR Little Endian (re-encoding lossy JPEG would
  alter every pixel), with Photometric Interpretation updated when pydicom converted YBR to RGB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, RLELossless

from .textdetect import Box, detect_text


MIN_SIDE = 32  # smaller images cannot hold legible text: not checked (documented in the report)


NATIVE = frozenset({ExplicitVRLittleEndian, "1.2.840.10008.1.2", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"})


class PixelError(Exception):
    """Pixel data that cannot be checked; ``reason`` is the quarantine reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ImageInfo:
    """The Image Pixel attributes this module needs, read once per file."""

    rows: int
    columns: int
    bits: int
    stored: int
    signed: bool
    samples: int
    frames: int
    photometric: str
    planar: int

    @classmethod
    def of(cls, ds: Dataset) -> "ImageInfo":
        def num(keyword: str, default: int) -> int:
            try:
                return int(ds.get(keyword, default) or default)
            except (TypeError, ValueError):
                return default

        bits = num("BitsAllocated", 0)
        return cls(num("Rows", 0), num("Columns", 0), bits, num("BitsStored", bits), num("PixelRepresentation", 0) == 1,
                   num("SamplesPerPixel", 1), num("NumberOfFrames", 1), str(ds.get("PhotometricInterpretation", "")),
                   num("PlanarConfiguration", 0))


def _frames(arr: np.ndarray, info: "ImageInfo") -> np.ndarray:
    """The decoded array as (frames, rows, cols[, samples])."""
    if info.frames == 1 and arr.ndim == (2 if info.samples == 1 else 3):
        arr = arr[None]
    return arr


def _native_view(info: ImageInfo, buf: bytes | bytearray, little_endian: bool) -> np.ndarray | None:
    """A (frames, rows, cols, samples) view of native pixel bytes (writable for a bytearray),
    or None for layouts this module does not edit in place."""
    if info.bits not in (8, 16, 32) or info.photometric.startswith("YBR_FULL_4"):
        return None
    dtype = np.dtype(f"{'i' if info.signed else 'u'}{info.bits // 8}").newbyteorder("<" if little_endian else ">")
    n = info.rows * info.columns * info.samples * info.frames
    if n == 0 or len(buf) < n * dtype.itemsize:
        return None
    flat = np.frombuffer(memoryview(buf)[: n * dtype.itemsize], dtype=dtype)
    if info.samples > 1 and info.planar == 1:
        return flat.reshape(info.frames, info.samples, info.rows, info.columns).transpose(0, 2, 3, 1)
    return flat.reshape(info.frames, info.rows, info.columns, info.samples)


def _background(frame: np.ndarray, box: Box) -> np.ndarray:
    """Median of the one-pixel ring just inside the box: what lies behind the text."""
    region = frame[box.y0:box.y1, box.x0:box.x1]
    ring = np.concatenate([region[0], region[-1], region[:, 0], region[:, -1]])
    return np.median(ring, axis=0).astype(frame.dtype)


def clean_pixels(ds: Dataset, transfer_syntax: str, little_endian: bool, *, method: str) -> tuple[list[tuple[int, Box]], str]:
    """Blank burned-in text in ``ds`` in place; return the (frame, box) list and the transfer
    syntax the file must now be written with."""
    if "PixelData" not in ds or method == "none":
        return [], transfer_syntax
    info = ImageInfo.of(ds)
    if min(info.rows, info.columns) < MIN_SIDE:
        return [], transfer_syntax
    if info.bits < 8:
        return [], transfer_syntax  # 1-bit bitmaps (segmentations): no room for legible text
    native = transfer_syntax in NATIVE and not getattr(ds["PixelData"], "is_undefined_length", False)
    arr = None
    if native and (not info.signed or info.stored == info.bits):
        # native data whose stored values are the container's: a zero-copy view, no decoder
        view = _native_view(info, ds.PixelData, little_endian)
        if view is not None:
            arr = view[..., 0] if view.shape[-1] == 1 else view
    if arr is None:
        try:
            arr = _frames(ds.pixel_array, info)
        except Exception as exc:
            raise PixelError("pixel_undecodable",
                             f"cannot decode pixel data ({type(exc).__name__}) to check for burned-in text") from None
    mono1 = info.photometric == "MONOCHROME1"
    found: list[tuple[int, Box]] = []
    for f in range(arr.shape[0]):
        frame = arr[f]
        if frame.ndim == 3 and frame.shape[-1] == 1:
            frame = frame[..., 0]
        for box in detect_text(frame, method=method, monochrome1=mono1):
            found.append((f, box))
    if not found:
        return [], transfer_syntax
    if native:
        buf = bytearray(ds.PixelData)
        view = _native_view(info, buf, little_endian)
        if view is not None:
            for f, b in found:
                view[f, b.y0:b.y1, b.x0:b.x1] = _background(view[f], b)
            ds.PixelData = bytes(buf)
            return found, transfer_syntax
    # decoded path: edit the decoded array, then re-encode (RLE) or write it native
    out = np.array(arr, copy=True)
    for f, b in found:
        out[f, b.y0:b.y1, b.x0:b.x1] = _background(out[f], b)
    data = out if info.frames > 1 else out[0]
    if transfer_syntax == RLELossless:
        ds.compress(RLELossless, data, generate_instance_uid=False)
        return found, RLELossless
    if info.photometric.startswith("YBR") and data.ndim >= 3:
        ds.PhotometricInterpretation = "RGB"  # pydicom's pixel_array converted YBR to RGB
    if info.samples > 1:
        ds.PlanarConfiguration = 0
    ds.PixelData = np.ascontiguousarray(data).astype(data.dtype.newbyteorder("<"), copy=False).tobytes()
    ds["PixelData"].VR = "OB" if info.bits <= 8 else "OW"
    ds["PixelData"].is_undefined_length = False
    return found, ExplicitVRLittleEndian
