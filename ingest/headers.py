"""Read one DICOM file's header into a manifest row, or say why it cannot be an instance.

Per file the bytes are read once: they feed both the SHA-256 and pydicom (through ``BytesIO``),
and pydicom parses only the tags the manifest needs (``specific_tags``: other values, large
private blobs included, are skipped by seeking, which is what ``defer_size`` would do for them)
and stops before the pixel data. Files over 64 MiB are memory-mapped instead of read whole.
Whether the bytes are a DICOM instance and whole (truncation, DICOMDIR) is decided by the
shared :mod:`radcurate.dicom_file`.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import stat
import struct
import warnings
import zlib
from typing import Any, BinaryIO, Sequence

import pyarrow as pa
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.tag import BaseTag, Tag
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian

from radcurate.dates import parse_da
from radcurate.dicom_file import (DIRECTORY_RECORDS, FILE_SET_ID, NotDicom, deflated_pixel_extent, is_dicomdir,
                                  parse_header, pixel_extent)

from .schemas import FILE_RESULT_SCHEMA
from .walk import display_path

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
        # O_NONBLOCK: a FIFO that appeared after the walk must not block the batch forever
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                return _reject(row, "not_regular_file", "not a regular file; it was not read")
            size = st.st_size
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
        ds, end, last_end, has_meta = parse_header(data, fh, SPECIFIC_TAGS, _has_identifiers)
    except NotDicom as exc:
        return _reject(row, "not_dicom", str(exc))
    except (EOFError, struct.error, zlib.error) as exc:
        return _reject(row, "truncated", f"header ends early ({type(exc).__name__})")
    except Exception as exc:  # pydicom raises many types on corrupt headers
        return _reject(row, "corrupt_header", f"header cannot be parsed ({type(exc).__name__})")
    row["has_file_meta"] = has_meta
    meta = getattr(ds, "file_meta", None)
    ts = _safe(lambda: meta.get("TransferSyntaxUID")) if meta is not None else None
    row["transfer_syntax"] = str(ts) if ts else None
    if is_dicomdir(ds):
        return _reject(row, "dicomdir", "DICOM media directory (DICOMDIR): an index, not an instance")
    for tag, column, kind in FIELD_TAGS:
        row[column] = _value(ds, tag, kind)

    if ts == DeflatedExplicitVRLittleEndian:
        pixel = deflated_pixel_extent(data)
    else:
        implicit, little = ds.original_encoding
        pixel = pixel_extent(data, end, last_end, bool(implicit), little is not False)
    if pixel.get("truncated"):
        return _reject(row, "truncated", pixel["truncated"])
    row.update({k: v for k, v in pixel.items() if k not in ("truncated", "pixel_data_end")})

    missing = [k for k in REQUIRED_UIDS if not row[FIELDS[k][0]]]
    if missing:
        return _reject(row, "missing_uid", f"no {', '.join(missing)} in header")
    if not row["has_pixel_data"] and _is_image_class(row["sop_class_uid"]):
        name = UID(row["sop_class_uid"]).name
        return _reject(row, "no_pixel_data", f"{name} without Pixel Data")
    return row


def _has_identifiers(ds: pydicom.Dataset) -> bool:
    """A forced parse found identifying UIDs (not junk elements of arbitrary bytes)."""
    return any(_value(ds, TAG_OF[k], "code") for k in ("SOPInstanceUID", "SOPClassUID", "StudyInstanceUID"))


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
