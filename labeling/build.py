"""The one label builder: mined tables (in a folder or in memory) -> labels, for `radcurate label`,
`radcurate mine --reviewed` and the pipeline's labeling stage."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import pandas as pd
import pyarrow as pa

from radcurate.tables import write_table

from .aggregate import LABELS_SCHEMA, weak_labels
from .config import LabelingConfig, config_for_mined
from .mined import read_mined
from .review import read_reviewed


def labels_schema(id_column: str = "report_id") -> pa.Schema:
    """`LABELS_SCHEMA` with its id column named ``id_column`` (``report_key`` in the curated dataset)."""
    return pa.schema([f.with_name(id_column) if f.name == "report_id" else f for f in LABELS_SCHEMA])


def build_labels(mined: Mapping[str, pd.DataFrame], reviewed: pd.DataFrame | None = None,
                 config: LabelingConfig | None = None, id_column: str = "report_id") -> pd.DataFrame:
    """The one label builder behind `radcurate mine --reviewed`, `radcurate label` and the
    pipeline's labeling stage: mined tables keyed by ``id_column`` in, labels keyed by it out.

    Without ``config``, every vocabulary of the rule labels is labelled (a site vocabulary from
    ``--lexicon`` included) with the default settings. ``reviewed`` is the wide review layout
    (``report_id`` + one column per finding) or long rows; its ids match the mined ones.
    """
    if config is None:
        config = config_for_mined(mined.get("labels"))
    tables = {name: (t.rename(columns={id_column: "report_id"}) if t is not None and id_column in t.columns
                     else t) for name, t in mined.items()}
    if reviewed is not None and id_column in reviewed.columns and "report_id" not in reviewed.columns:
        reviewed = reviewed.rename(columns={id_column: "report_id"})
    labels = weak_labels(tables, reviewed, config)
    return labels.rename(columns={"report_id": id_column})


def run_labeling(mined_dir: str | os.PathLike, out_dir: str | os.PathLike, *,
                 reviewed: pd.DataFrame | str | os.PathLike | None = None,
                 config: LabelingConfig | None = None) -> dict:
    """Weak labels for the mined reports in ``mined_dir``, written to ``out_dir/labels.parquet``.

    ``reviewed`` is a DataFrame or a file in the wide reviewed layout; ``config`` None labels every
    vocabulary of the mined rule labels. Returns a summary dict.
    """
    mined = read_mined(mined_dir)
    if reviewed is not None and not isinstance(reviewed, pd.DataFrame):
        reviewed = read_reviewed(reviewed)
    labels = build_labels(mined, reviewed, config)
    path = write_table(labels, Path(out_dir) / "labels.parquet", schema=LABELS_SCHEMA)
    counts = labels["value"].value_counts(dropna=False)
    return {
        "labels": str(path), "rows": int(len(labels)),
        "reports": int(labels["report_id"].nunique()),
        "reviewed_reports": int(labels.loc[labels["reviewed"], "report_id"].nunique()),
        "positive": int(counts.get(1, 0)), "negative": int(counts.get(0, 0)),
        "uncertain": int(counts.get(-1, 0)), "not_mentioned": int(labels["value"].isna().sum()),
    }
