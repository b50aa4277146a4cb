"""Typed configuration of the training baselines: one dataclass per task, one for the run.

Defaults follow the anchors (CheXNet: DenseNet-121 at 224 px, Adam 1e-3; RED-CNN: 5 conv + 5
deconv layers, 96 filters, MSE, trained on native-resolution patches) with what practitioners add:
AdamW with weight decay (not on biases and norm layers), a cosine schedule after a linear warm-up,
early stopping on a validation metric and the best epoch's weights kept. ``small=True`` models
exist so CPU tests and smoke runs take seconds. The effective config is written into the run folder and hashed, so a resumed run can
refuse to continue under a different config.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from radcurate.vocabulary import UNCERTAINTY_POLICIES

from .augment import AugmentConfig, ct_recipe, radiograph_recipe

TASKS = ("classify", "segment", "denoise")
POLICIES = UNCERTAINTY_POLICIES
SCHEDULES = ("cosine", "onecycle", "constant")
#: The validation metric each task's early stopping and best checkpoint follow by default.
MONITORS = {"classify": "val_auc", "segment": "val_dice", "denoise": "val_psnr"}
MONITOR_CHOICES = ("auto", "val_loss", "val_auc", "val_dice", "val_psnr")


@dataclass(frozen=True)
class ClassifyConfig:
    """Multi-label findings on radiographs from ``labels.parquet`` (study x finding)."""

    vocabulary: str = "chestxray14"
    findings: tuple[str, ...] = ()  # empty: every finding of the vocabulary found in the labels
    modalities: tuple[str, ...] = ("DX", "CR")
    # Uncertain labels (-1): u_ones -> 1, u_zeros -> 0, u_ignore -> masked out of the loss.
    # Per-finding overrides; a finding not listed uses the labels' own ``policy`` column, else this.
    policies: Mapping[str, str] = field(default_factory=dict)
    default_policy: str = "u_ignore"
    unmentioned: str = "negative"  # null (not mentioned): "negative" (CheXpert) or "ignore"
    # "none", "confidence" (loss weighted by max(p, 1-p) of the label model) or "soft" (target = p)
    label_weighting: str = "none"
    labels: str | None = None  # another labels table (same layout) instead of curated/labels.parquet

    def __post_init__(self) -> None:
        bad = [p for p in (*self.policies.values(), self.default_policy) if p not in POLICIES]
        if bad:
            raise ValueError(f"unknown uncertainty policy {bad[0]!r}; known: {', '.join(POLICIES)}")
        if self.unmentioned not in ("negative", "ignore"):
            raise ValueError("unmentioned must be 'negative' or 'ignore'")
        if self.label_weighting not in ("none", "confidence", "soft"):
            raise ValueError("label_weighting must be 'none', 'confidence' or 'soft'")


@dataclass(frozen=True)
class SegmentConfig:
    """Lesion masks on CT slices from ``lesions.parquet`` weak masks."""

    window: tuple[float, float] = (-1000.0, 400.0)  # HU mapped to [0, 1] (lung + soft tissue)
    negatives_per_positive: float = 1.0  # lesion-free slices of the same series per lesion slice
    threshold: float = 0.5


@dataclass(frozen=True)
class DenoiseConfig:
    """Low-dose -> full-dose CT from ``synthetic/lowdose/`` pairs."""

    window: tuple[float, float] = (-1024.0, 1024.0)  # HU mapped to [0, 1] for the network
    # PSNR/SSIM are computed in HU clipped to this window; data range = its width.
    eval_window: tuple[float, float] = (-1000.0, 1000.0)
    holdout_fraction: float = 0.34  # share of pair patients held out when val/test have no pairs
    dose_fraction: float | None = None  # train on pairs of this dose only (default: every dose written)
    # RED-CNN trains on random native-resolution patches (no resize: a resize averages the very noise
    # the network must learn) and is scored on whole native slices; ``image_size`` does not apply.
    patch_size: int = 64
    patches_per_image: int = 8  # random patches drawn from each training slice per epoch

    def __post_init__(self) -> None:
        if self.patch_size < 16 or self.patches_per_image < 1:
            raise ValueError("denoise patch_size must be >= 16 and patches_per_image >= 1")


@dataclass(frozen=True)
class TrainConfig:
    """One training run: the task, optimisation, device and the task's own settings."""

    task: str = "classify"
    epochs: int = 10
    batch_size: int = 16  # global: split evenly over DDP processes
    lr: float = 1e-3  # peak learning rate (after the warm-up)
    weight_decay: float = 1e-4  # AdamW, decoupled; biases and normalisation weights are not decayed
    schedule: str = "cosine"  # cosine (after a linear warm-up) | onecycle | constant
    warmup_epochs: float = 1.0  # linear warm-up from lr/100 (cosine; onecycle takes it as its rise)
    min_lr_ratio: float = 0.01  # the cosine ends at lr * this
    monitor: str = "auto"  # validation metric for early stopping and best.pt (auto: see MONITORS)
    patience: int = 5  # stop after this many epochs without improvement of the monitor (0: never)
    image_size: int = 224
    small: bool = False  # a narrow model of the same family, for CPU smoke runs and tests
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "auto"  # auto (bf16 on CUDA when supported, else fp16; fp32 on CPU) | fp32 | bf16 | fp16
    channels_last: bool = True
    compile: bool = False
    # Keep the whole decoded training set in GPU memory when it takes at most this share of the free
    # memory (batches are then indexed on the GPU: no host gather, pinning or copy per step); 0: never.
    data_on_device: float = 0.25
    deterministic: bool = True  # deterministic kernels (cuDNN); off trades bitwise resume for speed
    bootstrap: int = 1000  # patient resamples for the 95 % CIs
    # BatchAugment on the batch's device (classify, segment); None: the task's recipe
    # (radiographs: radiograph_recipe; CT windows: ct_recipe with air at 0).
    augment: bool = False
    augmentation: AugmentConfig | None = None
    balanced: bool = False  # classify: oversample rare findings (training rows only)
    init: str | None = None  # weights to start from: a run's checkpoint or a state dict (never downloaded)
    # MLflow: "local" (RUN/mlflow.db + RUN/mlartifacts), "none", or a tracking URI (http://, sqlite://...)
    tracking: str = "local"
    classify: ClassifyConfig = field(default_factory=ClassifyConfig)
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    denoise: DenoiseConfig = field(default_factory=DenoiseConfig)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; known: {', '.join(TASKS)}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError("device must be auto, cpu or cuda")
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise ValueError("precision must be auto, fp32, bf16 or fp16")
        if self.epochs < 1 or self.batch_size < 1 or self.image_size < 16:
            raise ValueError("epochs and batch size must be >= 1, image size >= 16")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}")
        if self.monitor not in MONITOR_CHOICES:
            raise ValueError(f"monitor must be one of {', '.join(MONITOR_CHOICES)}")
        if self.monitor not in ("auto", "val_loss", MONITORS[self.task]):
            raise ValueError(f"{self.task} can monitor val_loss or {MONITORS[self.task]}, not {self.monitor}")
        if self.lr <= 0 or self.weight_decay < 0 or self.warmup_epochs < 0 or not 0 <= self.min_lr_ratio <= 1:
            raise ValueError("lr must be > 0, weight_decay and warmup_epochs >= 0, min_lr_ratio in [0, 1]")
        if self.patience < 0:
            raise ValueError("patience must be >= 0 (0: no early stopping)")
        if self.augment and self.task == "denoise":
            raise ValueError("--augment is for classify and segment: augmenting a low-dose/full-dose pair "
                             "would change the noise the denoiser must learn to remove")
        if self.balanced and self.task != "classify":
            raise ValueError("--balanced oversamples rare findings: classify only")
        if isinstance(self.augmentation, Mapping):
            object.__setattr__(self, "augmentation", AugmentConfig.from_mapping(self.augmentation))

    @property
    def monitor_metric(self) -> str:
        """The validation metric followed (``auto`` resolved for the task)."""
        return MONITORS[self.task] if self.monitor == "auto" else self.monitor

    def augment_recipe(self) -> AugmentConfig:
        """The augmentation applied with ``augment``: the configured one, else the task's recipe."""
        if self.augmentation is not None:
            return self.augmentation
        if self.task == "classify":
            return radiograph_recipe()
        return dataclasses.replace(ct_recipe(), fill=0.0)  # CT windowed to [0, 1]: air is 0

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def training_hash(self) -> str:
        """Hash of everything that changes the weights except ``epochs`` (a run may be extended)."""
        d = self.to_dict()
        for k in ("epochs", "device", "bootstrap", "data_on_device", "tracking", "patience"):
            d.pop(k)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def config_from_dict(d: Mapping[str, Any]) -> TrainConfig:
    """A :class:`TrainConfig` from its ``to_dict`` form (lists back to tuples; unknown keys refused)."""
    subs = {"classify": ClassifyConfig, "segment": SegmentConfig, "denoise": DenoiseConfig}
    kwargs: dict[str, Any] = {}
    for k, v in d.items():
        if k == "augmentation" and isinstance(v, Mapping):
            kwargs[k] = _build(AugmentConfig, v)
        elif k in subs:
            kwargs[k] = _build(subs[k], v)
        else:
            kwargs[k] = v
    return _build(TrainConfig, kwargs)


def _build(cls, d: Mapping[str, Any]):
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(d) - set(names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} setting(s): {', '.join(sorted(unknown))}")
    out = {}
    for k, v in d.items():
        if isinstance(v, list):
            v = tuple(v)
        out[k] = v
    return cls(**out)
