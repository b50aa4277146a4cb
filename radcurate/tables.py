"""Table I/O shared by every stage: tables as folders of Parquet part files, committed atomically.

Every table of the dataset (``curated/labels.parquet``, ``phi/instances.parquet``, ...) is a
*folder* of ``part-NNNNN.parquet`` files, the layout Spark, Dask and pyarrow write: pandas
(``pd.read_parquet``), pyarrow, polars, duckdb (``'labels.parquet/*.parquet'``) and Hugging Face
``datasets`` open it as one table. Parts are zstd-compressed with row groups of at most
:data:`ROW_GROUP_ROWS` rows, and every column carries a ``description`` in its field metadata.

A table is written into a hidden staging folder beside it (by the driver with
:func:`write_table`, or part by part by Dask workers with :func:`write_part`) and committed by
:func:`commit_table`, which swaps the staging folder into place in one step (Linux
``renameat2(RENAME_EXCHANGE)``; elsewhere two renames), so an interrupted stage leaves the old
table whole, plus a staging folder that the next attempt removes. :func:`read_table` reads the
parts through the folder's descriptor and reads again if the folder was swapped meanwhile: it
returns one committed version, never a mixture (a generic reader such as ``pq.read_table`` on the
folder can mix two versions if it reads during the swap; stages never run while their outputs
are read, the OUT lock sees to that).
"""

from __future__ import annotations

import ctypes
import fnmatch
import functools
import os
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False, metadata={"description": "what was rejected: an input "
                 "file (path relative to the export) or a record id such as a report's accession; may hold PHI, "
                 "so the table is private (0600)"}),
        pa.field("stage", pa.string(), nullable=False, metadata={"description": "stage that rejected it"}),
        pa.field("reason", pa.string(), nullable=False, metadata={"description": "short machine-friendly reason"}),
        pa.field("detail", pa.string(), metadata={"description": "human-readable detail; never a PHI value"}),
    ]
)
ROW_GROUP_ROWS = 64 * 1024  # bounded row groups: a reader can stream a table in slices this size
PART_ROWS = 1_000_000  # rows per part file when the driver writes a table
COMPRESSION = "zstd"
PART_GLOB = "part-*.parquet"


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
    parents = path.parent.parts
    return (PRIVATE_ZONE in parents or path.name == "quarantine.parquet"
            or any(p == "quarantine.parquet" or p.startswith(".quarantine.parquet.") for p in parents))


def private_dir(path: str | os.PathLike) -> Path:
    """Create (or tighten) a PHI-zone folder: owner only, mode 0700."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


# --- schemas ---------------------------------------------------------------------------------------


def table_id(path: str | os.PathLike) -> str:
    """``zone/name`` of a table path or of its staging folder: ``phi/instances``, ``curated/labels``."""
    path = Path(path)
    name = path.name
    if name.startswith(".") and name.endswith(".staging"):
        name = name[1:].rsplit(".", 2)[0]
    return f"{path.parent.name}/{name.removesuffix('.parquet')}"


def described(schema: pa.Schema, table: str | None = None) -> pa.Schema:
    """``schema`` with a ``description`` on every field: its own, else the column dictionary's
    (:mod:`radcurate.columns`, looked up for ``table``, a :func:`table_id`); a column neither
    describes is an error, so no table ships a column nobody explained."""
    from radcurate.columns import describe

    fields = []
    for f in schema:
        meta = dict(f.metadata or {})
        if not meta.get(b"description"):
            doc = describe(f.name, table)
            if doc is None:
                raise ValueError(f"column {f.name!r} of table {table} has no description: declare one in its schema or in "
                                 "radcurate/columns.py")
            meta[b"description"] = doc.encode()
        fields.append(f.with_metadata(meta))
    return pa.schema(fields, metadata=schema.metadata)


def as_table(data: pd.DataFrame | pa.Table, schema: pa.Schema | None = None, name: str | None = None) -> pa.Table:
    """``data`` as an Arrow table of ``schema`` (inferred when None; large strings made plain), described."""
    if isinstance(data, pd.DataFrame):
        table = pa.Table.from_pandas(data, schema=schema, preserve_index=False)
    else:
        table = data.cast(schema) if schema is not None else data
    if schema is None:
        plain = pa.schema([f.with_type(pa.string()) if f.type == pa.large_string() else f for f in table.schema],
                          metadata=table.schema.metadata)
        table = table.cast(plain)
    return table.cast(described(table.schema, name))


# --- writing ---------------------------------------------------------------------------------------


def staging_folder(path: str | os.PathLike) -> Path:
    """A fresh hidden staging folder beside table ``path`` (earlier attempts' leftovers removed)."""
    path = Path(path)
    if is_private(path / "part") and path.parent.name == PRIVATE_ZONE:
        private_dir(path.parent)
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in path.parent.glob(f".{path.name}.*.staging"):
        shutil.rmtree(old, ignore_errors=True)
    folder = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.staging")
    folder.mkdir()
    if is_private(path / "part"):
        os.chmod(folder, 0o700)
    return folder


def part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def write_part(table: pa.Table, folder: str | os.PathLike, index: int, *,
               row_group_rows: int = ROW_GROUP_ROWS, name: str | None = None) -> Path:
    """Write one part file of a table being staged in ``folder`` (a worker may call this; the
    part is complete or absent: temp file, then rename). ``table`` carries the declared schema;
    missing descriptions are filled in for the table the folder stages (or ``name``, a :func:`table_id`)."""
    folder = Path(folder)
    table = table.cast(described(table.schema, name or table_id(folder)))
    final = folder / part_name(index)
    tmp = folder / f".{final.name}.{uuid.uuid4().hex}.tmp"
    try:
        pq.write_table(table, tmp, compression=COMPRESSION, row_group_size=max(1, row_group_rows))
        if is_private(final):
            os.chmod(tmp, 0o600)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final


def commit_table(folder: str | os.PathLike, path: str | os.PathLike, schema: pa.Schema | None = None) -> Path:
    """Swap staging ``folder`` into place as table ``path``. With ``schema``, a folder that got no
    part (no rows anywhere) gets one empty part, so the table still has its columns."""
    folder, path = Path(folder), Path(path)
    if schema is not None and not any(folder.glob(PART_GLOB)):
        write_part(schema.empty_table(), folder, 0, name=table_id(path))
    if not os.path.lexists(path):
        os.rename(folder, path)
        return path
    if _exchange(folder, path):  # folder now holds the old table (or an old single-file table)
        _remove(folder)
        return path
    old = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.old")
    os.rename(path, old)
    os.rename(folder, path)
    _remove(old)
    return path


def write_table(
    data: pd.DataFrame | pa.Table,
    path: str | os.PathLike,
    schema: pa.Schema | None = None,
) -> Path:
    """Write ``data`` as table ``path`` (a folder of part files), replacing it atomically."""
    path = Path(path)
    table = as_table(data, schema, table_id(path))
    folder = staging_folder(path)
    try:
        for i, start in enumerate(range(0, max(table.num_rows, 1), PART_ROWS)):
            write_part(table.slice(start, PART_ROWS), folder, i)
        return commit_table(folder, path)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2); False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


