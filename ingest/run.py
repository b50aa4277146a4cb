"""The ingest stage: DICOM tree + RIS extract -> ``OUT/phi/*.parquet`` and quarantine rows.

Headers are read in file batches, serially in-process or as Dask tasks on the given client;
everything after (duplicates, roll-ups, reports) is cheap table work on the driver.
"""

from __future__ import annotations

import math
import os
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from radcurate.tables import append_quarantine, write_table

from .annotations import ANNOTATIONS_SCHEMA, split_annotations
from .config import IngestConfig
from .headers import ingest_batch
from .manifests import drop_duplicate_instances, series_table, split_results, study_table
from .reports import read_reports
from .schemas import FILE_RESULT_SCHEMA, INSTANCE_SCHEMA, REPORT_SCHEMA
from .walk import list_files, read_dicomdir

STAGE = "ingest"
OUTPUTS = (
    "phi/instances.parquet",
    "phi/series.parquet",
    "phi/studies.parquet",
    "phi/reports.parquet",
    "phi/annotations.parquet",
)


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
    relpaths = list_files(root, exclude=out)
    batches = make_batches(root, relpaths, config.batch_size, _worker_count(client))
    results = _read_batches(batches, client, config.show_progress)

    candidates, quarantine = split_results(results)
    instances, duplicates = drop_duplicate_instances(candidates)
    quarantine += duplicates
    instances, annotations, unreadable = split_annotations(instances)
    quarantine += unreadable
    instances, quarantine, dicomdir_missing = _apply_dicomdirs(root, relpaths, instances, quarantine)
    series = series_table(instances)
    studies = study_table(instances)
    files_quarantined = len(quarantine)

    link = {}
    for row in studies.select(["accession", "study_uid", "patient_id"]).to_pylist():
        if row["accession"] and row["accession"] not in link:
            link[row["accession"]] = (row["study_uid"], row["patient_id"])
    reports_in = 0
    report_rows: list[dict[str, Any]] = []
    if reports_file is not None:
        read = read_reports(reports_file, link, config)
        reports_in, report_rows = read.n_in, read.rows
        quarantine += read.quarantine

    phi = out / "phi"
    write_table(instances, phi / "instances.parquet", INSTANCE_SCHEMA)
    write_table(series, phi / "series.parquet")
    write_table(studies, phi / "studies.parquet")
    write_table(pa.Table.from_pylist(report_rows, schema=REPORT_SCHEMA), phi / "reports.parquet")
    write_table(annotations, phi / "annotations.parquet", ANNOTATIONS_SCHEMA)
    append_quarantine(out / "quarantine.parquet", STAGE, quarantine)

    return IngestSummary(
        files_found=len(relpaths),
        instances=instances.num_rows,
        annotations=annotations.num_rows,
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


def make_batches(
    root: Path, relpaths: list[str], batch_size: int, workers: int = 1
) -> list[list[tuple[str, str]]]:
    """Split files into batches of at most ``batch_size``, at least ~4 per worker when possible."""
    if not relpaths:
        return []
    size = max(1, min(batch_size, math.ceil(len(relpaths) / (4 * max(1, workers)))))
    base = str(root)
    pairs = [(os.path.join(base, r), r) for r in relpaths]
    return [pairs[i : i + size] for i in range(0, len(pairs), size)]


def _worker_count(client: Any) -> int:
    if client is None:
        return 1
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:
        return 1


def _read_batches(batches: list, client: Any, show_progress: bool) -> pa.Table:
    if not batches:
        return FILE_RESULT_SCHEMA.empty_table()
    if client is None:
        if show_progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="ingest: reading headers", unit="batch")
        tables = [ingest_batch(b) for b in batches]
    else:
        # Keys unique per run: a key reused while an earlier run's result is still held would
        # hand back that stale result.
        run = uuid.uuid4().hex[:8]
        keys = [f"ingest-batch-{run}-{i}" for i in range(len(batches))]
        futures = client.map(ingest_batch, batches, key=keys, pure=False)
        if show_progress:
            from distributed import progress

            progress(futures)
        tables = client.gather(futures)
    return pa.concat_tables(tables)


def _apply_dicomdirs(
    root: Path, relpaths: list[str], instances: pa.Table, quarantine: list[dict[str, Any]]
) -> tuple[pa.Table, list[dict[str, Any]], int]:
    """Mark instances a DICOMDIR lists and describe each DICOMDIR's quarantine row."""
    dicomdirs = [q for q in quarantine if q["reason"] == "dicomdir"]
    if not dicomdirs:
        return instances, quarantine, 0
    on_disk = set(relpaths)
    listed: set[str] = set()
    missing_total = 0
    for q in dicomdirs:
        listing = read_dicomdir(root, q["source"], on_disk)
        listed |= listing.referenced
        missing_total += listing.missing
        if listing.readable:
            q["detail"] = (
                f"DICOM media directory (an index, not an instance): lists "
                f"{len(listing.referenced) + listing.missing} files, {listing.missing} missing on disk"
            )
    flags = pa.array([r in listed for r in instances.column("relpath").to_pylist()], pa.bool_())
    index = instances.schema.get_field_index("in_dicomdir")
    instances = instances.set_column(index, INSTANCE_SCHEMA.field("in_dicomdir"), flags)
    return instances, quarantine, missing_total
