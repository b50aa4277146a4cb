"""Read one DICOM file's header into a manifest row, or say why it cannot be an instance.

Per file the bytes are read once: they feed both the SHA-256 and pydicom (through ``BytesIO``),
and pydicom parses only the tags the manifest needs (``specific_tags``: other values, large
private blobs included, are skipped by seeking, which is what ``defer_size`` would do for them)
and stops before the pixel data (``stop_before_pixels``). Files over 64 MiB are memory-mapped
instead of read whole. Truncation is found without decoding pixels: the pixel data element's
declared length (or its encapsulated fragments) is compared with the bytes on disk.
"""

from __future__ import annotations

import hashlib
import io
import mmap
import os
import struct
import warnings
import zlib
from typing import Any, BinaryIO, Sequence

import pyarrow as pa
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_partial
from pydicom.tag import BaseTag, Tag
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian

from radcurate.dates import parse_da

from .schemas import FILE_RESULT_SCHEMA
from .walk import display_path

MEDIA_DIRECTORY_SOP_CLASS = "1.2.840.10008.1.3.10"
PIXEL_TAGS = {(0x7FE0, 0x0010), (0x7FE0, 0x0008), (0x7FE0, 0x0009)}
PIXEL_TAG_INTS = {g << 16 | e for g, e in PIXEL_TAGS}
LONG_VRS = {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN", b"UT", b"UC", b"UR", b"SQ"}
UNDEFINED = 0xFFFFFFFF
MAP_ABOVE = 64 * 1024 * 1024  # bytes; larger files are memory-mapped instead of read whole

# keyword -> (manifest column, kind of value). Kinds: "uid"/"code" ASCII strings, "text"
# strings subject to Specific Character Set, "int" (IS), "us" (binary US), "float"/"floats" (DS),
# "date" (DA), "codes" (multi-valued CS).
FIELDS: dict[str, tuple[str, str]] = {
    "SOPClassUID": ("sop_class_uid", "code"),
    "SOPInstanceUID": ("sop_instance_uid", "code"),
    "SeriesInstanceUID": ("series_uid", "code"),
    "StudyInstanceUID": ("study_uid", "code"),
    "FrameOfReferenceUID": ("frame_of_reference_uid", "code"),
    "SpecificCharacterSet": ("specific_character_set", "code"),
    "PatientID": ("patient_id", "text"),
    "PatientName": ("patient_name", "text"),
    "PatientBirthDate": ("birth_date", "date"),
    "PatientSex": ("sex", "code"),
    "PatientAge": ("age", "code"),
    "AccessionNumber": ("accession", "text"),
    "StudyDate": ("study_date", "date"),
    "StudyTime": ("study_time", "code"),
    "StudyDescription": ("study_description", "text"),
    "SeriesDescription": ("series_description", "text"),
    "Modality": ("modality", "code"),
    "BodyPartExamined": ("body_part_examined", "code"),
    "Manufacturer": ("manufacturer", "text"),
    "InstitutionName": ("institution_name", "text"),
    "SeriesNumber": ("series_number", "int"),
    "InstanceNumber": ("instance_number", "int"),
    "Rows": ("rows", "us"),
    "Columns": ("columns", "us"),
    "NumberOfFrames": ("number_of_frames", "int"),
    "BitsAllocated": ("bits_allocated", "us"),
    "PhotometricInterpretation": ("photometric_interpretation", "code"),
    "PixelSpacing": ("pixel_spacing", "floats"),
    "SliceThickness": ("slice_thickness", "float"),
    "ImagePositionPatient": ("image_position", "floats"),
    "ImageOrientationPatient": ("image_orientation", "floats"),
    "RescaleSlope": ("rescale_slope", "float"),
    "RescaleIntercept": ("rescale_intercept", "float"),
    "BurnedInAnnotation": ("burned_in_annotation", "code"),
}
# (tag, column, kind), resolved once: per-file work then needs no keyword lookups.
FIELD_TAGS = [(int(Tag(k)), column, kind) for k, (column, kind) in FIELDS.items()]
TAG_OF = {k: int(Tag(k)) for k in FIELDS}
FILE_SET_ID = int(Tag("FileSetID"))
DIRECTORY_RECORDS = int(Tag("DirectoryRecordSequence"))
# FileSetID and DirectoryRecordSequence mark a DICOMDIR written without file meta.
SPECIFIC_TAGS = [BaseTag(t) for t, _, _ in FIELD_TAGS] + [BaseTag(FILE_SET_ID), BaseTag(DIRECTORY_RECORDS)]
REQUIRED_UIDS = ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID")


def ingest_batch(files: Sequence[tuple[str, str]]) -> pa.Table:
    """Partition function: one row per ``(path, relpath)``, typed by ``FILE_RESULT_SCHEMA``.

    Top-level and free of closures so Dask can ship it to remote workers. Rows with a ``reason``
    are files that cannot be instances (the driver turns them into quarantine rows).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns per odd value; the row records the outcome
        rows = [_read_file_safely(path, relpath) for path, relpath in files]
    return pa.Table.from_pylist(rows, schema=FILE_RESULT_SCHEMA)


def _read_file_safely(path: str, relpath: str) -> dict[str, Any]:
    """``read_file`` with a last line of defence: one odd file never fails its whole batch."""
    try:
        relpath.encode("utf-8")
    except UnicodeEncodeError:  # a name that is not UTF-8 cannot be stored (nor reliably reopened)
        row = {"path": display_path(path), "relpath": display_path(relpath), "has_pixel_data": False}
        return _reject(row, "bad_file_name", "file name is not valid UTF-8; rename it to ingest it")
    try:
        return read_file(path, relpath)
    except Exception as exc:
        row = {"path": path, "relpath": relpath, "has_pixel_data": False}
        return _reject(row, "corrupt_header", f"header cannot be read ({type(exc).__name__})")


def read_file(path: str, relpath: str) -> dict[str, Any]:
    """Header fields of one file, or ``reason``/``detail`` when it is not a usable instance."""
    row: dict[str, Any] = {"path": path, "relpath": relpath, "has_pixel_data": False}
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size <= MAP_ABOVE:
                return _read_bytes(row, fh.read(), fh)
            # Large (multi-frame) files: hash and check a memory map; parse from the file itself.
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return _read_bytes(row, data, fh)
    except OSError as exc:
        return _reject(row, "unreadable", f"cannot read file ({exc.strerror or type(exc).__name__})")


def _read_bytes(row: dict[str, Any], data: bytes | mmap.mmap, fh: BinaryIO) -> dict[str, Any]:
    """Classify one file's bytes (``data``; ``fh`` is the same file, open) and fill its row."""
    row["size"] = len(data)
    if not len(data):
        return _reject(row, "empty_file", "file has zero bytes")
    row["sha256"] = hashlib.sha256(data).hexdigest()
    try:
        ds, end, last_end, has_meta = _parse(data, fh)
    except _NotDicom as exc:
        return _reject(row, "not_dicom", str(exc))
    except (EOFError, struct.error, zlib.error) as exc:
        return _reject(row, "truncated", f"header ends early ({type(exc).__name__})")
    except Exception as exc:  # pydicom raises many types on corrupt headers
        return _reject(row, "corrupt_header", f"header cannot be parsed ({type(exc).__name__})")
    row["has_file_meta"] = has_meta
    meta = getattr(ds, "file_meta", None)
    ts = _safe(lambda: meta.get("TransferSyntaxUID")) if meta is not None else None
    row["transfer_syntax"] = str(ts) if ts else None
    media_class = _safe(lambda: meta.get("MediaStorageSOPClassUID")) if meta is not None else None
    if str(media_class or "") == MEDIA_DIRECTORY_SOP_CLASS or FILE_SET_ID in ds or DIRECTORY_RECORDS in ds:
        return _reject(row, "dicomdir", "DICOM media directory (DICOMDIR): an index, not an instance")
    for tag, column, kind in FIELD_TAGS:
        row[column] = _value(ds, tag, kind)

    if ts == DeflatedExplicitVRLittleEndian:
        pixel = _deflated_pixel_extent(data)
    else:
        implicit, little = ds.original_encoding
        pixel = _pixel_extent(data, end, last_end, bool(implicit), little is not False)
    if pixel.get("truncated"):
        return _reject(row, "truncated", pixel["truncated"])
    row.update({k: v for k, v in pixel.items() if k != "truncated"})

    missing = [k for k in REQUIRED_UIDS if not row[FIELDS[k][0]]]
    if missing:
        return _reject(row, "missing_uid", f"no {', '.join(missing)} in header")
    if not row["has_pixel_data"] and _is_image_class(row["sop_class_uid"]):
        name = UID(row["sop_class_uid"]).name
        return _reject(row, "no_pixel_data", f"{name} without Pixel Data")
    return row


class _NotDicom(Exception):
    """The bytes do not parse as a DICOM dataset, even with ``force=True``."""


class _ElementEnds:
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


def _parse(data: bytes | mmap.mmap, fh: BinaryIO) -> tuple[pydicom.Dataset, int, int | None, bool]:
    """Parse the header (``dcmread(stop_before_pixels=True)``, ``force=True`` as fallback).

    Returns the dataset, the offset where parsing stopped, where the last value before it ended,
    and whether the file had a preamble and file meta. Small files are parsed from the bytes
    already read (no second read); memory-mapped large ones from the open file.
    """

    def source() -> BinaryIO:
        if isinstance(data, bytes):
            return io.BytesIO(data)
        fh.seek(0)
        return fh

    buf = source()
    ends = _ElementEnds(buf)
    try:
        ds = read_partial(buf, stop_when=ends, specific_tags=SPECIFIC_TAGS)
        return ds, buf.tell(), ends.last_end, True
    except InvalidDicomError:
        pass
    # No preamble/DICM prefix: files written without file meta (e.g. straight from a modality).
    buf = source()
    ends = _ElementEnds(buf)
    try:
        ds = read_partial(buf, stop_when=ends, force=True, specific_tags=SPECIFIC_TAGS)
    except Exception as exc:
        raise _NotDicom(f"no DICOM preamble and not a raw DICOM dataset ({type(exc).__name__})") from None
    # A forced parse of arbitrary bytes "succeeds" with junk elements: demand identifying UIDs.
    if not any(_value(ds, TAG_OF[k], "code") for k in ("SOPInstanceUID", "SOPClassUID", "StudyInstanceUID")):
        raise _NotDicom("no DICOM preamble and no DICOM identifiers in the data")
    return ds, buf.tell(), ends.last_end, False


def _pixel_extent(
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
        return {**extent, "has_pixel_data": length > 0, "pixel_data_length": length}
    # Encapsulated (compressed): walk the item headers, never the fragments' contents.
    off, fragments = start, 0
    while True:
        if off + 8 > size:
            return {"truncated": "encapsulated pixel data ends before its sequence delimiter"}
        group, elem = struct.unpack_from(e + "HH", data, off)
        (item_len,) = struct.unpack_from(e + "L", data, off + 4)
        if (group, elem) == (0xFFFE, 0xE0DD):
            break
        if (group, elem) != (0xFFFE, 0xE000) or item_len == UNDEFINED:
            return {"truncated": "encapsulated pixel data is malformed"}
        off += 8 + item_len
        if off > size:
            return {"truncated": "a pixel data fragment runs past the end of the file"}
        fragments += 1
    # The first item is the Basic Offset Table; frames follow it.
    return {**extent, "has_pixel_data": fragments > 1, "pixel_data_length": -1}


def _deflated_pixel_extent(data: bytes | mmap.mmap) -> dict[str, Any]:
    """Deflated files hide the pixel element inside the zlib stream: inflate and look (rare)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(io.BytesIO(bytes(data)), specific_tags=["PixelData"], defer_size=64)
    return {"has_pixel_data": "PixelData" in ds}


def _is_image_class(sop_class_uid: str | None) -> bool:
    """Storage SOP classes whose instances must carry pixels (CT/MR/DX/CR/SC ... Image Storage)."""
    if not sop_class_uid:
        return False
    return "Image Storage" in UID(sop_class_uid).name


def _reject(row: dict[str, Any], reason: str, detail: str) -> dict[str, Any]:
    row["reason"] = reason
    row["detail"] = detail
    return row


def _safe(fn):
    try:
        return fn()
    except Exception:
        return None


def _value(ds: pydicom.Dataset, tag: int, kind: str) -> Any:
    """A header value converted for the manifest; None when absent, empty or malformed.

    ASCII values are decoded straight from the raw element bytes (pydicom's general conversion,
    with its validation, costs more than the rest of the per-file work); text in another
    character set goes through pydicom, which applies Specific Character Set.
    """
    try:
        elem = ds.get_item(tag)
    except Exception:
        return None
    if elem is None:
        return None
    try:
        raw = elem.value
        if isinstance(elem, RawDataElement) and isinstance(raw, bytes):
            if kind == "us":
                if len(raw) < 2:
                    return None
                return struct.unpack("<H" if elem.is_little_endian else ">H", raw[:2])[0]
            if raw.isascii() and (kind != "text" or b"\x1b" not in raw):  # ESC: ISO 2022 shifts
                return _convert(raw.decode("ascii"), kind)
        value = ds[tag].value  # pydicom conversion (character sets, already-converted elements)
        if value is None or value == "":
            return None
        if kind == "us":
            return int(value[0] if isinstance(value, pydicom.multival.MultiValue) else value)
        if isinstance(value, pydicom.multival.MultiValue):
            value = "\\".join(str(v) for v in value)
        return _convert(str(value), kind)
    except (TypeError, ValueError, OverflowError, struct.error, LookupError):
        return None
    except Exception:
        return None


def _convert(text: str, kind: str) -> Any:
    text = text.strip(" \x00")
    if not text:
        return None
    if kind in ("code", "text"):
        return text
    if kind == "date":
        return parse_da(text)
    parts = [p.strip(" \x00") for p in text.split("\\")]
    if kind == "int":
        return int(float(parts[0])) if parts[0] else None
    if kind == "float":
        return float(parts[0]) if parts[0] else None
    if kind == "floats":
        return [float(p) for p in parts]
    raise ValueError(f"unknown field kind {kind}")
