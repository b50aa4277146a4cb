"""The ingest stage: DICOM tree + RIS extract -> ``OUT/phi/*.parquet`` and quarantine rows.

Headers are read in file batches, serially in-process or as Dask tasks on the given client, and
each batch writes its own part of ``phi/instances.parquet`` (see :mod:`.parts`): the driver sees
quarantine rows, 16 bytes per image for duplicate detection, and per-series roll-ups, never the
header rows, so its memory does not grow with the export.
"""

from __future__ import annotations

import math
import os
import shutil
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

import numpy as np
import pyarrow.parquet as pq

from radcurate.cluster import run_tasks, worker_count
from radcurate.tables import (append_quarantine, commit_table, part_name, private_dir, staging_folder,
                              write_table)

from .annotations import ANNOTATIONS_SCHEMA
from .config import NAME, IngestConfig
from .manifests import drop_duplicate_instances, merge_series, merge_studies
from .parts import finish_part, hash64, read_part
from .reports import read_reports
from .schemas import INSTANCE_SCHEMA, REPORT_SCHEMA, SERIES_SCHEMA, STUDY_SCHEMA
from .walk import read_dicomdir, scan_tree

PAIRS = pa.schema([("study_uid", pa.string()), ("series_uid", pa.string())])


@dataclass
class IngestSummary:
    """Counts that reconcile: ``files_found == instances + files_quarantined`` and
    ``reports_in == reports + reports_quarantined``. DICOMDIR files count as quarantined files
    (reason ``dicomdir``): they are indexes, not instances."""

    files_found: int = 0
    instances: int = 0
    annotations: int = 0  # presentation states and SR documents (phi/annotations.parquet)
    files_quarantined: int = 0
    series: int = 0
    studies: int = 0
    dicomdirs: int = 0
    dicomdir_missing_references: int = 0
    reports_in: int = 0
    reports: int = 0
    reports_quarantined: int = 0
    quarantine_by_reason: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_ingest(
    dicom_dir: str | os.PathLike,
    reports_file: str | os.PathLike | None,
    out_dir: str | os.PathLike,
    *,
    client: Any = None,
    config: IngestConfig = IngestConfig(),
) -> IngestSummary:
    """Ingest a PACS export. With ``client=None`` batches run serially in this process; with a
    ``distributed.Client`` they run as tasks on its workers (which must see the same paths)."""
    started = time.perf_counter()
    root = Path(dicom_dir).resolve()
    out = Path(out_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"DICOM folder not found: {dicom_dir}")
    if reports_file is not None and not Path(reports_file).is_file():
        raise FileNotFoundError(f"report extract not found: {reports_file}")
    scan = scan_tree(root, exclude=out)
    relpaths = sorted(scan.files)
    batches = make_batches(relpaths, config.batch_size, worker_count(client))
    phi = private_dir(out / "phi")
    instances_dir = staging_folder(phi / "instances.parquet")
    annotations_dir = staging_folder(phi / "annotations.parquet")
    for old in phi.glob(".ingest-scratch-*"):  # a killed run's headers (the OUT lock keeps runs apart)
        shutil.rmtree(old, ignore_errors=True)
    scratch = private_dir(phi / f".ingest-scratch-{uuid.uuid4().hex[:12]}")
    try:
        read = run_tasks(read_part, range(len(batches)), batches, client=client, root=str(root),
                         scratch=str(scratch), name="ingest: reading headers batch", progress=config.show_progress)
        quarantine = [dict(p) for p in scan.problems] + [q for r in read for q in r["quarantine"]]
        drop, duplicates = _duplicates(read, scratch)
        quarantine += duplicates
        listed, dicomdir_missing = _dicomdir_listings(root, relpaths, quarantine)
        n = len(batches)
        done = run_tasks(finish_part, range(n), [str(scratch)] * n, [drop] * n, [listed] * n,
                         [str(instances_dir)] * n, [str(annotations_dir)] * n, client=client)
        commit_table(instances_dir, phi / "instances.parquet", INSTANCE_SCHEMA)
        commit_table(annotations_dir, phi / "annotations.parquet", ANNOTATIONS_SCHEMA)
    except BaseException:
        for folder in (instances_dir, annotations_dir):
            shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    quarantine += [q for d in done for q in d["quarantine"]]
    series = merge_series([d["series"] for d in done])
    studies = merge_studies([d["studies"] for d in done], [d["pairs"].cast(PAIRS) for d in done])
    n_instances = sum(d["instances"] for d in done)
    n_annotations = sum(d["annotations"] for d in done)
    files_quarantined = len(quarantine)

    link = {}
    for row in studies.select(["accession", "study_uid", "patient_id"]).to_pylist():
        if row["accession"] and row["accession"] not in link:
            link[row["accession"]] = (row["study_uid"], row["patient_id"])
    reports_in = 0
    report_rows: list[dict[str, Any]] = []
    if reports_file is not None:
        read_rep = read_reports(reports_file, link, config)
        reports_in, report_rows = read_rep.n_in, read_rep.rows
        quarantine += read_rep.quarantine

    write_table(series, phi / "series.parquet", SERIES_SCHEMA)
    write_table(studies, phi / "studies.parquet", STUDY_SCHEMA)
    write_table(pa.Table.from_pylist(report_rows, schema=REPORT_SCHEMA), phi / "reports.parquet")
    append_quarantine(out / "quarantine.parquet", NAME, quarantine)

    return IngestSummary(
        files_found=len(relpaths) + len(scan.problems),
        instances=n_instances,
        annotations=n_annotations,
        files_quarantined=files_quarantined,
        series=series.num_rows,
        studies=studies.num_rows,
        dicomdirs=sum(1 for q in quarantine if q["reason"] == "dicomdir"),
        dicomdir_missing_references=dicomdir_missing,
        reports_in=reports_in,
        reports=len(report_rows),
        reports_quarantined=len(quarantine) - files_quarantined,
        quarantine_by_reason=dict(sorted(Counter(q["reason"] for q in quarantine).items())),
        batches=len(batches),
        seconds=round(time.perf_counter() - started, 3),
    )


