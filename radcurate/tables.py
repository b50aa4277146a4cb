"""Table I/O shared by every stage: atomic Parquet writes and the quarantine schema.

Every stage writes its outputs through :func:`write_table` so that a reader never sees a half
written file and an interrupted stage can be rerun without leaving duplicates behind.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),  # file path or record id
        pa.field("stage", pa.string(), nullable=False),  # ingest, deid, nlp, ...
        pa.field("reason", pa.string(), nullable=False),  # short machine-friendly reason
        pa.field("detail", pa.string()),  # human-readable detail, never PHI values
    ]
)


def atomic_path(path: str | os.PathLike) -> Path:
    """A unique temporary sibling of ``path``; rename it onto ``path`` when complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


PRIVATE_ZONE = "phi"  # folders of this name hold PHI: created 0700, their files 0600


def is_private(path: str | os.PathLike) -> bool:
    """Does ``path`` belong to the PHI zone (a ``phi/`` folder) or the quarantine table (whose
    sources are input paths, which may be named after patients)?"""
    path = Path(path)
    return PRIVATE_ZONE in path.parent.parts or path.name == "quarantine.parquet"


def private_dir(path: str | os.PathLike) -> Path:
    """Create (or tighten) a PHI-zone folder: owner only, mode 0700."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def write_table(
    data: pd.DataFrame | pa.Table,
    path: str | os.PathLike,
    schema: pa.Schema | None = None,
) -> Path:
    """Write ``data`` to Parquet at ``path`` atomically (temp file, then rename)."""
    path = Path(path)
    if isinstance(data, pd.DataFrame):
        table = pa.Table.from_pandas(data, schema=schema, preserve_index=False)
    else:
        table = data.cast(schema) if schema is not None else data
    private = is_private(path)
    if private and path.parent.name == PRIVATE_ZONE:
        private_dir(path.parent)
    tmp = atomic_path(path)
    try:
        pq.write_table(table, tmp)
        if private:
            os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_table(path: str | os.PathLike, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a Parquet table into pandas."""
    return pq.read_table(path, columns=columns).to_pandas()


def quarantine_rows(rows: Iterable[Mapping[str, object]]) -> pa.Table:
    """Quarantine rows (dicts with source, stage, reason[, detail]) as a typed Arrow table."""
    rows = list(rows)
    cols = {f.name: [r.get(f.name) for r in rows] for f in QUARANTINE_SCHEMA}
    cols["detail"] = [None if d is None else str(d) for d in cols["detail"]]
    return pa.table(cols, schema=QUARANTINE_SCHEMA)


def append_quarantine(
    path: str | os.PathLike, stage: str, rows: Iterable[Mapping[str, object]]
) -> Path:
    """Write ``stage``'s quarantine rows into ``path``, replacing that stage's earlier rows.

    Replacing (not appending blindly) keeps reruns idempotent: rerunning a stage over the same
    input leaves exactly one set of its quarantine rows.
    """
    path = Path(path)
    new = quarantine_rows({**r, "stage": stage} for r in rows)
    stages = {stage}
    if path.exists():
        old = pq.read_table(path).cast(QUARANTINE_SCHEMA)
        keep = [s not in stages for s in old.column("stage").to_pylist()]
        old = old.filter(pa.array(keep, type=pa.bool_()))
        new = pa.concat_tables([old, new])
    # A canonical order, so a rerun of any stage leaves the same bytes whatever ran in between.
    new = new.sort_by([("stage", "ascending"), ("source", "ascending"), ("reason", "ascending")])
    return write_table(new, path)