# --- reading ---------------------------------------------------------------------------------------


def table_parts(path: str | os.PathLike) -> list[Path]:
    """The part files of table ``path`` in order (a single file, from an older layout, is its own part)."""
    path = Path(path)
    if path.is_file():
        return [path]
    return sorted(path.glob(PART_GLOB)) if path.is_dir() else []


def table_schema(path: str | os.PathLike) -> pa.Schema:
    """The declared schema of table ``path`` (descriptions included)."""
    parts = table_parts(path)
    if not parts:
        raise FileNotFoundError(f"no table at {path}")
    return pq.read_schema(parts[0])


def table_rows(path: str | os.PathLike) -> int:
    """Row count of table ``path`` from its part footers (0 when absent)."""
    return sum(pq.read_metadata(p).num_rows for p in table_parts(path))


def read_arrow(path: str | os.PathLike, columns: list[str] | None = None) -> pa.Table:
    """Table ``path`` as one Arrow table, parts in order: all of one committed version, even when
    a writer swaps a new one in meanwhile (parts are opened through the folder's descriptor, and
    a read whose folder was swapped out under it is done again)."""
    path = Path(path)
    if path.is_file():
        return pq.read_table(path, columns=columns)
    for attempt in range(20):
        if attempt:
            time.sleep(0.01 * attempt)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except (FileNotFoundError, NotADirectoryError):
            raise FileNotFoundError(f"no table at {path}") from None
        try:
            inode = os.fstat(fd).st_ino
            names = sorted(n for n in os.listdir(fd) if fnmatch.fnmatch(n, PART_GLOB))
            if not names:
                raise FileNotFoundError(f"no table at {path}: the folder has no part file")
            opener = functools.partial(_open_at, fd)
            tables = []
            for name in names:
                with open(name, "rb", opener=opener) as fh:
                    tables.append(pq.read_table(fh, columns=columns))
            if os.stat(path).st_ino == inode:
                return pa.concat_tables(tables)
        except FileNotFoundError:
            if os.path.isdir(path) and os.stat(path).st_ino == inode:
                raise
        finally:
            os.close(fd)
    raise OSError(f"table {path} kept changing while being read")


def _open_at(fd: int, name: str, flags: int) -> int:
    return os.open(name, flags, dir_fd=fd)


def read_table(path: str | os.PathLike, columns: list[str] | None = None) -> pd.DataFrame:
    """Read table ``path`` into pandas."""
    return read_arrow(path, columns).to_pandas()


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
        old = read_arrow(path).cast(QUARANTINE_SCHEMA)
        keep = [s not in stages for s in old.column("stage").to_pylist()]
        old = old.filter(pa.array(keep, type=pa.bool_()))
        new = pa.concat_tables([old, new])
    # A canonical order, so a rerun of any stage leaves the same bytes whatever ran in between.
    new = new.sort_by([("stage", "ascending"), ("source", "ascending"), ("reason", "ascending")])
    return write_table(new, path)
