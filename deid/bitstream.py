"""Strip metadata segments from compressed frames without re-encoding them.

A JPEG bitstream can carry a name, an MRN or a birth date in a COM segment or an APPn segment
(JFIF thumbnails, EXIF, XMP, vendor blocks) that no DICOM attribute shows. The image itself lives
in the other segments, so dropping COM and APPn segments leaves every pixel as it was: no decode,
no re-encode, no loss. The one APPn segment kept is Adobe's fixed 12-byte APP14 (no room for
text), because it tells decoders which colour transform was used. JPEG-LS shares the marker
syntax; a JPEG 2000 codestream's COM segments (main and tile-part headers) are dropped too, with
each tile-part length fixed. Anything after the End Of Image marker is dropped.

pydicom has no marker-level editor (its encoders re-encode pixels), hence this small parser.
"""

from __future__ import annotations

import struct

import pydicom.encaps as encaps
from pydicom.dataset import Dataset
from pydicom.uid import UID

SOI, EOI, SOS, COM = 0xD8, 0xD9, 0xDA, 0xFE
J2K_SOC, J2K_SOT, J2K_SOD, J2K_EOC, J2K_COM = 0xFF4F, 0xFF90, 0xFF93, 0xFFD9, 0xFF64


class BitstreamError(ValueError):
    """A compressed frame whose marker structure cannot be followed (so it cannot be cleaned)."""


def _adobe(segment: bytes) -> bool:
    """Adobe's APP14: 'Adobe', version, two flag words and the transform byte; nothing else."""
    return len(segment) == 12 and segment.startswith(b"Adobe")


def strip_jpeg(frame: bytes) -> tuple[bytes, list[str]]:
    """``frame`` (JPEG or JPEG-LS) without COM/APPn segments; returns the names of the removed ones."""
    n = len(frame)
    if frame[:2] != b"\xff\xd8":
        raise BitstreamError("JPEG frame does not start with SOI")
    out = bytearray(b"\xff\xd8")
    removed: list[str] = []
    i = 2
    while i < n:
        if frame[i] != 0xFF:
            raise BitstreamError("JPEG marker expected")
        j = i
        while j < n and frame[j] == 0xFF:  # fill bytes
            j += 1
        if j >= n:
            break
        marker = frame[j]
        if marker == EOI:
            out += b"\xff\xd9"
            return bytes(out), removed + (["trailing"] if j + 1 < n else [])
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # TEM, RSTn: no length
            out += bytes((0xFF, marker))
            i = j + 1
            continue
        if j + 3 > n:
            raise BitstreamError("JPEG segment header cut short")
        (length,) = struct.unpack_from(">H", frame, j + 1)
        end = j + 1 + length
        if length < 2 or end > n:
            raise BitstreamError("JPEG segment runs past the frame")
        payload = frame[j + 3:end]
        if marker == COM or (0xE0 <= marker <= 0xEF and not (marker == 0xEE and _adobe(payload))):
            removed.append("COM" if marker == COM else f"APP{marker - 0xE0}")
        else:
            out += b"\xff" + frame[j:end]
        i = end
        if marker == SOS:  # entropy-coded data up to the next real marker
            k = i
            while True:
                k = frame.find(b"\xff", k)
                if k < 0 or k + 1 >= n:
                    raise BitstreamError("JPEG scan without a following marker")
                nxt = frame[k + 1]
                if nxt < 0x80 or 0xD0 <= nxt <= 0xD7:  # stuffed byte (JPEG: 00, JPEG-LS: <80) or RSTn
                    k += 2
                    continue
                if nxt == 0xFF:
                    k += 1
                    continue
                break
            out += frame[i:k]
            i = k
    raise BitstreamError("JPEG frame without EOI")


def strip_j2k(frame: bytes) -> tuple[bytes, list[str]]:
    """A JPEG 2000 codestream without COM segments (tile-part lengths corrected)."""
    n = len(frame)
    out = bytearray(frame[:2])
    removed: list[str] = []
    i = 2

    def header(i: int, stop: int, buf: bytearray) -> int:
        while True:
            if i + 4 > n:
                raise BitstreamError("JPEG 2000 header cut short")
            (marker,) = struct.unpack_from(">H", frame, i)
            if marker == stop:
                return i
            (length,) = struct.unpack_from(">H", frame, i + 2)
            end = i + 2 + length
            if end > n:
                raise BitstreamError("JPEG 2000 segment runs past the frame")
            if marker == J2K_COM:
                removed.append("COM")
            else:
                buf += frame[i:end]
            i = end

    i = header(i, J2K_SOT, out)
    while i + 2 <= n:
        (marker,) = struct.unpack_from(">H", frame, i)
        if marker == J2K_EOC:
            out += frame[i:i + 2]
            if i + 2 < n:
                removed.append("trailing")
            return bytes(out), removed
        if marker != J2K_SOT or i + 12 > n:
            raise BitstreamError("JPEG 2000 tile-part expected")
        (psot,) = struct.unpack_from(">I", frame, i + 6)
        part_end = n - 2 if psot == 0 else i + psot
        if part_end > n:
            raise BitstreamError("JPEG 2000 tile-part runs past the frame")
        head = bytearray()
        sod = header(i + 12, J2K_SOD, head)
        body = frame[sod:part_end]
        sot = bytearray(frame[i:i + 12])
        if psot:
            struct.pack_into(">I", sot, 6, 12 + len(head) + len(body))
        out += sot + head + body
        i = part_end
    raise BitstreamError("JPEG 2000 codestream without EOC")


def strip_frame(frame: bytes) -> tuple[bytes, list[str]]:
    """One compressed frame without metadata segments; unknown formats are left as they are."""
    if frame[:2] == b"\xff\xd8":
        return strip_jpeg(frame)
    if frame[:4] == b"\xff\x4f\xff\x51":
        return strip_j2k(frame)
    return frame, []


def strip_pixel_metadata(ds: Dataset, transfer_syntax: str) -> list[str]:
    """Rewrite ``ds``'s encapsulated pixel data with metadata segments removed (in place).

    Returns the names of the removed segments (empty: the pixel data is left untouched). Frames
    are re-encapsulated one fragment per frame, with a fresh offset table.
    """
    ts = UID(transfer_syntax)
    if "PixelData" not in ds or not ts.is_compressed or ts == "1.2.840.10008.1.2.5":  # RLE: no segments
        return []
    try:
        frames_n = int(ds.get("NumberOfFrames") or 1)
    except (TypeError, ValueError):
        frames_n = 1
    try:
        frames = list(encaps.generate_frames(ds.PixelData, number_of_frames=frames_n))
    except Exception as exc:
        raise BitstreamError(f"encapsulated pixel data cannot be split into frames ({type(exc).__name__})") from None
    cleaned, removed = [], []
    for frame in frames:
        new, gone = strip_frame(frame)
        cleaned.append(new)
        removed += gone
    if not removed:
        return []
    if "ExtendedOffsetTable" in ds:
        data, offsets, lengths = encaps.encapsulate_extended(cleaned)
        ds.ExtendedOffsetTable = offsets
        ds.ExtendedOffsetTableLengths = lengths
    else:
        data = encaps.encapsulate(cleaned, has_bot=len(cleaned) > 1)
    ds.PixelData = data
    ds["PixelData"].is_undefined_length = True
    return removed
