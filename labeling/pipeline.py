"""The labeling stage as the pipeline calls it: mined tables in a folder → labels.parquet."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from radcurate.tables import read_table, write_table

from .aggregate import LABELS_SCHEMA, weak_labels
from .config import LabelingConfig
from .review import read_reviewed

MINED_TABLES = ("labels", "mentions", "measurements", "topics", "reports")


def read_mined(mined_dir: str | os.PathLike) -> dict[str, pd.DataFrame]:
    """The miner's tables found in ``mined_dir`` (``<name>.parquet``), by name."""
    d = Path(mined_dir)
    if not d.is_dir():
        raise FileNotFoundError(f"no mined folder at {d}")
    found = {name: read_table(d / f"{name}.parquet") for name in MINED_TABLES
             if (d / f"{name}.parquet").exists()}
    if not found:
        raise FileNotFoundError(f"{d} holds none of {', '.join(t + '.parquet' for t in MINED_TABLES)}")
    return found


def run_labeling(mined_dir: str | os.PathLike, out_dir: str | os.PathLike, *,
                 reviewed: pd.DataFrame | str | os.PathLike | None = None,
                 config: LabelingConfig = LabelingConfig()) -> dict:
    """Weak labels for the mined reports in ``mined_dir``, written to ``out_dir/labels.parquet``.

    ``reviewed`` is a DataFrame or a file in the wide reviewed layout. Returns a summary dict.
    """
    mined = read_mined(mined_dir)
    if reviewed is not None and not isinstance(reviewed, pd.DataFrame):
        reviewed = read_reviewed(reviewed)
    labels = weak_labels(mined, reviewed, config)
    path = write_table(labels, Path(out_dir) / "labels.parquet", schema=LABELS_SCHEMA)
    counts = labels["value"].value_counts(dropna=False)
    return {
        "labels": str(path), "rows": int(len(labels)),
        "reports": int(labels["report_id"].nunique()),
        "reviewed_reports": int(labels.loc[labels["reviewed"], "report_id"].nunique()),
        "positive": int(counts.get(1, 0)), "negative": int(counts.get(0, 0)),
        "uncertain": int(counts.get(-1, 0)), "not_mentioned": int(labels["value"].isna().sum()),
    }
