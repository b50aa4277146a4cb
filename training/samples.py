"""Curated Parquet -> in-memory training samples for each task, split by patient.

Every task's samples come with the patient and split of each image, so evaluation can aggregate
by case and a patient can never feed two splits. The split table is checked first: a patient in
two splits is refused (:class:`SplitLeakError`) before any pixel is read.

Pixels are decoded once, mapped to [0, 1] (radiographs: per-image min-max; CT: a stated HU window)
and resized to the configured size; a run over a dataset too large for memory would stream the
part files instead (the loader of ``radcurate.images_table``), the recipes do not change.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch
import torch.nn.functional as F

from radcurate.images_table import decode_pixels, read_images
from radcurate.splits import SPLITS, split_of

from .config import TrainConfig

class DataError(ValueError):
    """The curated dataset lacks what the task needs (message says what)."""


@dataclass
class TaskData:
    """Samples of one task: inputs, targets and who/where each one comes from."""

    x: torch.Tensor  # N,1,H,W float32 in [0, 1]
    y: torch.Tensor  # classify: N,F; segment: N,1,H,W; denoise: N,1,H,W
    patient: np.ndarray  # N patient keys
    split: np.ndarray  # N of train/val/test
    key: np.ndarray  # N instance keys
    mask: torch.Tensor | None = None  # classify: N,F 1 = label counts in the loss
    weight: torch.Tensor | None = None  # classify: N,F per-label loss weight
    names: list[str] = field(default_factory=list)  # classify: finding names
    info: dict[str, Any] = field(default_factory=dict)  # counts and provenance for the run record
    hw: np.ndarray | None = None  # denoise: N x 2 native (rows, columns) inside the padded tensors

    def subset(self, split: str) -> "TaskData":
        idx = np.flatnonzero(self.split == split)
        t = torch.as_tensor(idx, dtype=torch.long)
        return TaskData(self.x[t], self.y[t], self.patient[idx], self.split[idx], self.key[idx],
                        None if self.mask is None else self.mask[t],
                        None if self.weight is None else self.weight[t], self.names, self.info,
                        None if self.hw is None else self.hw[idx])

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.x, self.y, self.mask, self.weight) if t is not None)

    def to(self, device) -> "TaskData":
        """The same samples with their tensors on ``device`` (keys and splits stay numpy)."""
        mv = lambda t: None if t is None else t.to(device)  # noqa: E731
        return TaskData(mv(self.x), mv(self.y), self.patient, self.split, self.key, mv(self.mask),
                        mv(self.weight), self.names, self.info, self.hw)


# --- splits and data version -------------------------------------------------------------------


def read_splits(curated: Path) -> dict[str, str]:
    """``patient_key -> split`` from ``curated/splits.parquet``, leak-checked (:mod:`radcurate.splits`)."""
    try:
        return split_of(curated)
    except FileNotFoundError as exc:
        raise DataError(str(exc)) from None


def data_version(curated: Path) -> str:
    """The dataset's version: sha256 of ``manifest.json`` (else of the table file names and sizes)."""
    curated = Path(curated)
    for m in (curated / "manifest.json", curated.parent / "manifest.json"):
        if m.is_file():
            return "manifest:" + hashlib.sha256(m.read_bytes()).hexdigest()[:16]
    h = hashlib.sha256()
    for p in sorted(curated.rglob("*.parquet")):
        h.update(f"{p.relative_to(curated)}:{p.stat().st_size}\n".encode())
    return "files:" + h.hexdigest()[:16]


# --- pixels ---------------------------------------------------------------------------------------


def _resize(arr: np.ndarray, size: int, mode: str = "bilinear") -> torch.Tensor:
    t = torch.as_tensor(np.ascontiguousarray(arr), dtype=torch.float32)[None, None]
    if t.shape[-2:] != (size, size):
        if mode == "nearest":
            t = F.interpolate(t, size=(size, size), mode="nearest")
        else:
            t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return t[0]


def minmax(arr: np.ndarray) -> np.ndarray:
    a = arr.astype(np.float32)
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def window(arr: np.ndarray, lo_hi: tuple[float, float]) -> np.ndarray:
    lo, hi = lo_hi
    return np.clip((arr.astype(np.float32) - lo) / (hi - lo), 0.0, 1.0)


