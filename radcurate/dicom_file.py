"""Is this file a DICOM instance, and are its bytes whole? Shared by ingest and deid.

Parsing stops at the pixel data: the header is read (only the tags asked for), then the pixel
data element's declared length, or its encapsulated fragments' item headers, are checked against
the bytes on disk without decoding anything. A file without a preamble is parsed with
``force=True`` and must then carry identifying UIDs (a forced parse of arbitrary bytes "succeeds"
with junk elements). A DICOMDIR is an index of a file set, not an instance. Bytes after the
pixel data element are no part of the dataset (:func:`trailing_bytes`).
"""

from __future__ import annotations

import io
import mmap
import os
import struct
import warnings
from typing import Any, BinaryIO, Callable, Sequence

import pydicom
from pydicom.datadict import dictionary_has_tag
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_partial
from pydicom.tag import BaseTag, Tag
from pydicom.uid import DeflatedExplicitVRLittleEndian

MEDIA_DIRECTORY_SOP_CLASS = "1.2.840.10008.1.3.10"
PIXEL_TAGS = {(0x7FE0, 0x0010), (0x7FE0, 0x0008), (0x7FE0, 0x0009)}
PIXEL_TAG_INTS = {g << 16 | e for g, e in PIXEL_TAGS}
LONG_VRS = {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN", b"UT", b"UC", b"UR", b"SQ"}
UNDEFINED = 0xFFFFFFFF
FILE_SET_ID = int(Tag("FileSetID"))
DIRECTORY_RECORDS = int(Tag("DirectoryRecordSequence"))
IDENTIFYING = ("SOPInstanceUID", "SOPClassUID", "StudyInstanceUID")
IDENTIFYING_TAGS = [BaseTag(int(Tag(k))) for k in IDENTIFYING] + [BaseTag(FILE_SET_ID), BaseTag(DIRECTORY_RECORDS)]


class NotDicom(Exception):
    """The bytes do not parse as a DICOM dataset, even with ``force=True``."""


def _has_identifiers(ds: pydicom.Dataset) -> bool:
    for keyword in IDENTIFYING:
        try:
            value = ds.get(keyword)
        except Exception:
            continue
        if value is not None and str(value).strip(" \x00"):
            return True
    return False


def is_dicomdir(ds: pydicom.Dataset) -> bool:
    """A DICOM media directory (DICOMDIR): an index of the export, not an instance."""
    meta = getattr(ds, "file_meta", None)
    try:
        media_class = meta.get("MediaStorageSOPClassUID") if meta is not None else None
    except Exception:
        media_class = None
    return str(media_class or "") == MEDIA_DIRECTORY_SOP_CLASS or FILE_SET_ID in ds or DIRECTORY_RECORDS in ds


_FIRST_GROUPS = frozenset({0x0002, 0x0008, 0x0200, 0x0800})  # a dataset without preamble starts here (LE / BE)


def could_be_dicom(path: str | os.PathLike) -> bool:
    """A cheap look at a file's first 132 bytes: the DICM prefix, or a first element in group 0002 or
    0008 (files written without preamble). False for anything unreadable."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    if head[128:132] == b"DICM":
        return True
    return len(head) >= 8 and int.from_bytes(head[:2], "little") in _FIRST_GROUPS


def looks_like_dataset(ds: pydicom.Dataset) -> bool:
    """A preamble, or at least one standard data element: not arbitrary bytes read with ``force``."""
    return getattr(ds, "preamble", None) is not None or any(
        not t.is_private and dictionary_has_tag(t) for t in ds.keys())


class ElementEnds:
    """``stop_when`` for pydicom: stop at the pixel data, and remember where the last top-level
    value ended, so a file that stops inside an element header is seen as truncated."""

    def __init__(self, buf: BinaryIO):
        self.buf = buf
        self.last_end: int | None = 0

    def __call__(self, tag: int, vr: str | None, length: int) -> bool:
        if tag in PIXEL_TAG_INTS:
            return True
        self.last_end = None if length == UNDEFINED else self.buf.tell() + length
        return False


def parse_header(data: bytes | mmap.mmap, fh: BinaryIO, specific_tags: Sequence[BaseTag] | None = None,
                 has_identifiers: Callable[[pydicom.Dataset], bool] | None = None,
                 ) -> tuple[pydicom.Dataset, int, int | None, bool]:
    """Parse the header up to the pixel data (``force=True`` as fallback for files without a
    preamble), reading only ``specific_tags`` (default: the identifying UIDs).

    Returns the dataset, the offset where parsing stopped, where the last value before it ended,
    and whether the file had a preamble and file meta. Small files are parsed from the bytes
    already read (no second read); memory-mapped large ones from the open file (``fh``). A forced
    parse must find identifying UIDs (``has_identifiers``), else :class:`NotDicom`.
    """
    specific_tags = IDENTIFYING_TAGS if specific_tags is None else specific_tags
    has_identifiers = has_identifiers or _has_identifiers

    def source() -> BinaryIO:
        if isinstance(data, bytes):
            return io.BytesIO(data)
        fh.seek(0)
        return fh

    buf = source()
    ends = ElementEnds(buf)
    try:
        ds = read_partial(buf, stop_when=ends, specific_tags=specific_tags)
        return ds, buf.tell(), ends.last_end, True
    except InvalidDicomError:
        pass
    # No preamble/DICM prefix: files written without file meta (e.g. straight from a modality).
    buf = source()
    ends = ElementEnds(buf)
    try:
        ds = read_partial(buf, stop_when=ends, force=True, specific_tags=specific_tags)
    except Exception as exc:
        raise NotDicom(f"no DICOM preamble and not a raw DICOM dataset ({type(exc).__name__})") from None
    # A forced parse of arbitrary bytes "succeeds" with junk elements: demand identifying UIDs.
    if not has_identifiers(ds):
        raise NotDicom("no DICOM preamble and no DICOM identifiers in the data")
    return ds, buf.tell(), ends.last_end, False


def pixel_extent(
    data: bytes | mmap.mmap, pos: int, last_end: int | None, implicit: bool, little: bool
) -> dict[str, Any]:
    """Locate the pixel data element that parsing stopped at and check it fits in the file."""
    size = len(data)
    if pos > size:
        return {"truncated": f"a header element runs {pos - size} bytes past the end of the file"}
    if pos == size:
        if last_end is not None and last_end < size:  # pydicom consumed a partial element header
            return {"truncated": "file ends inside a data element header"}
        return {"has_pixel_data": False}
    e = "<" if little else ">"
    if pos + 8 > size:
        return {"truncated": "file ends inside a data element header"}
    group, elem = struct.unpack_from(e + "HH", data, pos)
    if (group, elem) not in PIXEL_TAGS:
        return {"truncated": "file ends inside a data element"}
    vr = data[pos + 4 : pos + 6]
    if not implicit and vr.isalpha():
        if vr in LONG_VRS:
            if pos + 12 > size:
                return {"truncated": "file ends inside the pixel data header"}
            (length,) = struct.unpack_from(e + "L", data, pos + 8)
            start = pos + 12
        else:
            (length,) = struct.unpack_from(e + "H", data, pos + 6)
            start = pos + 8
    else:
        (length,) = struct.unpack_from(e + "L", data, pos + 4)
        start = pos + 8
    extent = {"pixel_data_offset": pos}
    if length != UNDEFINED:
        if start + length > size:
            missing = start + length - size
            return {"truncated": f"pixel data declares {length} bytes; {missing} are missing"}
        return {**extent, "has_pixel_data": length > 0, "pixel_data_length": length,
                "pixel_data_end": start + length}
    # Encapsulated (compressed): walk the item headers, never the fragments' contents.
    off, fragments = start, 0
    while True:
        if off + 8 > size:
            return {"truncated": "encapsulated pixel data ends before its sequence delimiter"}
        group, elem = struct.unpack_from(e + "HH", data, off)
        (item_len,) = struct.unpack_from(e + "L", data, off + 4)
        if (group, elem) == (0xFFFE, 0xE0DD):
            off += 8
            break
        if (group, elem) != (0xFFFE, 0xE000) or item_len == UNDEFINED:
            return {"truncated": "encapsulated pixel data is malformed"}
        off += 8 + item_len
        if off > size:
            return {"truncated": "a pixel data fragment runs past the end of the file"}
        fragments += 1
    # The first item is the Basic Offset Table; frames follow it.
    return {**extent, "has_pixel_data": fragments > 1, "pixel_data_length": -1, "pixel_data_end": off}


def trailing_bytes(data: bytes) -> int:
    """How many bytes follow the pixel data element (0 when none, or when it cannot be told).

    Anything after Pixel Data other than a trailing padding or signature element is not part of
    the dataset: a tool (or a person) appended it, and it may hold anything.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds, end, last_end, _ = parse_header(data, io.BytesIO(data))
        meta = getattr(ds, "file_meta", None)
        if meta is not None and meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian:
            return 0
        implicit, little = ds.original_encoding
        extent = pixel_extent(data, end, last_end, bool(implicit), little is not False)
    except Exception:
        return 0
    stop = extent.get("pixel_data_end")
    return max(0, len(data) - stop) if stop is not None else 0


def deflated_pixel_extent(data: bytes | mmap.mmap) -> dict[str, Any]:
    """Deflated files hide the pixel element inside the zlib stream: inflate and look (rare)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(io.BytesIO(bytes(data)), specific_tags=["PixelData"], defer_size=64)
    return {"has_pixel_data": "PixelData" in ds}
