"""The images stage: curated DICOM -> ``curated/images/`` (pixels in sharded Parquet).

Reads only ``curated/`` (the de-identified files and ``curated/instances.parquet``). Instances are
cut into tasks of about ``task_mb`` of pixels, in series order; each task (a Dask worker, or this
process) decodes its files and writes its own part files, one pixel size per file (the column is
``fixed_size_binary``), row groups of about ``row_group_mb``, zstd. Tasks return counts and
quarantine rows only, never pixels, so the driver's memory stays flat. An instance that does not
decode becomes a quarantine row (``undecodable_pixels``, ``no_pixel_data``); every other one gives
one row per frame (``native``) and, for radiographs, one more per frame resized and padded.
"""

from __future__ import annotations

import functools
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from radcurate.cluster import run_tasks, worker_count
from radcurate.tables import append_quarantine, commit_table, described, read_table, staging_folder
from radcurate.images_table import IMAGE_FIELDS, encode_pixels, images_schema

from .config import NAME, ImagesConfig

DICTIONARY_COLUMNS = [f.name for f in IMAGE_FIELDS if f.type == pa.string()]
MB = 1 << 20
PLAN_COLUMNS = ["path", "instance_key", "series_key", "study_key", "patient_key", "slice_position",
                "instance_number", "slice_thickness", "number_of_frames", "rows", "columns"]


@dataclass
class ImagesSummary:
    """Counts that reconcile: ``instances_in == instances + quarantined``."""

    instances_in: int = 0
    instances: int = 0
    quarantined: int = 0
    rows: int = 0  # native frames + resized copies
    frames: int = 0  # native frames
    resized: int = 0
    part_files: int = 0
    bytes_written: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_tasks(instances: pd.DataFrame, config: ImagesConfig, workers: int = 1) -> list[pa.Table]:
    """Instances in series order (slice position, then instance number), with ``slice_index``,
    cut into tasks of about ``config.task_mb`` of estimated pixels, and into at least two tasks per
    worker when there is that much work. Each task is a small Arrow table of instance records
    (compact while the scheduler holds it: ~150 bytes per image, not a dict per image)."""
    if instances.empty:
        return []
    inst = instances.copy()
    inst["number_of_frames"] = inst["number_of_frames"].fillna(1).astype(int).clip(lower=1)
    inst = inst.sort_values(["patient_key", "study_key", "series_key", "slice_position", "instance_number",
                             "instance_key"], na_position="last", kind="stable").reset_index(drop=True)
    first = inst.groupby("series_key", sort=False)["number_of_frames"].cumsum() - inst["number_of_frames"]
    inst["slice_index"] = first.astype(int)
    est = (inst["rows"].fillna(512) * inst["columns"].fillna(512) * inst["number_of_frames"] * 2).astype(float)
    limit = min(float(config.task_mb) * MB, max(float(est.sum()) / (2 * max(1, workers)), 1.0))
    keep = ["path", "instance_key", "series_key", "study_key", "patient_key", "slice_position", "slice_index",
            "slice_thickness", "number_of_frames"]
    table = pa.Table.from_pandas(inst[keep], preserve_index=False)
    starts = [0]
    size = 0.0
    for i, b in enumerate(est.to_numpy()):
        if i > starts[-1] and size + b > limit:
            starts.append(i)
            size = 0.0
        size += b
    ends = starts[1:] + [len(inst)]
    return [table.slice(a, e - a).combine_chunks() for a, e in zip(starts, ends)]


@functools.lru_cache(maxsize=64)
def _schema(nbytes: int) -> pa.Schema:
    """The images schema for pixels of ``nbytes``, every column described."""
    return described(images_schema(nbytes), "curated/images")


