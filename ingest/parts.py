"""Ingest's Dask tasks: each reads a batch of files and writes its own part files.

Two passes, so the driver never holds header rows. :func:`read_part` reads one batch's headers
into a scratch part (PHI zone) and returns only quarantine rows and a 64-bit hash per SOP
Instance UID. The driver finds duplicated UIDs from the hashes (16 bytes per image) and confirms
them on the few rows involved; :func:`finish_part` then drops duplicates, marks what a DICOMDIR
lists, splits presentation states and SR documents off, writes the batch's part of
``phi/instances.parquet`` and ``phi/annotations.parquet``, and returns per-series and per-study
roll-ups of its rows (one row per series, never per image).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from radcurate.tables import write_part

from .annotations import split_annotations
from .headers import ingest_batch
from .manifests import series_table, split_results, study_table
from .schemas import INSTANCE_SCHEMA


def hash64(values: Sequence[str | None]) -> np.ndarray:
    """A stable 64-bit hash per string (BLAKE2b): compact keys for matching across parts."""
    return np.array([int.from_bytes(hashlib.blake2b((v or "").encode("utf-8", "surrogateescape"),
                                                    digest_size=8).digest(), "little") for v in values],
                    dtype=np.uint64)


def read_part(index: int, relpaths: Sequence[str], root: str, scratch: str) -> dict[str, Any]:
    """Read one batch's headers (files ``root/relpath``) into ``scratch/part-<index>``; return its
    quarantine rows and UID hashes."""
    good, quarantine = split_results(ingest_batch([(os.path.join(root, r), r) for r in relpaths]))  # by relpath
    good = good.cast(INSTANCE_SCHEMA)
    write_part(good, scratch, index, name="phi/instances")
    return {"quarantine": quarantine, "uid_hash": hash64(good.column("sop_instance_uid").to_pylist())}


def finish_part(index: int, scratch: str, drop: frozenset[str], listed: np.ndarray | None,
                instances_dir: str, annotations_dir: str) -> dict[str, Any]:
    """Drop ``drop`` (relpaths of duplicates), flag DICOMDIR listings (``listed``: hashes of listed
    relpaths; None when the tree has no DICOMDIR), split annotations off, write both parts; return
    roll-ups, quarantine rows and counts."""
    from radcurate.tables import part_name

    table = pq.read_table(Path(scratch) / part_name(index)).cast(INSTANCE_SCHEMA)
    if drop:
        keep = pc.invert(pc.is_in(table.column("relpath"), value_set=pa.array(sorted(drop), pa.string())))
        table = table.filter(keep)
    if listed is not None:
        flags = np.isin(hash64(table.column("relpath").to_pylist()), listed)
        i = table.schema.get_field_index("in_dicomdir")
        table = table.set_column(i, INSTANCE_SCHEMA.field("in_dicomdir"), pa.array(flags, pa.bool_()))
    instances, annotations, unreadable = split_annotations(table)
    write_part(instances, instances_dir, index)
    if annotations.num_rows:
        write_part(annotations, annotations_dir, index)
    pairs = instances.group_by(["study_uid", "series_uid"]).aggregate([])  # which series each study holds
    return {"series": series_table(instances), "studies": study_table(instances), "pairs": pairs,
            "quarantine": unreadable,
            "instances": instances.num_rows, "annotations": annotations.num_rows}