def _frames(df: pd.DataFrame) -> list[np.ndarray]:
    out = []
    for buf, shape, dtype in zip(df["pixels"], df["shape"], df["dtype"]):
        a = decode_pixels(buf, list(shape), dtype)
        out.append(a.reshape(a.shape[-2:]) if a.ndim > 2 else a)
    return out


def one_copy_per_frame(df: pd.DataFrame, size: int) -> pd.DataFrame:
    """One stored copy per frame (the images stage may add resized copies beside ``native``): the
    smallest copy still at least ``size`` pixels on its short side, else the largest."""
    if "preprocessing" not in df.columns or df.empty:
        return df
    short = df[["rows", "columns"]].min(axis=1)
    big_enough = short >= size
    rank = np.where(big_enough, short, 1_000_000 - short)  # prefer small-but-enough, then largest
    keep = df.assign(_rank=rank).sort_values(["instance_key", "frame_index", "_rank"])
    return keep.drop_duplicates(["instance_key", "frame_index"]).drop(columns="_rank").reset_index(drop=True)


def _assign_splits(df: pd.DataFrame, splits: dict[str, str], info: dict) -> pd.DataFrame:
    split = df["patient_key"].map(splits)
    info["images_without_split"] = int(split.isna().sum())
    df = df.assign(split=split)
    return df[df["split"].notna()].reset_index(drop=True)


# --- classify ----------------------------------------------------------------------------------


def label_targets(labels: pd.DataFrame, cfg) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[str]]:
    """Wide ``(target, mask, weight)`` tables per study from long labels, policies applied.

    ``value`` 1 -> 1, 0 -> 0, -1 -> the finding's uncertainty policy (u_ones 1, u_zeros 0,
    u_ignore masked), null -> 0 or masked (``unmentioned``). ``label_weighting`` "confidence"
    weighs each label by max(p, 1-p) of the label model, "soft" trains on p itself.
    """
    labels = labels.copy()
    if "vocabulary" in labels.columns:
        labels = labels[labels["vocabulary"] == cfg.vocabulary]
    names = list(cfg.findings) or sorted(labels["finding"].unique())
    labels = labels[labels["finding"].isin(names)]
    if labels.empty:
        raise DataError(f"no {cfg.vocabulary} labels for the findings {names}")
    value = pd.to_numeric(labels["value"], errors="coerce")
    policy = labels["finding"].map(dict(cfg.policies)).astype(object)
    if "policy" in labels.columns:
        policy = policy.fillna(labels["policy"])
    policy = policy.fillna(cfg.default_policy)
    target = value.copy()
    mask = pd.Series(1.0, index=labels.index)
    unc = value == -1
    target[unc & (policy == "u_ones")] = 1.0
    target[unc & (policy == "u_zeros")] = 0.0
    ignore = unc & (policy == "u_ignore")
    target[ignore] = 0.0
    mask[ignore] = 0.0
    if cfg.unmentioned == "negative":
        target[value.isna()] = 0.0
    else:
        target[value.isna()] = 0.0
        mask[value.isna()] = 0.0
    weight = pd.Series(1.0, index=labels.index)
    if cfg.label_weighting != "none":
        if "probability" not in labels.columns:
            raise DataError("label_weighting needs a probability column in the labels")
        p = pd.to_numeric(labels["probability"], errors="coerce").fillna(target)
        if cfg.label_weighting == "confidence":
            weight = np.maximum(p, 1 - p)
        else:  # soft: the label model's probability is the target where the label counts
            target = p.where(mask > 0, target)
    long = pd.DataFrame({"study_key": labels["study_key"].values, "finding": labels["finding"].values,
                         "t": target.values, "m": mask.values, "w": np.asarray(weight, dtype=float)})
    wide = {c: long.pivot_table(index="study_key", columns="finding", values=c, aggfunc="max")
            .reindex(columns=names) for c in ("t", "m", "w")}
    # a study with no row for a finding: not mentioned
    missing = wide["t"].isna()
    wide["t"] = wide["t"].fillna(0.0)
    wide["m"] = wide["m"].where(~missing, 1.0 if cfg.unmentioned == "negative" else 0.0)
    wide["w"] = wide["w"].fillna(1.0)
    return wide["t"], wide["m"], wide["w"], names