class _PartWriter:
    """Part files of one task: a Parquet writer per pixel size, rotated at ``part_mb``."""

    def __init__(self, folder: Path, task: int, config: ImagesConfig):
        self.folder, self.task, self.config = folder, task, config
        self.open: dict[int, list] = {}  # nbytes -> [writer, tmp, final, bytes, buffer]
        self.seq = 0
        self.files: list[str] = []
        self.bytes = 0

    def add(self, row: dict) -> None:
        n = len(row["pixels"])
        slot = self.open.get(n)
        if slot is None:
            slot = self.open[n] = self._new(n)
        slot[4].append(row)
        per_group = max(1, int(self.config.row_group_mb * MB // n))
        if len(slot[4]) >= per_group:
            self._flush(n)

    def _new(self, n: int) -> list:
        name = f"part-{self.task:05d}-{self.seq:03d}.parquet"
        self.seq += 1
        final = self.folder / name
        tmp = self.folder / f".{name}.{uuid.uuid4().hex}.tmp"
        comp = str(self.config.compression).lower()
        level = self.config.compression_level if comp in ("zstd", "gzip", "brotli") else None
        # no dictionary for pixels: images never repeat, and trying costs writes 3x, reads 1.4x
        writer = pq.ParquetWriter(tmp, _schema(n), compression=comp, compression_level=level,
                                  use_dictionary=DICTIONARY_COLUMNS)
        return [writer, tmp, final, 0, []]

    def _flush(self, n: int) -> None:
        slot = self.open[n]
        rows = slot[4]
        if rows:
            table = pa.Table.from_pylist(rows, schema=_schema(n))
            slot[0].write_table(table, row_group_size=len(rows))
            slot[3] += n * len(rows)
            slot[4] = []
        if slot[3] >= self.config.part_mb * MB:
            self._close(n)

    def _close(self, n: int) -> None:
        writer, tmp, final, nbytes, rows = self.open.pop(n)
        if rows:
            writer.write_table(pa.Table.from_pylist(rows, schema=_schema(n)),
                               row_group_size=len(rows))
        writer.close()
        os.replace(tmp, final)
        self.files.append(final.name)
        self.bytes += final.stat().st_size

    def close(self) -> None:
        for n in list(self.open):
            self._close(n)

    def abort(self) -> None:
        for writer, tmp, *_ in self.open.values():
            try:
                writer.close()
            finally:
                Path(tmp).unlink(missing_ok=True)
        self.open.clear()


def _row(item: dict, d, frame_index: int, array: np.ndarray, prep: str,
         spacing: tuple[float, float] | None, position) -> dict:
    buf, shape, dtype = encode_pixels(array)
    return {
        "instance_key": item["instance_key"], "series_key": item["series_key"], "study_key": item["study_key"],
        "patient_key": item["patient_key"], "frame_index": frame_index, "modality": d.modality,
        "body_part": d.body_part, "view": d.view, "preprocessing": prep,
        "rows": shape[0], "columns": shape[1],
        "pixel_spacing_row": spacing[0] if spacing else None, "pixel_spacing_col": spacing[1] if spacing else None,
        "slice_thickness": d.slice_thickness if d.slice_thickness is not None else _nan_none(item.get("slice_thickness")),
        "slice_position": position,
        "slice_index": int(item["slice_index"]) + frame_index if item.get("slice_index") is not None else None,
        "photometric": d.photometric, "dtype": dtype, "shape": shape, "pixels": buf,
    }


def _nan_none(v):
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)


def images_task(task: int, items: pa.Table | list[dict], curated_dir: str, config: ImagesConfig,
                folder: str | None = None) -> dict:
    """Decode ``items`` (instance records, a table from :func:`plan_tasks`) and write their part
    files into ``folder`` (default ``curated_dir/images``); top-level for Dask."""
    from radcurate.isolation import NativeFailure, check_decodes, guarded

    from .decode import decode_file, resize_padded

    items = items.to_pylist() if isinstance(items, pa.Table) else items
    folder = Path(folder) if folder else Path(curated_dir) / "images"
    folder.mkdir(parents=True, exist_ok=True)
    writer = _PartWriter(folder, task, config)
    quarantine: list[dict] = []
    counts = {"instances": 0, "frames": 0, "resized": 0}
    radiographs = {m.upper() for m in config.radiograph_modalities}
    try:
        for item in items:
            try:  # a decoder that aborts, hangs or panics costs this file only (radcurate.isolation)
                path = Path(curated_dir) / item["path"]
                failure = check_decodes(str(path))
                if failure:
                    raise NativeFailure(failure)
                d = guarded(decode_file, path)
            except LookupError:
                quarantine.append({"source": item["path"], "reason": "no_pixel_data",
                                   "detail": "instance has no pixel data element"})
                continue
            except Exception as exc:  # any decoder failure: quarantine, keep going
                quarantine.append({"source": item["path"], "reason": "undecodable_pixels",
                                   "detail": f"{type(exc).__name__}: {str(exc)[:160]}"})
                continue
            counts["instances"] += 1
            single = len(d.frames) == 1
            resize = int(config.resize) if (d.modality or "").upper() in radiographs else 0
            for f, frame in enumerate(d.frames):
                position = _nan_none(item.get("slice_position")) if single else d.frame_positions[f]
                writer.add(_row(item, d, f, frame, "native", d.spacing, position))
                counts["frames"] += 1
                if resize:
                    dark = frame.max() if d.photometric == "MONOCHROME1" else frame.min()
                    small, sr, sc = resize_padded(frame, resize, dark)
                    sp = (d.spacing[0] / sr, d.spacing[1] / sc) if d.spacing else None
                    writer.add(_row(item, d, f, small, f"resize{resize}", sp, position))
                    counts["resized"] += 1
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return {**counts, "quarantine": quarantine, "files": writer.files, "bytes": writer.bytes}


def run_images(
    curated_dir: str | os.PathLike,
    *,
    client: Any = None,
    config: ImagesConfig = ImagesConfig(),
    quarantine_path: str | os.PathLike | None = None,
) -> ImagesSummary:
    """Write ``curated_dir/images/`` from ``curated_dir/instances.parquet`` and the files it lists.

    Tasks write into a staging folder that replaces ``images/`` in one swap when all are done (a
    rerun never mixes part files of two runs, a reader never sees half a table); quarantine rows go to
    ``quarantine_path`` (default ``curated_dir/../quarantine.parquet``), replacing this stage's.
    """
    started = time.perf_counter()
    curated = Path(curated_dir)
    inst_path = curated / "instances.parquet"
    if not inst_path.exists():
        raise FileNotFoundError(f"{inst_path} not found: run deid first")
    instances = read_table(inst_path, columns=PLAN_COLUMNS)  # keys and geometry only: ~300 bytes per image
    tasks = plan_tasks(instances, config, worker_count(client))
    instances_in = len(instances)
    del instances  # the tasks' compact tables are all the driver keeps
    folder = staging_folder(curated / "images")
    try:
        results = run_tasks(images_task, range(len(tasks)), tasks, client=client, curated_dir=str(curated),
                            config=config, folder=str(folder))
        commit_table(folder, curated / "images")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    quarantine = sorted((q for r in results for q in r["quarantine"]), key=lambda q: q["source"])
    append_quarantine(Path(quarantine_path) if quarantine_path else curated.parent / "quarantine.parquet",
                      NAME, quarantine)
    return ImagesSummary(
        instances_in=instances_in,
        instances=sum(r["instances"] for r in results),
        quarantined=len(quarantine),
        rows=sum(r["frames"] + r["resized"] for r in results),
        frames=sum(r["frames"] for r in results),
        resized=sum(r["resized"] for r in results),
        part_files=sum(len(r["files"]) for r in results),
        bytes_written=sum(r["bytes"] for r in results),
        seconds=round(time.perf_counter() - started, 3),
    )
