"""The one reader of ``curated/splits.parquet``: patient -> split, refusing a split that leaks.

Evaluation must be by patient (Sahiner et al. 2019, section 5): every image of a patient in one
split. The images stage writes the table; training, synthesis (training-split parents only) and
the stages' checks read it here, so a table where a patient sits in two splits is refused
everywhere, with the same message.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import pandas as pd
import pyarrow.parquet as pq

SPLITS = ("train", "val", "test")
FILE = "splits.parquet"


class SplitLeakError(ValueError):
    """A patient's images would reach more than one split."""


class SplitsError(ValueError):
    """The splits table is missing or malformed (the message says what)."""


def check_split_leak(splits: pd.DataFrame) -> None:
    """Raise :class:`SplitLeakError` if a patient is assigned to more than one split, and
    :class:`SplitsError` for a split name other than train/val/test.

    >>> check_split_leak(pd.DataFrame({"patient_key": ["P1", "P1"], "split": ["train", "test"]}))
    Traceback (most recent call last):
    radcurate.splits.SplitLeakError: 1 patient(s) are in more than one split (e.g. P1): refusing to use a leaking split
    """
    if not {"patient_key", "split"} <= set(splits.columns):
        raise SplitsError("splits table needs patient_key and split columns")
    n = splits.groupby("patient_key")["split"].nunique()
    leaked = n[n > 1]
    if len(leaked):
        raise SplitLeakError(f"{len(leaked)} patient(s) are in more than one split (e.g. "
                             f"{leaked.index[0]}): refusing to use a leaking split")
    unknown = set(splits["split"].dropna()) - set(SPLITS)
    if unknown:
        raise SplitsError(f"unknown split name(s) {sorted(unknown)}; expected {', '.join(SPLITS)}")


def read_splits(curated: str | os.PathLike, columns: Iterable[str] = ("patient_key", "split"),
                why: str = "") -> pd.DataFrame:
    """``curated/splits.parquet`` (``columns``, patient_key and split always included), leak-checked.

    ``curated`` is the curated folder, or a splits table itself (an earlier release's). A missing table is a :class:`FileNotFoundError` saying that the images stage writes it
    (``why`` adds who needs it, e.g. ``"synthetic data needs the patient splits"``)."""
    path = Path(curated)
    path = path if path.name.endswith(".parquet") else path / FILE
    if not path.exists():
        need = f" ({why})" if why else ""
        raise FileNotFoundError(f"{path} not found{need}: the images stage writes the patient splits "
                                "(radcurate images)")
    wanted = list(dict.fromkeys(["patient_key", "split", *columns]))
    splits = pq.read_table(path, columns=wanted).to_pandas()
    check_split_leak(splits)
    return splits


def split_of(curated: str | os.PathLike) -> dict[str, str]:
    """``patient_key -> split``, leak-checked."""
    splits = read_splits(curated)
    return dict(zip(splits["patient_key"], splits["split"]))


def patients_in(curated: str | os.PathLike, splits: Iterable[str] = ("train",), why: str = "") -> set[str]:
    """Patient keys in the given splits (training only by default), leak-checked."""
    table = read_splits(curated, why=why)
    return set(table.loc[table["split"].isin(list(splits)), "patient_key"].astype(str))