def make_batches(relpaths: list[str], batch_size: int, workers: int = 1) -> list[list[str]]:
    """Split files (paths relative to the tree) into batches of at most ``batch_size``, at least ~4
    per worker when possible. Relative paths only: the scheduler holds every batch until it ran."""
    if not relpaths:
        return []
    size = max(1, min(batch_size, math.ceil(len(relpaths) / (4 * max(1, workers)))))
    return [relpaths[i : i + size] for i in range(0, len(relpaths), size)]


def _duplicates(read: list[dict[str, Any]], scratch: Path) -> tuple[frozenset[str], list[dict[str, Any]]]:
    """Relpaths of files whose SOP Instance UID an earlier file (by path) already has, and their
    quarantine rows. Hashes find the candidates (16 bytes per image here); the few rows they
    point at are read back and compared on the real UID."""
    if not read:
        return frozenset(), []
    hashes = np.concatenate([r["uid_hash"] for r in read])
    parts = np.concatenate([np.full(len(r["uid_hash"]), i, np.int32) for i, r in enumerate(read)])
    rows = np.concatenate([np.arange(len(r["uid_hash"]), dtype=np.int32) for r in read])
    order = np.argsort(hashes, kind="stable")
    same = hashes[order][1:] == hashes[order][:-1]
    involved = np.zeros(len(hashes), bool)
    involved[order[1:][same]] = True
    involved[order[:-1][same]] = True
    if not involved.any():
        return frozenset(), []
    picked = []
    for part in np.unique(parts[involved]):
        table = pq.read_table(scratch / part_name(int(part)), columns=["relpath", "sop_instance_uid", "sha256"])
        picked.append(table.take(pa.array(rows[involved & (parts == part)])))
    candidates = pa.concat_tables(picked).sort_by("relpath")
    kept, duplicates = drop_duplicate_instances(candidates)
    return frozenset(q["source"] for q in duplicates), duplicates


def _dicomdir_listings(root: Path, relpaths: list[str], quarantine: list[dict[str, Any]]
                       ) -> tuple[np.ndarray | None, int]:
    """Hashes of the relpaths the tree's DICOMDIRs list (None: no DICOMDIR), entries missing on
    disk; each DICOMDIR's quarantine row gets its description."""
    dicomdirs = [q for q in quarantine if q["reason"] == "dicomdir"]
    if not dicomdirs:
        return None, 0
    by_lower = {p.lower(): p for p in relpaths}  # once: a CD-import-heavy export has hundreds of DICOMDIRs
    listed: set[str] = set()
    missing_total = 0
    for q in dicomdirs:
        listing = read_dicomdir(root, q["source"], by_lower)
        listed |= listing.referenced
        missing_total += listing.missing
        if listing.readable:
            q["detail"] = (
                f"DICOM media directory (an index, not an instance): lists "
                f"{len(listing.referenced) + listing.missing} files, {listing.missing} missing on disk"
            )
    return np.unique(hash64(sorted(listed))), missing_total
