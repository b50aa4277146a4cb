"""A PyTorch dataset over ``curated/images/`` joined to ``labels.parquet`` and ``splits.parquet``.

:class:`CuratedImages` is an ``IterableDataset`` that streams Parquet row groups: the rows a user
asked for (split, fold, modality, preprocessing) are located once, from the key columns only; each
epoch the row groups are shuffled with one seed shared by every DataLoader worker (and DDP rank) and
dealt out round-robin, so every sample is read by exactly one worker, exactly once. A row group's
``pixels`` column is one contiguous buffer (``fixed_size_binary``), so a whole row group becomes one
numpy array without a copy per image. Batches are built in the workers (``batch_size``) so the
DataLoader only pins and hands them over; :func:`collate` does the same for single samples.

Pixels stay in their stored dtype (int16 HU, uint16/uint8 radiographs): converting to float on the
accelerator moves a half or a quarter of the bytes over the bus. Normalise and augment there with
:class:`DeviceLoader`'s ``transform`` (a callable ``batch -> batch`` applied on the device).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from radcurate.images_table import image_part_files
from radcurate.vocabulary import BUILTIN, SOFT_POLICY, U_IGNORE, U_ONES, U_ZEROS, UNCERTAINTY_POLICIES

# The built-in vocabularies (ChestX-ray14 with the strict "Normal", CheXpert) of radcurate.vocabulary.
VOCABULARY_FINDINGS = dict(BUILTIN)
#: What an uncertain label (-1) becomes: CheXpert's U-Zeros / U-Ones / U-Ignore, or the label model's
#: probability as a soft target. ``probability`` also replaces certain values by their probability.
POLICIES = (*UNCERTAINTY_POLICIES, SOFT_POLICY)
KEY_COLUMNS = ("instance_key", "series_key", "study_key", "patient_key", "frame_index")


@dataclass
class _Unit:
    """The selected rows of one row group, with their labels (aligned to ``rows``)."""

    path: str
    row_group: int
    rows: np.ndarray  # int64 row indices within the row group
    shape: tuple[int, ...]
    dtype: str
    keys: dict[str, list]  # column -> values, aligned to rows
    labels: np.ndarray  # (n, F) float32
    mask: np.ndarray  # (n, F) bool: False where the policy ignores the label or it is unknown


def label_matrix(labels: pd.DataFrame, studies: Sequence[str], findings: Sequence[str],
                 policy: str | Mapping[str, str] = U_ZEROS, missing: str = "zeros") -> tuple[np.ndarray, np.ndarray]:
    """Targets and mask (n_studies, n_findings) from long labels (``study_key, finding, value,
    probability``). ``policy`` per finding or for all (see :data:`POLICIES`); ``missing`` (a
    finding the report did not mention, value null) is ``zeros`` or ``ignore``. A study without
    any label row is masked out entirely."""
    findings = list(findings)
    pol = {f: (policy.get(f, U_ZEROS) if isinstance(policy, Mapping) else policy) for f in findings}
    bad = sorted({p for p in pol.values() if p not in POLICIES})
    if bad or missing not in ("zeros", "ignore"):
        raise ValueError(f"unknown label policy {bad or missing}; choose from {POLICIES} (missing: zeros/ignore)")
    n, k = len(studies), len(findings)
    y = np.zeros((n, k), np.float32)
    m = np.zeros((n, k), bool)
    if n == 0 or k == 0 or labels.empty:
        return y, m
    row_of = {s: i for i, s in enumerate(studies)}
    col_of = {f: j for j, f in enumerate(findings)}
    lab = labels[labels["study_key"].isin(row_of) & labels["finding"].isin(col_of)]
    labelled = np.zeros(n, bool)
    labelled[[row_of[s] for s in labels.loc[labels["study_key"].isin(row_of), "study_key"].unique()]] = True
    m[labelled] = missing == "zeros"
    i = lab["study_key"].map(row_of).to_numpy()
    j = lab["finding"].map(col_of).to_numpy()
    value = lab["value"].astype("float64").to_numpy()  # null -> nan
    prob = lab["probability"].astype("float64").fillna(0.5).to_numpy() if "probability" in lab else \
        np.where(np.isnan(value), 0.0, np.clip(value, 0, 1))
    p = np.array([pol[f] for f in lab["finding"]], dtype=object)
    known = ~np.isnan(value)
    target = np.where(value == 1, 1.0, 0.0)
    unc = value == -1
    target = np.where(unc & (p == U_ONES), 1.0, target)
    target = np.where(p == SOFT_POLICY, prob, target)
    keep = known & ~(unc & (p == U_IGNORE))
    y[i[known], j[known]] = target[known]
    m[i[known], j[known]] = keep[known]
    return y, m


class CuratedImages(IterableDataset):
    """Images of one split (and fold) with their labels, streamed from ``curated/images/``.

    ``split``: ``train``/``val``/``test`` or None (all). ``fold``: with k-fold splits, ``train`` is
    train+val without fold ``fold`` and ``val`` is fold ``fold``. ``findings`` default to the
    ``vocabulary``'s; ``label_policy`` is one of :data:`POLICIES` or a dict per finding.
    ``preprocessing``: ``native`` or e.g. ``resize512``; ``modalities`` filters (e.g. ``["DX", "CR"]``).
    ``batch_size``: yield collated batches built in the worker (None: single samples, use
    :func:`collate`). Batches hold one pixel shape each; ``drop_last`` drops each worker's short
    batches. Call :meth:`set_epoch` each epoch to reshuffle; ``shuffle=False`` keeps storage order.
    """

    def __init__(self, curated_dir: str | os.PathLike, split: str | None = "train", *, fold: int | None = None,
                 findings: Sequence[str] | None = None, vocabulary: str = "chestxray14",
                 label_policy: str | Mapping[str, str] = U_ZEROS, missing: str = "zeros",
                 preprocessing: str = "native", modalities: Sequence[str] | None = None,
                 batch_size: int | None = None, drop_last: bool = False, shuffle: bool = True,
                 seed: int = 0, mix_row_groups: int = 4):
        super().__init__()
        self.curated_dir = str(curated_dir)
        self.split, self.fold = split, fold
        self.vocabulary = vocabulary
        self.batch_size, self.drop_last = batch_size, drop_last
        self.shuffle, self.seed, self.epoch = shuffle, int(seed), 0
        self.mix_row_groups = max(1, int(mix_row_groups))
        labels = self._labels()
        if findings is None:
            known = VOCABULARY_FINDINGS.get(vocabulary, ())
            seen = set(labels["finding"]) if len(labels) else set()
            findings = [f for f in known] + sorted(seen - set(known))
        self.findings = list(findings)
        patients = self._patients(split, fold)
        self.units = self._plan(patients, labels, label_policy, missing, preprocessing, modalities)
        self.num_samples = int(sum(len(u.rows) for u in self.units))

    # --- planning (main process, key columns only) ---------------------------------------------

    def _labels(self) -> pd.DataFrame:
        path = os.path.join(self.curated_dir, "labels.parquet")
        cols = ["study_key", "vocabulary", "finding", "value", "probability"]
        if not os.path.exists(path):
            return pd.DataFrame(columns=cols)
        lab = pq.read_table(path, columns=cols).to_pandas()
        return lab[lab["vocabulary"] == self.vocabulary]

    def _patients(self, split: str | None, fold: int | None) -> set[str] | None:
        if split is None:
            return None
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be train, val, test or None, not {split!r}")
        path = os.path.join(self.curated_dir, "splits.parquet")
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} not found: run the splits stage (radcurate images)")
        s = pq.read_table(path, columns=["patient_key", "split", "fold"]).to_pandas()
        if fold is None or split == "test":
            return set(s.loc[s["split"] == split, "patient_key"])
        dev = s[s["split"].isin(["train", "val"])]
        in_fold = dev["fold"].astype("float64") == float(fold)
        return set(dev.loc[in_fold if split == "val" else ~in_fold, "patient_key"])

    def _plan(self, patients, labels, policy, missing, preprocessing, modalities) -> list[_Unit]:
        units: list[_Unit] = []
        wanted_mod = {m.upper() for m in modalities} if modalities else None
        for path in image_part_files(self.curated_dir):
            pf = pq.ParquetFile(path)
            meta = pf.read(columns=[*KEY_COLUMNS, "preprocessing", "modality", "shape", "dtype"]).to_pandas()
            sizes = [pf.metadata.row_group(i).num_rows for i in range(pf.metadata.num_row_groups)]
            starts = np.concatenate([[0], np.cumsum(sizes)])
            keep = (meta["preprocessing"] == preprocessing).to_numpy().copy()
            if patients is not None:
                keep = keep & meta["patient_key"].isin(patients).to_numpy()
            if wanted_mod is not None:
                keep = keep & meta["modality"].fillna("").str.upper().isin(wanted_mod).to_numpy()
            if not keep.any():
                continue
            shape_key = meta["shape"].map(lambda s: tuple(int(x) for x in s)) + meta["dtype"].map(lambda d: (d,))
            for g in range(len(sizes)):
                lo, hi = int(starts[g]), int(starts[g + 1])
                sel = meta.iloc[lo:hi][keep[lo:hi]]
                if sel.empty:
                    continue
                for key, part in sel.groupby(shape_key.iloc[lo:hi][keep[lo:hi]], sort=True):
                    rows = part.index.to_numpy() - lo
                    y, m = label_matrix(labels, part["study_key"].tolist(), self.findings, policy, missing)
                    units.append(_Unit(str(path), g, rows.astype(np.int64), tuple(key[:-1]), key[-1],
                                       {c: part[c].tolist() for c in KEY_COLUMNS}, y, m))
        return units

    # --- iteration (in each DataLoader worker) ---------------------------------------------------

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle for ``epoch`` (the same order in every worker and rank)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        """Samples (or batches with ``batch_size``, an upper bound across workers) per epoch."""
        if self.batch_size is None:
            return self.num_samples
        return math.ceil(self.num_samples / self.batch_size)

    def my_units(self) -> list[_Unit]:
        """This worker's share of the row groups for the current epoch."""
        order = np.arange(len(self.units))
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.units))
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        rank, world = 0, 1
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
        slot, slots = rank * nw + wid, world * nw
        return [self.units[i] for i in order[slot::slots]]

    def _read(self, unit: _Unit) -> np.ndarray:
        """The unit's pixels as one array (n, *shape), from the row group's contiguous buffer."""
        table = pq.ParquetFile(unit.path).read_row_group(unit.row_group, columns=["pixels"])
        col = table.column("pixels").combine_chunks()
        width = col.type.byte_width
        buf = np.frombuffer(col.buffers()[1], dtype=np.uint8)[col.offset * width:(col.offset + len(col)) * width]
        all_rows = buf.view(np.dtype(unit.dtype).newbyteorder("<")).reshape(len(col), *unit.shape)
        lo, n = int(unit.rows[0]), len(unit.rows)
        if int(unit.rows[-1]) - lo == n - 1:  # a contiguous run (the usual case): a view, no copy
            return all_rows[lo:lo + n]
        return all_rows[unit.rows]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        rng = np.random.default_rng([self.seed, self.epoch, 1 + (get_worker_info().id if get_worker_info() else 0)])
        units = self.my_units()
        pending: dict[tuple, list] = {}  # shape+dtype -> list of (pixels, labels, mask, keys) chunks
        for start in range(0, len(units), self.mix_row_groups):
            group = units[start:start + self.mix_row_groups]
            samples = []  # (unit index, row) pairs, mixed across the group's row groups
            pixels = [self._read(u) for u in group]
            for ui, u in enumerate(group):
                samples += [(ui, r) for r in range(len(u.rows))]
            if self.shuffle:
                samples = [samples[i] for i in rng.permutation(len(samples))]
            if self.batch_size is None:
                for ui, r in samples:
                    yield _sample(group[ui], pixels[ui], r)
                continue
            for ui, r in samples:
                key = (group[ui].shape, group[ui].dtype)
                pending.setdefault(key, []).append((pixels[ui], group[ui], r))
                if len(pending[key]) == self.batch_size:
                    yield _batch(pending.pop(key))
        if self.batch_size is not None and not self.drop_last:
            for key in sorted(pending):
                if pending[key]:
                    yield _batch(pending[key])


