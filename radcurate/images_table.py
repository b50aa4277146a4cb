"""The curated image table (``curated/images/``): its schema, pixel codec and a pandas reader.

This is the contract between the writers (the ``images`` stage, synthesis) and every reader
(the PyTorch loader in ``training``, notebooks), so it lives in the core package. It imports only numpy, pyarrow and pandas so it runs on a GPU
machine that has none of the DICOM libraries.

Pixels are stored as a ``fixed_size_binary`` column: the C-order, little-endian bytes of one frame,
with ``shape`` (list<int32>) and ``dtype`` (numpy name) beside them. A part file holds one pixel
size only; different part files may hold different sizes, so a whole-dataset reader reads part by
part and widens ``pixels`` to ``binary`` (:func:`read_images` does). Arrow's ``fixed_shape_tensor``
extension type decoded 4-5x slower here, hence plain bytes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

#: Key and metadata columns of ``curated/images/`` (pixels last; one fixed size per part file).
IMAGE_FIELDS: list[pa.Field] = [
    pa.field("instance_key", pa.string(), nullable=False),
    pa.field("series_key", pa.string(), nullable=False),
    pa.field("study_key", pa.string(), nullable=False),
    pa.field("patient_key", pa.string(), nullable=False),
    pa.field("frame_index", pa.int32(), nullable=False),
    pa.field("modality", pa.string()),
    pa.field("body_part", pa.string()),
    pa.field("view", pa.string()),
    pa.field("preprocessing", pa.string(), nullable=False),  # "native" or e.g. "resize512"
    pa.field("rows", pa.int32(), nullable=False),  # of the stored pixels
    pa.field("columns", pa.int32(), nullable=False),
    pa.field("pixel_spacing_row", pa.float64()),  # mm, of the stored pixels
    pa.field("pixel_spacing_col", pa.float64()),
    pa.field("slice_thickness", pa.float64()),
    pa.field("slice_position", pa.float64()),  # mm along the slice normal
    pa.field("slice_index", pa.int32()),  # order within the series (0-based)
    pa.field("photometric", pa.string()),  # MONOCHROME1 (white = 0), MONOCHROME2, RGB, ...
    pa.field("dtype", pa.string(), nullable=False),  # numpy dtype name; int16 = CT in HU
    pa.field("shape", pa.list_(pa.int32()), nullable=False),
]

IMAGE_COLUMNS: list[str] = [f.name for f in IMAGE_FIELDS] + ["pixels"]


def images_schema(nbytes: int) -> pa.Schema:
    """Schema of one ``curated/images/`` part file whose frames are ``nbytes`` bytes each."""
    return pa.schema([*IMAGE_FIELDS, pa.field("pixels", pa.binary(int(nbytes)), nullable=False)])


def encode_pixels(array: np.ndarray) -> tuple[bytes, list[int], str]:
    """``(bytes, shape, dtype)`` of ``array`` as the table stores it (C order, little endian)."""
    arr = np.ascontiguousarray(array)
    arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    return arr.tobytes(order="C"), [int(s) for s in arr.shape], arr.dtype.name


def decode_pixels(buf, shape, dtype) -> np.ndarray:
    """The numpy array stored in one ``pixels`` value (zero-copy view where the buffer allows).

    ``buf`` is ``bytes``, ``memoryview`` or a ``pyarrow.Buffer``; ``shape`` a sequence of ints;
    ``dtype`` a numpy dtype name such as ``"int16"`` (read as little endian).
    """
    if isinstance(buf, pa.Scalar):
        buf = buf.as_py()
    dt = np.dtype(dtype).newbyteorder("<")
    arr = np.frombuffer(buf, dtype=dt)
    shape = tuple(int(s) for s in shape)
    if arr.size != int(np.prod(shape, dtype=np.int64)):
        raise ValueError(f"pixels hold {arr.size} {dtype} values, shape {shape} needs {np.prod(shape)}")
    return arr.reshape(shape)


def image_part_files(curated_dir: str | os.PathLike) -> list[Path]:
    """The Parquet part files of ``curated_dir/images`` (or of ``curated_dir`` if it is that folder)."""
    root = Path(curated_dir)
    folder = root / "images" if (root / "images").is_dir() else root
    return sorted(p for p in folder.rglob("*.parquet") if not p.name.startswith("."))


def read_images(
    curated_dir: str | os.PathLike,
    columns: Sequence[str] | None = None,
    filters=None,
) -> pd.DataFrame:
    """Read ``curated/images/`` into pandas, part file by part file.

    ``columns`` selects columns (default: all, pixels as ``bytes``); ``filters`` is what
    :func:`pyarrow.parquet.read_table` accepts (DNF list such as ``[("modality", "=", "CT")]`` or a
    ``pyarrow.compute`` expression). Decode one row with
    ``decode_pixels(row.pixels, row.shape, row.dtype)``.
    """
    cols = list(columns) if columns is not None else None
    tables = []
    for part in image_part_files(curated_dir):
        t = pq.read_table(part, columns=cols, filters=filters)
        if "pixels" in t.column_names:
            i = t.column_names.index("pixels")
            t = t.set_column(i, "pixels", t.column("pixels").cast(pa.binary()))
        tables.append(t)
    if not tables:
        names = cols if cols is not None else IMAGE_COLUMNS
        return pd.DataFrame({c: pd.Series(dtype=object) for c in names})
    return pa.concat_tables(tables, promote_options="default").to_pandas()
