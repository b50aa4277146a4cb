"""Reading curated image rows and writing synthetic ones, in the images table's pixel encoding.

``curated/images/`` is read with :mod:`radcurate.images_table` (the table's own codec).
``curated/synthetic/<kind>/`` uses the same encoding plus provenance columns (generator,
parameters JSON, parent keys, seed). Part files hold one pixel size each (a fixed-size binary column
has one width), zstd-compressed, committed in one swap. numpy, pandas and pyarrow only.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from radcurate.splits import patients_in
from radcurate.tables import commit_table, staging_folder, table_parts, write_part

KEYS = ["instance_key", "series_key", "study_key", "patient_key"]


def decode(buf: bytes, shape: Sequence[int], dtype: str) -> np.ndarray:
    """The array stored in one ``pixels`` cell (:func:`radcurate.images_table.decode_pixels`)."""
    from radcurate.images_table import decode_pixels

    return decode_pixels(buf, shape, dtype)


def encode(arr: np.ndarray) -> bytes:
    """C-order little-endian bytes of ``arr`` (the ``pixels`` encoding)."""
    from radcurate.images_table import encode_pixels

    return encode_pixels(arr)[0]


def read_image_rows(curated: Path, modalities: Iterable[str], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Native-resolution rows of ``curated/images/`` of the given modalities (pixels as bytes)."""
    from radcurate.images_table import read_images

    folder = Path(curated) / "images"
    if not folder.exists():
        raise FileNotFoundError(f"{folder} not found: run the images stage first (radcurate images)")
    rows = read_images(curated, columns=columns, filters=[("modality", "in", list(modalities))])
    if "preprocessing" in rows.columns:  # resized copies are the same images: parents are native rows
        rows = rows[rows["preprocessing"].fillna("native") == "native"].reset_index(drop=True)
    return rows


def training_patients(curated: Path) -> set[str]:
    """Patient keys in the training split (``curated/splits.parquet``, leak-checked)."""
    return patients_in(curated, ("train",), why="synthetic data needs the patient splits")


def write_parts(df: pd.DataFrame, folder: Path, schema: pa.Schema, pixel_columns: Sequence[str],
                rows_per_part: int = 512) -> list[Path]:
    """Replace table ``folder`` with ``df``: one pixel width per part, zstd, row groups of 64 rows,
    committed in one swap (:func:`radcurate.tables.commit_table`)."""
    folder = Path(folder)
    staging = staging_folder(folder)
    try:
        if df.empty:
            empty = pa.schema([f if f.name not in pixel_columns else pa.field(f.name, pa.binary()) for f in schema])
            write_part(empty.empty_table(), staging, 0, row_group_rows=64)
        else:
            widths = df[list(pixel_columns)].map(len).astype(str).agg("-".join, axis=1)
            part = 0
            for _, group in df.groupby(widths, sort=True):
                for start in range(0, len(group), rows_per_part):
                    chunk = group.iloc[start:start + rows_per_part]
                    fields = []
                    for f in schema:
                        if f.name in pixel_columns:
                            f = pa.field(f.name, pa.binary(len(chunk[f.name].iloc[0])), nullable=False)
                        fields.append(f)
                    table = pa.Table.from_pandas(chunk[[f.name for f in fields]], schema=pa.schema(fields),
                                                 preserve_index=False)
                    write_part(table, staging, part, row_group_rows=64)
                    part += 1
        commit_table(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return table_parts(folder)


def read_synthetic(curated: Path, kind: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A ``curated/synthetic/<kind>/`` table (pixel columns as bytes)."""
    folder = Path(curated) / "synthetic" / kind
    tables = [pq.read_table(p, columns=list(columns) if columns else None) for p in sorted(folder.glob("part-*.parquet"))]
    frames = [t.to_pandas() for t in tables if t.num_rows]
    return pd.concat(frames, ignore_index=True) if frames else (tables[0].to_pandas() if tables else pd.DataFrame())
