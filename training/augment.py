"""Label-preserving augmentation for radiographs and CT, batched on the device, and class-balanced
oversampling of rare findings (training split only).

:class:`BatchAugment` is the loader's ``transform`` hook (``make_loader(..., transform=BatchAugment())``):
a callable on a batch tensor (B, C, H, W), or on the loader's batch dict (its ``image``, and ``mask``
when present), already on the device (GPU when present). Each image gets its own random crop, translation,
rotation, scale, flips (only where the anatomy allows: none by default, a left-right flip turns a
normal heart into dextrocardia), elastic deformation, contrast/brightness and noise; the whole
spatial part is one displacement field resampled once by MONAI's ``Warp``. Per-image MONAI
``RandAffine`` costs ~40 ms on one CPU core for a 224² image, which is why the loader augments
whole batches on the device; :func:`per_image_transform` is the same recipe (parameters drawn from
the same distributions) as a MONAI ``Compose`` for per-sample use and for the benchmark's comparison.

Intensity changes are relative to each image's own mean and standard deviation, so the same
recipe works on HU, raw detector values or normalised tensors. Imports torch, numpy, pandas and
MONAI only: ``radcurate.training`` imports it on a GPU machine without DICOM or NLP libraries.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from radcurate.settings import dataclass_from


@dataclass(frozen=True)
class AugmentConfig:
    """One augmentation recipe. Angles in degrees; translations as fractions of the side."""

    rotate_deg: float = 10.0
    scale: tuple[float, float] = (0.9, 1.1)
    translate: float = 0.06
    crop: tuple[float, float] = (0.85, 1.0)  # fraction of the side kept by a random crop (then resized back)
    flip_lr: bool = False
    flip_ud: bool = False
    elastic_prob: float = 0.3
    elastic_spacing: int = 32  # pixels between control points of the random displacement
    elastic_magnitude: float = 2.0  # pixels (standard deviation of the control-point displacements)
    contrast: float = 0.1  # x' = mean + (1 +- contrast) (x - mean)
    brightness: float = 0.05  # shift, in standard deviations of the image
    noise: float = 0.03  # Gaussian noise SD up to this many image standard deviations
    fill: float | None = None  # value outside the image after moving it (None: the image's minimum)

    @classmethod
    def from_mapping(cls, section: Mapping[str, Any]) -> "AugmentConfig":
        return dataclass_from(cls, section, "augmentation")


def radiograph_recipe() -> AugmentConfig:
    """Frontal chest radiographs: small rotations and zooms, no flips (the heart's side is a finding)."""
    return AugmentConfig()


def ct_recipe() -> AugmentConfig:
    """Axial CT slices: rotations up to 15 degrees, no flips, mild elastic, HU kept nearly as is."""
    return AugmentConfig(rotate_deg=15.0, contrast=0.03, brightness=0.02, noise=0.02, fill=-1000.0)


class BatchAugment:
    """Random label-preserving augmentation of a batch on its own device.

    ``augment(images)`` -> images; ``augment(images, masks)`` -> (images, masks), masks moved by
    the same spatial transform (nearest neighbour). ``generator``: a ``torch.Generator`` on the
    batch's device for reproducible draws (optional).
    """

    def __init__(self, config: AugmentConfig = AugmentConfig(), generator: torch.Generator | None = None):
        self.config = config
        self.generator = generator

    def _uniform(self, n: int, lo: float, hi: float, device) -> torch.Tensor:
        u = torch.rand(n, generator=self.generator, device=device) if self.generator is not None \
            else torch.rand(n, device=device)
        return lo + (hi - lo) * u

    def _normal(self, shape, device) -> torch.Tensor:
        return torch.randn(shape, generator=self.generator, device=device) if self.generator is not None \
            else torch.randn(shape, device=device)

    def sampling_grid(self, b: int, h: int, w: int, device) -> torch.Tensor:
        """Per-image sampling grids (B, H, W, 2), ``grid_sample``'s normalised (x, y): a random
        crop + zoom + rotation + translation (+ flips) as one affine, plus an elastic field."""
        c = self.config
        theta = self._uniform(b, -c.rotate_deg, c.rotate_deg, device) * (math.pi / 180)
        crop = self._uniform(b, c.crop[0], c.crop[1], device)
        zoom = self._uniform(b, c.scale[0], c.scale[1], device) / crop
        # the crop window lies anywhere inside the image; the translation comes on top (fractions)
        ty = self._uniform(b, -1, 1, device) * (1 - crop) / 2 + self._uniform(b, -c.translate, c.translate, device)
        tx = self._uniform(b, -1, 1, device) * (1 - crop) / 2 + self._uniform(b, -c.translate, c.translate, device)
        fy = torch.where(self._uniform(b, 0, 1, device) < 0.5, -1.0, 1.0) if c.flip_ud else torch.ones(b, device=device)
        fx = torch.where(self._uniform(b, 0, 1, device) < 0.5, -1.0, 1.0) if c.flip_lr else torch.ones(b, device=device)
        cos, sin = torch.cos(theta) / zoom, torch.sin(theta) / zoom
        aspect = (h - 1) / max(w - 1, 1)
        mat = torch.stack([
            torch.stack([cos * fx, -sin * fy * aspect, 2 * tx * w / max(w - 1, 1)], dim=1),
            torch.stack([sin * fx / aspect, cos * fy, 2 * ty * h / max(h - 1, 1)], dim=1),
        ], dim=1)  # (B, 2, 3): source (x, y) from output (x, y, 1), pixel-isotropic rotation
        grid = torch.nn.functional.affine_grid(mat, [b, 1, h, w], align_corners=True)
        if c.elastic_prob > 0 and c.elastic_magnitude > 0:
            gh, gw = max(2, h // c.elastic_spacing + 1), max(2, w // c.elastic_spacing + 1)
            coarse = self._normal((b, 2, gh, gw), device) * c.elastic_magnitude  # pixels (x, y)
            coarse = coarse * torch.tensor([2 / max(w - 1, 1), 2 / max(h - 1, 1)], device=device)[None, :, None, None]
            on = (self._uniform(b, 0, 1, device) < c.elastic_prob).float()[:, None, None, None]
            fine = torch.nn.functional.interpolate(coarse * on, size=(h, w), mode="bicubic", align_corners=True)
            grid = grid + fine.permute(0, 2, 3, 1)
        return grid

    def __call__(self, images, masks: torch.Tensor | None = None):
        if isinstance(images, Mapping):  # the loader's batch: {"image": (B, C, H, W), ...[, "mask"]}
            batch = dict(images)
            if "mask" in batch:
                batch["image"], batch["mask"] = self(batch["image"], batch["mask"])
            else:
                batch["image"] = self(batch["image"])
            return batch
        if images.ndim != 4:
            raise ValueError("BatchAugment expects a batch (B, C, H, W)")
        x = images.float()
        b, _, h, w = x.shape
        device = x.device
        c = self.config
        grid = self.sampling_grid(b, h, w, device)
        fill = x.amin(dim=(1, 2, 3), keepdim=True) if c.fill is None else torch.full((b, 1, 1, 1), c.fill, device=device)
        # outside the moved image: the fill value (zeros padding around x - fill)
        out = torch.nn.functional.grid_sample(x - fill, grid, mode="bilinear", padding_mode="zeros",
                                              align_corners=True) + fill
        sd, mean = torch.std_mean(out, dim=(1, 2, 3), keepdim=True)
        sd = sd.clamp_min(1e-6)
        gain = 1 + self._uniform(b, -c.contrast, c.contrast, device)[:, None, None, None]
        shift = self._uniform(b, -c.brightness, c.brightness, device)[:, None, None, None] * sd
        out = mean + gain * (out - mean) + shift
        if c.noise > 0:
            sigma = self._uniform(b, 0, c.noise, device)[:, None, None, None] * sd
            out = out + sigma * self._normal(out.shape, device)
        out = out.to(images.dtype) if images.is_floating_point() else out
        if masks is None:
            return out
        moved = torch.nn.functional.grid_sample(masks.float(), grid, mode="nearest", padding_mode="zeros",
                                                align_corners=True)
        return out, moved.to(masks.dtype)


def per_image_transform(config: AugmentConfig = AugmentConfig(), seed: int | None = None):
    """The same recipe as a MONAI ``Compose`` for one (C, H, W) image at a time (DataLoader workers; the
    benchmark's per-image baseline): every parameter is drawn from the distribution
    :class:`BatchAugment` draws it from, and applied by MONAI's own transforms.

    - spatial: crop + zoom + rotation + translation (+ flips) as one MONAI ``Affine`` whose parameters
      follow BatchAugment's formulas (a random crop window anywhere in the image, then the
      translation on top, in fractions of the side), outside filled with the image minimum (or
      ``fill``); then MONAI's ``Rand2DElastic`` with the same control-point spacing and displacement SD;
    - intensity, relative to the moved image's mean and SD as in BatchAugment: MONAI's
      ``RandScaleIntensity`` (gain around the mean), ``RandShiftIntensity`` (shift in SDs) and
      ``RandGaussianNoise`` (SD uniform up to ``noise`` SDs) applied to the z-scored image.

    The one difference left: the elastic field is a second resampling (BatchAugment resamples once),
    a slight extra smoothing; tests/test_synthesis_augment.py compares the output statistics.
    """
    from monai.transforms import Compose, Rand2DElastic, RandFlip

    c = config
    rand_affine, relative_intensity = _monai_steps()
    steps: list[Any] = [rand_affine(c)]
    if c.elastic_prob > 0 and c.elastic_magnitude > 0:
        steps.append(Rand2DElastic(spacing=c.elastic_spacing, magnitude_range=(c.elastic_magnitude, c.elastic_magnitude),
                                   prob=c.elastic_prob, padding_mode="border"))
    if c.flip_lr:
        steps.append(RandFlip(prob=0.5, spatial_axis=1))
    if c.flip_ud:
        steps.append(RandFlip(prob=0.5, spatial_axis=0))
    steps.append(relative_intensity(c))
    t = Compose(steps)
    if seed is not None:
        t.set_random_state(seed)
    return t


@functools.lru_cache(maxsize=None)
def _monai_steps():
    """The two custom MONAI transforms, defined on first use: importing ``monai.transforms`` pulls in
    pydicom where it is installed, and this module must import without it."""
    from monai.transforms import Affine, RandGaussianNoise, RandomizableTransform, RandScaleIntensity, RandShiftIntensity

    class RandRecipeAffine(RandomizableTransform):
        """BatchAugment's crop/zoom/rotation/translation draw, applied with MONAI's ``Affine``."""

        def __init__(self, config: AugmentConfig):
            super().__init__(prob=1.0)
            self.c = config

        def randomize(self, data=None) -> None:
            c, u = self.c, self.R.uniform
            self.theta = math.radians(u(-c.rotate_deg, c.rotate_deg))
            crop = u(c.crop[0], c.crop[1])
            self.zoom = u(c.scale[0], c.scale[1]) / crop
            self.ty = u(-1, 1) * (1 - crop) / 2 + u(-c.translate, c.translate)
            self.tx = u(-1, 1) * (1 - crop) / 2 + u(-c.translate, c.translate)

        def __call__(self, img):
            self.randomize()
            x = torch.as_tensor(img, dtype=torch.float32)
            h, w = x.shape[-2:]
            fill = float(x.min()) if self.c.fill is None else float(self.c.fill)
            aff = Affine(rotate_params=self.theta, scale_params=(1 / self.zoom, 1 / self.zoom),
                         translate_params=(self.ty * h, self.tx * w), padding_mode="zeros", image_only=True)
            return torch.as_tensor(aff(x - fill)) + fill

    class RelativeIntensity(RandomizableTransform):
        """MONAI's scale / shift / noise transforms in units of the image's own mean and SD."""

        def __init__(self, config: AugmentConfig):
            super().__init__(prob=1.0)
            c = config
            self.steps = [RandScaleIntensity(factors=c.contrast, prob=1.0),
                          RandShiftIntensity(offsets=c.brightness, prob=1.0)]
            if c.noise > 0:
                self.steps.append(RandGaussianNoise(prob=1.0, mean=0.0, std=c.noise, sample_std=True))

        def set_random_state(self, seed=None, state=None):
            super().set_random_state(seed, state)
            for t in self.steps:
                t.set_random_state(state=np.random.RandomState(self.R.randint(2**31 - 1)))
            return self

        def __call__(self, img):
            x = torch.as_tensor(img, dtype=torch.float32)
            sd, mean = torch.std_mean(x)
            sd = sd.clamp_min(1e-6)
            z = (x - mean) / sd
            for t in self.steps:
                z = torch.as_tensor(t(z))
            return z * sd + mean

    return RandRecipeAffine, RelativeIntensity


def oversampling_weights(samples: pd.DataFrame, findings: Sequence[str], split_column: str = "split",
                         max_ratio: float = 20.0) -> np.ndarray:
    """Sampling weights that balance rare findings, for ``torch.utils.data.WeightedRandomSampler``.

    ``samples``: one row per training sample with a 0/1 (or NaN) column per finding and the
    ``split`` column; every row must be in the training split (oversampling val or test would
    bias evaluation). A sample's weight is the largest inverse frequency among its positive
    findings (samples with none count as one class), capped at ``max_ratio`` times the smallest,
    and normalised to sum to 1.
    """
    if samples.empty:
        raise ValueError("no samples to weight")
    if split_column not in samples.columns or (samples[split_column] != "train").any():
        raise ValueError("oversampling applies to the training split only: pass training rows with a 'split' column")
    missing = [f for f in findings if f not in samples.columns]
    if missing:
        raise ValueError(f"finding column(s) missing: {', '.join(missing)}")
    pos = samples[list(findings)].fillna(0).to_numpy(dtype=float) > 0.5
    freq = pos.sum(axis=0)
    none = ~pos.any(axis=1)
    inv = np.where(freq > 0, 1.0 / np.maximum(freq, 1), 0.0)
    w = np.where(pos, inv[None, :], 0.0).max(axis=1)
    w[none] = 1.0 / max(int(none.sum()), 1)
    w = np.minimum(w, w[w > 0].min() * max_ratio)
    return w / w.sum()


def balanced_sampler(samples: pd.DataFrame, findings: Sequence[str], num_samples: int | None = None,
                     generator: torch.Generator | None = None, **kwargs) -> torch.utils.data.WeightedRandomSampler:
    """A ``WeightedRandomSampler`` over training rows drawing rare findings as often as common ones."""
    w = oversampling_weights(samples, findings, **kwargs)
    return torch.utils.data.WeightedRandomSampler(torch.as_tensor(w, dtype=torch.double),
                                                  num_samples=num_samples or len(w), replacement=True,
                                                  generator=generator)
