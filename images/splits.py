"""Patient-level train/val/test splits and k folds (``curated/splits.parquet``).

Evaluation must be by case: every study and image of a patient sits in the patient's split. Each
patient's order is a hash of its keyed pseudonym (``patient_key`` is an HMAC of the site's ID, so
the order is the same in every release and reveals nothing); patients are stratified by their
rarest positive finding, and within a stratum each new patient, in hash order, goes to the split
furthest below its share (a split with no patient of that stratum first, when the stratum has at
least one patient per split; strata smaller than that are pooled together), then to the fold with
the fewest. Patients already assigned (an
earlier ``splits.parquet``) keep their split and fold, so adding patients never moves anyone.
scikit-learn's ``StratifiedGroupKFold`` balances well but reshuffles everyone when a patient is
added; that is why this is a small greedy rule instead.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from radcurate.images_table import read_images
from radcurate.splits import SPLITS, read_splits
from radcurate.tables import read_table, write_table

from .config import SplitsConfig

NO_FINDING = "(none)"
POOLED = "(pooled)"
SPLITS_SCHEMA = pa.schema([
    pa.field("patient_key", pa.string(), nullable=False),
    pa.field("split", pa.string(), nullable=False),
    pa.field("fold", pa.int32()),  # k-fold group over train+val; null for test
    pa.field("stratum", pa.string()),  # rarest positive finding at assignment time, or "(none)"
])
IMAGE_SPLITS_SCHEMA = pa.schema([
    pa.field("instance_key", pa.string(), nullable=False),
    pa.field("series_key", pa.string()),
    pa.field("study_key", pa.string()),
    pa.field("patient_key", pa.string()),
    pa.field("split", pa.string()),
    pa.field("fold", pa.int32()),
])


def patient_order(patient_key: str, salt: str = "split") -> float:
    """A number in [0, 1) fixed by the patient pseudonym alone."""
    digest = hashlib.sha256(f"radcurate-{salt}:{patient_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def patient_strata(patients, labels: pd.DataFrame | None, studies: pd.DataFrame | None,
                   vocabulary: str = "chestxray14") -> pd.Series:
    """Each patient's stratum: its rarest positive finding (fewest positive patients), else ``(none)``.

    ``labels``: ``study_key, vocabulary, finding, value`` (1 positive); ``studies``: ``study_key,
    patient_key``.
    """
    patients = pd.Index(sorted(set(patients)), name="patient_key")
    strata = pd.Series(NO_FINDING, index=patients, name="stratum")
    if labels is None or labels.empty or studies is None or studies.empty:
        return strata
    pos = labels[(labels["vocabulary"] == vocabulary) & (labels["value"] == 1)][["study_key", "finding"]]
    pos = pos.merge(studies[["study_key", "patient_key"]].drop_duplicates(), on="study_key")
    pos = pos[pos["patient_key"].isin(patients)].drop_duplicates(["patient_key", "finding"])
    if pos.empty:
        return strata
    counts = pos.groupby("finding")["patient_key"].nunique()
    pos = pos.assign(n=pos["finding"].map(counts)).sort_values(["patient_key", "n", "finding"])
    rarest = pos.drop_duplicates("patient_key").set_index("patient_key")["finding"]
    strata.loc[rarest.index] = rarest
    return strata


def assign_splits(strata: pd.Series, config: SplitsConfig = SplitsConfig(),
                  previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """``patient_key, split, fold, stratum`` for every patient in ``strata`` (index patient_key).

    Rows of ``previous`` (``patient_key, split, fold``) are kept as they are for the patients
    still present; the others are assigned as the module docstring says.
    """
    fractions = config.fractions
    active = [s for s in SPLITS if fractions[s] > 0]
    k = int(config.folds)
    prev = {}
    if previous is not None and len(previous):
        for r in previous.itertuples(index=False):
            if r.split in SPLITS:
                fold = getattr(r, "fold", None)
                prev[r.patient_key] = (r.split, None if fold is None or pd.isna(fold) else int(fold))
    # a stratum too small to reach every split is pooled with the other small ones
    sizes = strata.value_counts()
    group_of = strata.map(lambda s: s if sizes[s] >= len(active) else POOLED)
    rows = []
    for group in sorted(set(group_of)):
        members = sorted(group_of.index[group_of == group])
        counts = {s: 0 for s in SPLITS}
        fold_counts = [0] * k
        new = []
        for p in members:
            if p in prev:
                split, fold = prev[p]
                counts[split] += 1
                if fold is not None and 0 <= fold < k:
                    fold_counts[fold] += 1
                rows.append((p, split, fold, group))
            else:
                new.append(p)
        n_total = len(members)
        for p in sorted(new, key=lambda p: (patient_order(p), p)):
            empty = [s for s in active if counts[s] == 0]
            if empty and n_total >= len(active):
                split = max(empty, key=lambda s: (fractions[s], -SPLITS.index(s)))
            else:
                split = max(active, key=lambda s: (fractions[s] * n_total - counts[s], -SPLITS.index(s)))
            counts[split] += 1
            rows.append((p, split, None, group))
        # folds over train+val for the new patients, in their second hash order
        fold_of = {}
        fresh = set(new)
        for p in sorted((r[0] for r in rows if r[3] == group and r[0] in fresh and r[1] != "test"),
                        key=lambda p: (patient_order(p, "fold"), p)):
            f = int(np.argmin(fold_counts))
            fold_counts[f] += 1
            fold_of[p] = f
        rows = [(p, s, fold_of.get(p, f), st) for p, s, f, st in rows]
    out = pd.DataFrame(rows, columns=["patient_key", "split", "fold", "group"]).drop(columns="group")
    out["stratum"] = out["patient_key"].map(strata)
    out["fold"] = out["fold"].astype("Int32")
    return out.sort_values("patient_key").reset_index(drop=True)


def run_splits(curated_dir: str | os.PathLike, config: SplitsConfig = SplitsConfig()) -> dict:
    """Write ``splits.parquet`` (per patient) and ``image_splits.parquet`` (per image instance)."""
    curated = Path(curated_dir)
    studies = read_table(curated / "studies.parquet", columns=["study_key", "patient_key"]) \
        if (curated / "studies.parquet").exists() else pd.DataFrame(columns=["study_key", "patient_key"])
    images = read_images(curated, columns=["instance_key", "series_key", "study_key", "patient_key"])
    images = images.drop_duplicates("instance_key")
    labels = read_table(curated / "labels.parquet", columns=["study_key", "vocabulary", "finding", "value"]) \
        if (curated / "labels.parquet").exists() else None
    patients = set(studies["patient_key"].dropna()) | set(images["patient_key"].dropna())
    strata = patient_strata(patients, labels, studies, config.vocabulary)
    previous = None
    source = Path(config.previous) if config.previous else curated / "splits.parquet"
    if config.keep_existing and source.exists():
        previous = read_splits(source, columns=["fold"])  # a leaking ledger is refused, not extended
    splits = assign_splits(strata, config, previous)
    write_table(splits, curated / "splits.parquet", SPLITS_SCHEMA)
    per_image = images.merge(splits[["patient_key", "split", "fold"]], on="patient_key", how="left")
    per_image = per_image.sort_values("instance_key").reset_index(drop=True)
    write_table(per_image[IMAGE_SPLITS_SCHEMA.names], curated / "image_splits.parquet", IMAGE_SPLITS_SCHEMA)
    kept = 0 if previous is None else int(splits["patient_key"].isin(set(previous["patient_key"])).sum())
    by_split = splits["split"].value_counts()
    img_by_split = per_image["split"].value_counts()
    return {
        "patients": int(len(splits)),
        "kept": kept,
        **{f"patients_{s}": int(by_split.get(s, 0)) for s in SPLITS},
        **{f"images_{s}": int(img_by_split.get(s, 0)) for s in SPLITS},
        "images": int(len(per_image)),
        "strata": int(splits["stratum"].nunique()),
        "folds": int(config.folds),
    }
