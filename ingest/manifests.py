"""Plain functions over Arrow tables: split file results, drop duplicate instances, roll up (and merge
per-part roll-ups).

All are deterministic given the same files: rows are ordered by ``relpath`` first, so "the first
file" of a duplicated SOP Instance UID is the first by sorted path, whatever the batch order.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .schemas import SERIES_SCHEMA, STUDY_SCHEMA

SERIES_FIRST = [
    "study_uid",
    "patient_id",
    "modality",
    "series_number",
    "series_description",
    "body_part_examined",
    "frame_of_reference_uid",
]
STUDY_FIRST = [
    "patient_id",
    "patient_name",
    "birth_date",
    "sex",
    "accession",
    "study_date",
    "study_time",
    "study_description",
]


def split_results(results: pa.Table) -> tuple[pa.Table, list[dict[str, Any]]]:
    """Instance candidates (no ``reason``) and quarantine rows (source = relpath) for the rest."""
    results = results.sort_by("relpath")
    rejected = pc.is_valid(results.column("reason"))
    bad = results.filter(rejected).select(["relpath", "reason", "detail"]).to_pylist()
    quarantine = [{"source": r["relpath"], "reason": r["reason"], "detail": r["detail"]} for r in bad]
    good = results.filter(pc.invert(rejected)).drop_columns(["reason", "detail"])
    return good, quarantine


def drop_duplicate_instances(candidates: pa.Table) -> tuple[pa.Table, list[dict[str, Any]]]:
    """Keep the first file (by sorted path) of each SOP Instance UID; quarantine the others."""
    keep: list[bool] = []
    first: dict[str, tuple[str, str]] = {}
    quarantine = []
    uids = candidates.column("sop_instance_uid").to_pylist()
    paths = candidates.column("relpath").to_pylist()
    hashes = candidates.column("sha256").to_pylist()
    for uid, relpath, digest in zip(uids, paths, hashes):
        if uid not in first:
            first[uid] = (relpath, digest)
            keep.append(True)
            continue
        _, kept_digest = first[uid]
        same = "identical bytes" if digest == kept_digest else "different bytes"
        quarantine.append(
            {
                "source": relpath,
                "reason": "duplicate_sop_instance",
                # never the other file's path: paths can hold patient names or IDs
                "detail": f"same SOP Instance UID as a file earlier in path order ({same}); "
                          "the first by path is kept",
            }
        )
        keep.append(False)
    kept = candidates.filter(pa.array(keep, type=pa.bool_()))
    return kept, quarantine


def series_table(instances: pa.Table) -> pa.Table:
    """One row per series: first non-null header value of its instances, instance count."""
    return _rollup(instances, "series_uid", SERIES_FIRST, SERIES_SCHEMA)


def study_table(instances: pa.Table) -> pa.Table:
    """One row per study: patient/visit fields, modalities present, series and instance counts."""
    return _rollup(instances, "study_uid", STUDY_FIRST, STUDY_SCHEMA)


def _rollup(instances: pa.Table, key: str, first: list[str], schema: pa.Schema) -> pa.Table:
    aggs = [(c, "first") for c in first] + [("sop_instance_uid", "count")]
    if key == "study_uid":
        aggs += [("modality", "distinct"), ("series_uid", "count_distinct")]
    grouped = instances.group_by(key, use_threads=False).aggregate(aggs)
    columns = {key: grouped.column(key)}
    for c in first:
        columns[c] = grouped.column(f"{c}_first")
    columns["n_instances"] = grouped.column("sop_instance_uid_count")
    if key == "study_uid":
        modalities = grouped.column("modality_distinct").to_pylist()
        columns["modalities"] = pa.array(
            [sorted(m for m in ms if m) for ms in modalities], pa.list_(pa.string())
        )
        columns["n_series"] = grouped.column("series_uid_count_distinct")
    table = pa.table({f.name: columns[f.name] for f in schema}).cast(schema)
    return table.sort_by(key)


def _gathered(tables: list[pa.Table]) -> pa.Table:
    """Tables sent back by Dask workers as one table with freshly allocated buffers: unpickled
    buffers can be unaligned, which Acero (``group_by``) warns about on stderr."""
    table = pa.concat_tables(tables)
    return table.take(pa.array(range(table.num_rows), pa.int64()))


def merge_series(partials: list[pa.Table]) -> pa.Table:
    """One row per series from per-part roll-ups in path order: first non-null value, summed count."""
    if not partials:
        return SERIES_SCHEMA.empty_table()
    table = _gathered(partials)
    aggs = [(c, "first") for c in SERIES_FIRST] + [("n_instances", "sum")]
    grouped = table.group_by("series_uid", use_threads=False).aggregate(aggs)
    columns = {"series_uid": grouped.column("series_uid"), "n_instances": grouped.column("n_instances_sum")}
    columns.update({c: grouped.column(f"{c}_first") for c in SERIES_FIRST})
    return pa.table({f.name: columns[f.name] for f in SERIES_SCHEMA}).cast(SERIES_SCHEMA).sort_by("series_uid")


def merge_studies(partials: list[pa.Table], pairs: list[pa.Table]) -> pa.Table:
    """One row per study from per-part roll-ups; ``n_series`` counts the distinct
    ``(study_uid, series_uid)`` ``pairs`` of all parts (a series UID reused by two studies counts in each)."""
    if not partials:
        return STUDY_SCHEMA.empty_table()
    table = _gathered(partials)
    aggs = [(c, "first") for c in STUDY_FIRST] + [("n_instances", "sum")]
    grouped = table.group_by("study_uid", use_threads=False).aggregate(aggs)
    modalities: dict[str, set] = {}
    for uid, ms in zip(table.column("study_uid").to_pylist(), table.column("modalities").to_pylist()):
        modalities.setdefault(uid, set()).update(m for m in (ms or ()) if m)
    distinct = _gathered(pairs).group_by(["study_uid", "series_uid"]).aggregate([])
    per_study = dict(zip(*distinct.group_by("study_uid").aggregate([("series_uid", "count")])
                         .select(["study_uid", "series_uid_count"]).to_pydict().values()))
    columns = {"study_uid": grouped.column("study_uid"), "n_instances": grouped.column("n_instances_sum")}
    columns.update({c: grouped.column(f"{c}_first") for c in STUDY_FIRST})
    columns["modalities"] = pa.array([sorted(modalities[s]) for s in grouped.column("study_uid").to_pylist()],
                                     pa.list_(pa.string()))
    columns["n_series"] = pa.array([per_study.get(s, 0) for s in grouped.column("study_uid").to_pylist()], pa.int64())
    return pa.table({f.name: columns[f.name] for f in STUDY_SCHEMA}).cast(STUDY_SCHEMA).sort_by("study_uid")
