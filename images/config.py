"""Settings of the images and splits stages (typed, with defaults; config file sections ``images``
and ``splits``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping
from radcurate.settings import dataclass_from

NAME = "images"  # the stage's name: its config section and its quarantine rows' stage
SPLITS_NAME = "splits"


def _from_mapping(cls, section: Mapping[str, Any]):
    return dataclass_from(cls, section)


@dataclass(frozen=True)
class ImagesConfig:
    """How curated DICOM becomes ``curated/images/``.

    ``resize``: long side of the padded copy stored beside each radiograph (0 = none), so a loader
    never resizes. Part files hold at most ``part_mb`` of pixels, row groups ``row_group_mb`` (a
    DataLoader worker reads one row group at a time); a Dask task decodes about ``task_mb`` of
    pixels and writes its own part files.
    """

    resize: int = 512
    radiograph_modalities: tuple[str, ...] = ("CR", "DX", "MG", "RG")
    part_mb: float = 256.0
    row_group_mb: float = 16.0
    task_mb: float = 128.0
    compression: str = "zstd"  # or "lz4" (decodes ~5x faster here, files ~1.3x larger) or "none"
    compression_level: int | None = 1  # zstd level; decoding speed hardly depends on it

    def __post_init__(self):
        if int(self.resize) < 0:
            raise ValueError("resize must be >= 0 (0: no resized copy)")
        if str(self.compression).lower() not in ("zstd", "lz4", "snappy", "gzip", "brotli", "none"):
            raise ValueError(f"unknown compression {self.compression!r}")
        for name in ("part_mb", "row_group_mb", "task_mb"):
            if float(getattr(self, name)) <= 0:
                raise ValueError(f"{name} must be > 0")

    @classmethod
    def from_mapping(cls, section: Mapping[str, Any]) -> "ImagesConfig":
        return _from_mapping(cls, section)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SplitsConfig:
    """Patient-level splits: fractions of train/val/test, ``folds`` k-fold groups over train+val,
    strata from the positive findings of ``vocabulary`` in ``curated/labels.parquet``.

    ``keep_existing``: patients already in ``curated/splits.parquet`` (or in ``previous``, a splits
    file of an earlier release) keep their split and fold; only new patients are assigned.
    """

    train: float = 0.8
    val: float = 0.1
    test: float = 0.1
    folds: int = 5
    vocabulary: str = "chestxray14"
    keep_existing: bool = True
    previous: str | None = None

    def __post_init__(self):
        fr = (self.train, self.val, self.test)
        if any(f < 0 for f in fr) or abs(sum(fr) - 1.0) > 1e-6:
            raise ValueError("split fractions train/val/test must be >= 0 and sum to 1")
        if int(self.folds) < 1:
            raise ValueError("folds must be >= 1")

    @property
    def fractions(self) -> dict[str, float]:
        return {"train": float(self.train), "val": float(self.val), "test": float(self.test)}

    @classmethod
    def from_mapping(cls, section: Mapping[str, Any]) -> "SplitsConfig":
        return _from_mapping(cls, section)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
