"""De-identify DICOM files in batches: read, walk, clean pixels, write; one task per batch.

:func:`deid_batch` is the Dask partition function (top level, picklable arguments). Each worker
process builds its :class:`~radcurate.deid.dicom.DicomDeidentifier` once (cached per keyer and
config), so rule tables and UID maps are not rebuilt per file. A file that cannot be read,
keyed, checked or written becomes a quarantine row; it never stops the batch.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import pydicom
from pydicom.uid import (DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, ExplicitVRLittleEndian,
                         ImplicitVRLittleEndian)

from radcurate.dates import parse_da
from radcurate.dicom_file import is_dicomdir, looks_like_dataset, trailing_bytes
from radcurate.isolation import NativeFailure, check_decodes, guarded

from .bitstream import BitstreamError, strip_pixel_metadata
from .config import DeidConfig
from .dicom import DicomDeidentifier, FileRejected, audit_rows
from .geometry import GeometryError, check_geometry
from .keys import Keyer
from .pixels import PixelError, clean_pixels



@functools.lru_cache(maxsize=4)
def deidentifier(keyer: Keyer, config: DeidConfig) -> DicomDeidentifier:
    """One de-identifier per worker process and (keyer, config)."""
    return DicomDeidentifier(keyer, config)


def _float_list(value: Any) -> list[float] | None:
    if value is None:
        return None
    try:  # one value (DS 12.5 is a float) or several (MultiValue)
        vals = [value] if isinstance(value, (str, bytes, int, float)) else list(value)
        return [float(v) for v in vals]
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _read_implicit(ds: pydicom.Dataset) -> bool:
    """Was the body read as implicit VR (raw elements without a VR), whatever the meta says?"""
    if getattr(ds, "original_encoding", (None, None))[0]:
        return True
    for tag in ds.keys():
        raw = ds.get_item(tag)
        return getattr(raw, "is_raw", False) and raw.VR is None
    return False


def _transfer_syntax(ds: pydicom.Dataset) -> tuple[str, bool]:
    """(transfer syntax UID to write, little endian?) from the file meta or the encoding read."""
    meta_ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    implicit, little = getattr(ds, "original_encoding", (None, None))
    if meta_ts and str(meta_ts) in pydicom.uid.UID_dictionary:
        ts = pydicom.uid.UID(str(meta_ts))
        if not ts.is_compressed and ts != DeflatedExplicitVRLittleEndian and implicit is not None:
            # the meta group can lie (SC_rgb_jpeg): write the encoding the body really used
            ts = (ImplicitVRLittleEndian if implicit else
                  (ExplicitVRLittleEndian if little else ExplicitVRBigEndian))
        return ts, bool(ts.is_little_endian) if not ts.is_compressed else True
    if implicit is None:
        return ExplicitVRLittleEndian, True
    ts = ImplicitVRLittleEndian if implicit else (ExplicitVRLittleEndian if little else ExplicitVRBigEndian)
    return ts, bool(little)


def deidentify_file(path: str, source: str, out_root: str, keyer: Keyer, config: DeidConfig) -> dict[str, Any]:
    """De-identify one file; returns ``{"instance": row, "audit": rows, "crosswalk": row}`` or
    ``{"quarantine": row}``. Nothing PHI goes into ``detail``."""
    def reject(reason: str, detail: str) -> dict[str, Any]:
        return {"quarantine": {"source": source, "reason": reason, "detail": detail}}

    deid = deidentifier(keyer, config)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        return reject("unreadable", f"cannot read file ({exc.strerror or type(exc).__name__})")
    try:
        ds = pydicom.dcmread(io.BytesIO(raw), force=True)
    except Exception as exc:
        return reject("unreadable", f"pydicom cannot parse the file ({type(exc).__name__})")
    trailing = trailing_bytes(raw) if "PixelData" in ds else 0
    del raw
    try:
        if not looks_like_dataset(ds):
            return reject("not_dicom", "no DICOM preamble and no standard data elements")
        if is_dicomdir(ds):
            return reject("dicomdir", "a DICOMDIR is an index of the export, not an instance")
        ts, little = _transfer_syntax(ds)
        check_geometry(ds, ts)  # before anything else: the pixel check must see every byte written
        result = deid.deidentify(ds)
    except GeometryError as exc:
        return reject(exc.reason, str(exc))
    except FileRejected as exc:
        return reject(exc.reason, exc.detail)
    except Exception as exc:
        return reject("deid_failed", f"header de-identification failed ({type(exc).__name__})")
    ident = result.identity
    boxes = []
    if config.clean_pixels:
        try:
            failure = (check_decodes(path, ts, config.decode_timeout)
                       if config.text_detector != "none" and "PixelData" in ds else None)
            if failure:
                raise NativeFailure(failure)
            boxes, ts = guarded(clean_pixels, ds, ts, little, method=config.text_detector)
        except NativeFailure as exc:
            return reject("pixel_undecodable", f"cannot decode pixel data ({exc.detail}); transfer syntax {ts}")
        except PixelError as exc:
            return reject(exc.reason, exc.detail + f"; transfer syntax {ts}")
        except Exception as exc:
            return reject("pixel_clean_failed", f"pixel check failed ({type(exc).__name__})")
    segments: list[str] = []
    try:
        segments = strip_pixel_metadata(ds, ts)
    except BitstreamError as exc:
        return reject("unparseable_pixel_data", f"{exc}: its metadata segments cannot be removed")
    rel = Path("dicom") / ident.patient_key / ident.study_key / ident.series_key / f"{ident.instance_key}.dcm"
    dest = Path(out_root) / rel
    try:
        ds.preamble = b"\x00" * 128  # the preamble is free for any application's bytes: never copied
        ds.file_meta = deid.file_meta(ds, ts)
        if not dest.parent.is_dir():
            dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        ts_uid = pydicom.uid.UID(ts)
        if ts_uid != ImplicitVRLittleEndian and _read_implicit(ds):
            for _ in ds.iterall():  # read implicit, written explicit: raw elements need their VRs
                pass
        ds.save_as(tmp, enforce_file_format=True,
                   implicit_vr=ts_uid == ImplicitVRLittleEndian if not ts_uid.is_compressed else False,
                   little_endian=ts_uid != ExplicitVRBigEndian)
        os.replace(tmp, dest)
    except Exception as exc:
        try:
            tmp.unlink()
        except Exception:
            pass
        return reject("write_failed", f"de-identified dataset could not be written ({type(exc).__name__})")

    audit = audit_rows(ident.instance_key, result)
    extra = {"instance_key": ident.instance_key, "tag": "", "keyword": "", "vr": ""}
    if trailing:
        audit.append({**extra, "path": f"(after PixelData: {trailing} bytes)", "action": "removed",
                      "rule": "trailing_data"})
    for name in sorted(set(segments)):
        audit.append({**extra, "path": f"PixelData[{name} segments: {segments.count(name)}]",
                      "tag": "(7FE0,0010)", "keyword": "PixelData", "action": "removed",
                      "rule": "bitstream_metadata"})
    for frame, b in boxes:
        audit.append({"instance_key": ident.instance_key, "path": f"PixelData[frame {frame}]", "tag": "(7FE0,0010)",
                      "keyword": "PixelData", "vr": "", "action": "blanked", "rule": f"option:clean_pixels:{config.text_detector}",
                      "x0": b.x0, "y0": b.y0, "x1": b.x1, "y1": b.y1})
    study_date = parse_da(ds.get("StudyDate") or "")
    pos = _float_list(ds.get("ImagePositionPatient"))
    row = {
        "patient_key": ident.patient_key, "study_key": ident.study_key, "series_key": ident.series_key,
        "instance_key": ident.instance_key, "accession_key": ident.accession_key,
        "modality": str(ds.get("Modality", "") or "") or None,
        "body_part": str(ds.get("BodyPartExamined", "") or "") or None,
        "study_date": study_date,
        "study_description": str(ds.get("StudyDescription", "") or "") or None,
        "series_number": _int(ds.get("SeriesNumber")),
        "series_description": str(ds.get("SeriesDescription", "") or "") or None,
        "instance_number": _int(ds.get("InstanceNumber")),
        "path": rel.as_posix(),
        "rows": _int(ds.get("Rows")), "columns": _int(ds.get("Columns")),
        "number_of_frames": _int(ds.get("NumberOfFrames")) or (1 if "PixelData" in ds else None),
        "pixel_spacing": _float_list(ds.get("PixelSpacing")),
        "slice_thickness": (_float_list(ds.get("SliceThickness")) or [None])[0],
        "image_position": pos,
        "slice_position": pos[2] if pos and len(pos) == 3 else (_float_list(ds.get("SliceLocation")) or [None])[0],
        "transfer_syntax": str(ts),
        "text_regions_blanked": len(boxes),
        "source": source,
    }
    out = {"instance": row, "audit": audit,
           "known": (ident.originals["patient_id"], result.known.names, result.known.ids,
                     result.known.dates, result.known.other, result.known.birth_dates)}  # PHI: stays in memory, feeds reports
    if config.crosswalk:
        out["crosswalk"] = {**ident.originals, "source": source, "patient_key": ident.patient_key,
                            "study_key": ident.study_key, "series_key": ident.series_key,
                            "instance_key": ident.instance_key, "accession_key": ident.accession_key,
                            "date_shift_days": ident.shift.days}
    return out


def deid_batch(files: list[tuple[str, str]], out_root: str, keyer: Keyer, config: DeidConfig) -> list[dict[str, Any]]:
    """De-identify a batch of ``(path, source)`` files (the Dask partition function)."""
    results = []
    log = logging.getLogger("pydicom")
    level = log.level
    log.setLevel(logging.CRITICAL)  # pydicom warnings can quote values: keep PHI out of logs
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for path, source in files:
                results.append(deidentify_file(path, source, out_root, keyer, config))
    finally:
        log.setLevel(level)
    return results
