"""Annotation objects in a PACS export: presentation states and structured reports.

A Grayscale Softcopy Presentation State (the long- and short-axis lines a radiologist drew) or an
SR measurement report (TID 1500) has no pixel data, yet it is not junk: it is the image-side half
of a lesion measurement. Ingest sets such files apart from the image instances into
``phi/annotations.parquet`` (one row per object, with the image SOP Instance UIDs it references),
so that the counting rule reads ``files = instances + annotations + quarantined``.
"""

from __future__ import annotations

import warnings
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pydicom

PR_PREFIX = "1.2.840.10008.5.1.4.1.1.11."  # Softcopy Presentation State Storage classes
SR_PREFIX = "1.2.840.10008.5.1.4.1.1.88."  # Structured Report Storage classes
NOT_IMAGE_REFERENCES = frozenset({"ReferencedStudySequence", "ReferencedPerformedProcedureStepSequence"})

ANNOTATIONS_SCHEMA = pa.schema([
    pa.field("path", pa.string(), nullable=False),
    pa.field("relpath", pa.string(), nullable=False),
    pa.field("sha256", pa.string()),
    pa.field("kind", pa.string(), nullable=False),  # GSPS (any presentation state) or SR
    pa.field("sop_class_uid", pa.string()),
    pa.field("sop_instance_uid", pa.string(), nullable=False),
    pa.field("series_uid", pa.string(), nullable=False),
    pa.field("study_uid", pa.string(), nullable=False),
    pa.field("patient_id", pa.string()),
    pa.field("patient_name", pa.string()),
    pa.field("accession", pa.string()),
    pa.field("study_date", pa.date32()),
    pa.field("modality", pa.string()),
    pa.field("referenced_sop_instance_uids", pa.list_(pa.string())),
])


def annotation_kind(sop_class_uid: str | None) -> str | None:
    """``GSPS`` for presentation states, ``SR`` for structured reports, else None."""
    uid = str(sop_class_uid or "")
    if uid.startswith(PR_PREFIX):
        return "GSPS"
    if uid.startswith(SR_PREFIX):
        return "SR"
    return None


def referenced_uids(ds: pydicom.Dataset) -> list[str]:
    """Every referenced image's SOP Instance UID, at any depth, in order of first mention (the
    Referenced Study / Performed Procedure Step Sequences name studies and steps, not images)."""
    seen: dict[str, None] = {}

    def walk(d: pydicom.Dataset) -> None:
        for elem in d:
            if elem.VR == "SQ" and elem.keyword in NOT_IMAGE_REFERENCES:
                continue
            if elem.VR == "SQ":
                for item in elem.value:
                    walk(item)
            elif elem.keyword == "ReferencedSOPInstanceUID" and elem.value:
                seen.setdefault(str(elem.value).strip(), None)

    walk(ds)
    return list(seen)


def split_annotations(instances: pa.Table) -> tuple[pa.Table, pa.Table, list[dict[str, Any]]]:
    """(image instances, annotation objects, quarantine rows) from ingest's instance candidates.

    Annotation files are small: each is read whole here (on the driver) for its references.
    """
    kinds = [annotation_kind(u) for u in instances.column("sop_class_uid").to_pylist()]
    is_ann = pa.array([k is not None for k in kinds], pa.bool_())
    if not any(k is not None for k in kinds):
        return instances, ANNOTATIONS_SCHEMA.empty_table(), []
    rows, quarantine = [], []
    for r, kind in zip(instances.filter(is_ann).to_pylist(), (k for k in kinds if k is not None)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(r["path"], force=True)
            refs = referenced_uids(ds)
        except Exception as exc:
            quarantine.append({"source": r["relpath"], "reason": "unreadable_annotation",
                               "detail": f"{kind} object cannot be parsed ({type(exc).__name__})"})
            continue
        rows.append({**{k: r.get(k) for k in ANNOTATIONS_SCHEMA.names}, "kind": kind,
                     "referenced_sop_instance_uids": refs})
    table = pa.Table.from_pylist(rows, schema=ANNOTATIONS_SCHEMA)
    return instances.filter(pc.invert(is_ann)), table, quarantine