def _study_labels(curated: Path, cfg) -> pd.DataFrame:
    path = Path(cfg.labels) if cfg.labels else Path(curated) / "labels.parquet"
    if not path.exists():
        raise DataError(f"{path} not found: run the labeling stage (or pass a labels table)")
    labels = pq.read_table(path).to_pandas()
    if "study_key" not in labels.columns:
        reports = Path(curated) / "reports.parquet"
        if "report_key" not in labels.columns or not reports.exists():
            raise DataError(f"{path} has no study_key (nor report_key + curated/reports.parquet)")
        rk = pq.read_table(reports, columns=["report_key", "study_key"]).to_pandas()
        labels = labels.merge(rk, on="report_key", how="inner")
    return labels


def classify_data(curated: Path, config: TrainConfig) -> TaskData:
    cfg = config.classify
    splits = read_splits(curated)
    labels = _study_labels(curated, cfg)
    target, mask, weight, names = label_targets(labels, cfg)
    cols = ["instance_key", "study_key", "patient_key", "modality", "frame_index", "preprocessing", "rows",
            "columns", "dtype", "shape", "pixels"]
    images = read_images(curated, columns=cols, filters=[("modality", "in", list(cfg.modalities))])
    images = one_copy_per_frame(images, config.image_size)
    info: dict[str, Any] = {"images": int(len(images))}
    images = images[images["study_key"].isin(target.index)].reset_index(drop=True)
    info["images_with_labels"] = int(len(images))
    images = _assign_splits(images, splits, info)
    if images.empty:
        raise DataError(f"no {'/'.join(cfg.modalities)} images with labels and a split in {curated}")
    x = torch.stack([_resize(minmax(a), config.image_size) for a in _frames(images)])
    sk = images["study_key"]
    as_t = lambda df: torch.tensor(df.loc[sk].to_numpy(dtype=np.float32))  # noqa: E731
    return TaskData(x, as_t(target), images["patient_key"].to_numpy(), images["split"].to_numpy(),
                    images["instance_key"].to_numpy(), as_t(mask), as_t(weight), names, info)


# --- segment ------------------------------------------------------------------------------------


def lesion_mask(rows: pd.DataFrame, shape: tuple[int, int]) -> np.ndarray:
    """The union of the lesions' box masks pasted into a slice of ``shape``."""
    out = np.zeros(shape, dtype=np.uint8)
    for r in rows.itertuples():
        h, w = int(r.box_y1 - r.box_y0), int(r.box_x1 - r.box_x0)
        if h <= 0 or w <= 0:
            continue
        m = np.frombuffer(r.mask, dtype=np.uint8)
        if m.size != h * w:
            raise DataError(f"lesion mask of {m.size} bytes does not fit its {h}x{w} box")
        m = m.reshape(h, w)
        y0, x0 = int(r.box_y0), int(r.box_x0)
        ys, xs = slice(max(y0, 0), min(y0 + h, shape[0])), slice(max(x0, 0), min(x0 + w, shape[1]))
        out[ys, xs] |= m[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0]
    return out


def masks_for(curated: Path, keys: np.ndarray, table: str | Path, size: int) -> tuple[np.ndarray, torch.Tensor]:
    """True masks of a table in the layout of ``lesions.parquet`` (instance_key, box_x0..box_y1 in
    native pixels, mask bytes) for the slices ``keys``, resized as the task's inputs: (which of
    ``keys`` have a row, masks (N, 1, size, size) of those)."""
    path = Path(table)
    if not path.is_file():
        raise DataError(f"{path} not found: a table of true masks (instance_key, box_x0..box_y1, mask)")
    t = pq.read_table(path).to_pandas()
    need = {"instance_key", "box_x0", "box_y0", "box_x1", "box_y1", "mask"}
    if not need <= set(t.columns):
        raise DataError(f"{path} lacks column(s) {', '.join(sorted(need - set(t.columns)))}")
    t = t[t["mask"].notna() & t["instance_key"].isin(set(keys))]
    have = np.flatnonzero(np.isin(keys, t["instance_key"].unique()))
    if not len(have):
        return have, torch.zeros((0, 1, size, size))
    shapes = read_images(curated, columns=["instance_key", "rows", "columns"],
                         filters=[("instance_key", "in", list(keys[have])), ("preprocessing", "=", "native")]
                         ).drop_duplicates("instance_key").set_index("instance_key")
    by_key = dict(tuple(t.groupby("instance_key")))
    out = []
    for k in keys[have]:
        shape = (int(shapes.loc[k, "rows"]), int(shapes.loc[k, "columns"]))
        out.append((_resize(lesion_mask(by_key[k], shape), size, mode="nearest") > 0.5).float())
    return have, torch.stack(out)