def _image_tensor(a: np.ndarray) -> torch.Tensor:
    """(H, W) -> (1, H, W); (H, W, C) -> (C, H, W)."""
    t = torch.from_numpy(np.array(a, copy=True))  # own the memory (``a`` may view Arrow's buffer)
    return t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1).contiguous()


def _sample(unit: _Unit, pixels: np.ndarray, r: int) -> dict[str, Any]:
    return {"image": _image_tensor(pixels[r]), "label": torch.from_numpy(unit.labels[r]),
            "label_mask": torch.from_numpy(unit.mask[r]),
            **{c: unit.keys[c][r] for c in KEY_COLUMNS}}


def _batch(items: list) -> dict[str, Any]:
    images = np.stack([p[r] for p, _, r in items])
    t = torch.from_numpy(images)
    t = t.unsqueeze(1) if t.ndim == 3 else t.permute(0, 3, 1, 2).contiguous()
    return {"image": t,
            "label": torch.from_numpy(np.stack([u.labels[r] for _, u, r in items])),
            "label_mask": torch.from_numpy(np.stack([u.mask[r] for _, u, r in items])),
            **{c: [u.keys[c][r] for _, u, r in items] for c in KEY_COLUMNS}}


def collate(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Single samples -> a batch: stacked ``image`` (B, C, H, W), ``label`` and ``label_mask``
    (B, F) tensors, and the key columns as lists."""
    out: dict[str, Any] = {k: torch.stack([s[k] for s in samples]) for k in ("image", "label", "label_mask")}
    for c in KEY_COLUMNS:
        out[c] = [s[c] for s in samples]
    return out


@dataclass
class DeviceLoader:
    """Batches moved to ``device`` (non-blocking from pinned memory), then ``transform(batch)``
    applied there: the hook for normalisation and augmentation on the accelerator."""

    loader: DataLoader
    device: str | torch.device = "cpu"
    transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.loader.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch in self.loader:
            moved = {k: (v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) else v)
                     for k, v in batch.items()}
            yield self.transform(moved) if self.transform is not None else moved


def make_loader(curated_dir: str | os.PathLike, split: str | None = "train", *, batch_size: int = 32,
                num_workers: int = 2, device: str | torch.device = "cpu",
                transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                pin_memory: bool | None = None, prefetch_factor: int | None = 4,
                **dataset_args) -> DeviceLoader:
    """A ready loader: :class:`CuratedImages` batching in ``num_workers`` workers, pinned memory
    when a GPU is there, batches on ``device`` with ``transform`` applied. ``dataset_args`` go to
    :class:`CuratedImages` (fold, findings, vocabulary, label_policy, preprocessing, ...)."""
    ds = CuratedImages(curated_dir, split, batch_size=batch_size, **dataset_args)
    pin = torch.cuda.is_available() if pin_memory is None else pin_memory
    loader = DataLoader(ds, batch_size=None, num_workers=num_workers, pin_memory=pin,
                        persistent_workers=False,
                        prefetch_factor=prefetch_factor if num_workers > 0 else None)
    return DeviceLoader(loader, device, transform)


def series_volume(curated_dir: str | os.PathLike, series_key: str) -> tuple[np.ndarray, np.ndarray]:
    """A CT (or any) series as a volume (slices, H, W) in ``slice_index`` order, with the slice
    positions (mm); take 2.5-D stacks as ``volume[i - k:i + k + 1]``."""
    from radcurate.images_table import decode_pixels, read_images

    df = read_images(curated_dir, columns=["series_key", "preprocessing", "slice_index", "slice_position",
                                           "shape", "dtype", "pixels"],
                     filters=[("series_key", "=", series_key), ("preprocessing", "=", "native")])
    if df.empty:
        raise KeyError(f"no native images of series {series_key}")
    df = df.sort_values("slice_index")
    vol = np.stack([decode_pixels(r.pixels, r.shape, r.dtype) for r in df.itertuples()])
    return vol, df["slice_position"].to_numpy(dtype=np.float64)
