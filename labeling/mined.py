"""The miner's tables in a folder (``radcurate mine --out DIR``), as the labeling commands read them."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from radcurate.tables import read_table

MINED_TABLES = ("labels", "mentions", "measurements", "topics", "reports")


def read_mined(mined_dir: str | os.PathLike) -> dict[str, pd.DataFrame]:
    """The miner's tables found in ``mined_dir`` (``<name>.parquet``), by name."""
    d = Path(mined_dir)
    if not d.is_dir():
        raise FileNotFoundError(f"no mined folder at {d}")
    found = {name: read_table(d / f"{name}.parquet") for name in MINED_TABLES
             if (d / f"{name}.parquet").exists()}
    if (d / "rule_labels.parquet").exists():  # after `mine --reviewed`: labels.parquet is the model's
        found["labels"] = read_table(d / "rule_labels.parquet")
    if not found:
        raise FileNotFoundError(f"{d} holds none of {', '.join(t + '.parquet' for t in MINED_TABLES)}")
    return found