def segment_data(curated: Path, config: TrainConfig) -> TaskData:
    cfg = config.segment
    splits = read_splits(curated)
    path = Path(curated) / "lesions.parquet"
    if not path.exists():
        raise DataError(f"{path} not found: the lesions stage writes the weak masks")
    lesions = pq.read_table(path, columns=["instance_key", "box_x0", "box_y0", "box_x1", "box_y1",
                                           "mask"]).to_pandas()
    lesions = lesions[lesions["mask"].notna()]
    info: dict[str, Any] = {"lesions": int(len(lesions))}
    meta = read_images(curated, columns=["instance_key", "series_key", "patient_key", "modality", "preprocessing"],
                       filters=[("modality", "=", "CT"), ("preprocessing", "=", "native")])
    pos = meta[meta["instance_key"].isin(set(lesions["instance_key"]))]
    rng = np.random.default_rng(config.seed)
    neg = meta[meta["series_key"].isin(set(pos["series_key"])) & ~meta["instance_key"].isin(set(pos["instance_key"]))]
    n_neg = min(len(neg), int(round(cfg.negatives_per_positive * len(pos))))
    neg = neg.iloc[np.sort(rng.choice(len(neg), n_neg, replace=False))] if n_neg else neg.iloc[:0]
    keys = list(pos["instance_key"]) + list(neg["instance_key"])
    info.update(lesion_slices=int(len(pos)), negative_slices=int(len(neg)))
    if not keys:
        raise DataError(f"no CT slice in {curated}/images carries a lesion of lesions.parquet")
    images = read_images(curated, columns=["instance_key", "patient_key", "dtype", "shape", "pixels"],
                         filters=[("instance_key", "in", keys), ("preprocessing", "=", "native")])
    images = _assign_splits(images.sort_values("instance_key").reset_index(drop=True), splits, info)
    by_key = dict(tuple(lesions.groupby("instance_key")))
    xs, ys = [], []
    for key, a in zip(images["instance_key"], _frames(images)):
        m = lesion_mask(by_key[key], a.shape) if key in by_key else np.zeros(a.shape, np.uint8)
        xs.append(_resize(window(a, cfg.window), config.image_size))
        ys.append((_resize(m, config.image_size, mode="nearest") > 0.5).float())
    return TaskData(torch.stack(xs), torch.stack(ys), images["patient_key"].to_numpy(),
                    images["split"].to_numpy(), images["instance_key"].to_numpy(), info=info)


# --- denoise ------------------------------------------------------------------------------------


def _holdout(patients: np.ndarray, fraction: float, seed: int) -> dict[str, str]:
    """Deterministic patient-level val/test from pair patients (ordered by a hash of key + seed):
    about ``fraction`` of them, half test and half val, at least one test patient when there are two."""
    keys = sorted(set(patients), key=lambda p: (zlib.crc32(f"{seed}:{p}".encode()), p))
    n = len(keys)
    n_test = max(1, round(n * fraction / 2)) if n >= 2 else 0
    n_val = max(1, round(n * fraction / 2)) if n >= 3 else 0
    return {p: "test" if i < n_test else "val" if i < n_test + n_val else "train" for i, p in enumerate(keys)}


def denoise_data(curated: Path, config: TrainConfig) -> TaskData:
    """Pairs from ``synthetic/lowdose/``: its pixels are the low-dose slice; the full-dose target is
    its ``full_dose_pixels`` column when present, else the ``images`` row of the same instance_key."""
    cfg = config.denoise
    splits = read_splits(curated)
    folder = Path(curated) / "synthetic" / "lowdose"
    low = read_images(folder) if folder.is_dir() else pd.DataFrame()
    if low.empty:
        raise DataError(f"no low-dose pairs in {folder}: run `radcurate synthesize lowdose` first")
    if cfg.dose_fraction is not None and "dose_fraction" in low.columns:
        low = low[np.isclose(low["dose_fraction"].astype(float), cfg.dose_fraction)]
        if low.empty:
            raise DataError(f"no low-dose pairs at dose fraction {cfg.dose_fraction}")
    info: dict[str, Any] = {"pairs": int(len(low))}
    if "dose_fraction" in low.columns:
        info["dose_fractions"] = sorted(float(d) for d in low["dose_fraction"].unique())
    order = [c for c in ("instance_key", "frame_index", "dose_fraction", "seed") if c in low.columns]
    low = low.sort_values(order).reset_index(drop=True)
    if "full_dose_pixels" in low.columns:
        full = low[["instance_key", "dtype", "shape"]].assign(pixels=low["full_dose_pixels"])
    else:
        keys = sorted(set(low["instance_key"]))
        full = read_images(curated, columns=["instance_key", "dtype", "shape", "pixels"],
                           filters=[("instance_key", "in", keys), ("preprocessing", "=", "native")]
                           ).drop_duplicates("instance_key")
        full = low[["instance_key"]].merge(full, on="instance_key", how="left")
        if full["pixels"].isna().any():
            raise DataError("low-dose rows whose full-dose image is missing from curated/images")
    split = low["patient_key"].map(splits)
    leaked = low.loc[split.isin(["val", "test"]), "patient_key"].nunique()
    if split.isna().all() or not split.isin(["val", "test"]).any():
        # Synthetic data comes from training patients only: evaluate on held-out pair patients.
        split = low["patient_key"].map(_holdout(low["patient_key"].to_numpy(), cfg.holdout_fraction, config.seed))
        info["split_source"] = f"patient holdout of the pair patients ({cfg.holdout_fraction:.0%})"
    else:
        info["split_source"] = "curated/splits.parquet"
    info["pair_patients_in_val_test"] = int(leaked)
    lows, fulls = _frames(low), _frames(full)
    # native resolution: a resize would average away the noise the network must learn to remove
    x, hw = _padded([window(a, cfg.window) for a in lows])
    y, _ = _padded([window(a, cfg.window) for a in fulls])
    info["resolution"] = "native (no resize); trained on random patches of " + str(cfg.patch_size) + " px"
    if len({tuple(v) for v in hw}) > 1:
        info["padded"] = "slices of several sizes, padded with air at the bottom and right"
    return TaskData(x, y, low["patient_key"].to_numpy(), split.to_numpy(dtype=object),
                    low["instance_key"].to_numpy(), info=info, hw=hw)


def _padded(arrays: list[np.ndarray]) -> tuple[torch.Tensor, np.ndarray]:
    """(N, 1, H, W) of native slices, zero-padded (air in a [0, 1] CT window) to the largest; (N, 2) sizes."""
    hw = np.array([a.shape[-2:] for a in arrays], dtype=np.int64).reshape(-1, 2)
    h, w = (int(hw[:, 0].max()), int(hw[:, 1].max())) if len(hw) else (0, 0)
    out = torch.zeros((len(arrays), 1, h, w), dtype=torch.float32)
    for i, a in enumerate(arrays):
        out[i, 0, :a.shape[-2], :a.shape[-1]] = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    return out, hw


def task_data(curated: Path, config: TrainConfig) -> TaskData:
    fn = {"classify": classify_data, "segment": segment_data, "denoise": denoise_data}[config.task]
    data = fn(Path(curated), config)
    data.info["per_split"] = {s: int((data.split == s).sum()) for s in SPLITS}
    data.info["patients_per_split"] = {s: int(len(set(data.patient[data.split == s]))) for s in SPLITS}
    return data


def info_json(data: TaskData) -> str:
    return json.dumps(data.info, sort_keys=True)
