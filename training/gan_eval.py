"""The small patch classifier of the GAN evaluation, and the Fréchet distance on its features.

One network for every arm of the Frid-Adar protocol (real / real + classic augmentation / real +
augmentation + GAN samples) so only the training data differ. Classic augmentation is
:class:`radcurate.training.augment.BatchAugment` (CT recipe, whole batches). The Fréchet distance
uses this classifier's penultimate layer: an in-domain feature space (no ImageNet Inception weights
can be downloaded here), so it is comparable between runs of this benchmark, not with published FIDs.
torch, numpy and MONAI only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


class PatchNet(torch.nn.Module):
    """Three conv blocks -> 64 features -> K logits."""

    def __init__(self, n_classes: int, width: int = 16):
        super().__init__()
        c = width
        layers, cin = [], 1
        for cout in (c, 2 * c, 4 * c):
            layers += [torch.nn.Conv2d(cin, cout, 3, padding=1), torch.nn.BatchNorm2d(cout), torch.nn.ReLU(),
                       torch.nn.MaxPool2d(2)]
            cin = cout
        self.body = torch.nn.Sequential(*layers, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                        torch.nn.Linear(cin, 64), torch.nn.ReLU())
        self.head = torch.nn.Linear(64, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@dataclass(frozen=True)
class ClassifierConfig:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    augment: bool = False
    min_steps: int = 150  # small data sets still get this many optimiser steps


def train_classifier(x: np.ndarray, y: np.ndarray, n_classes: int, config: ClassifierConfig = ClassifierConfig(),
                     weights: np.ndarray | None = None) -> PatchNet:
    """Fit :class:`PatchNet` on patches (N, H, W) in [-1, 1]; class-balanced sampling."""
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    model = PatchNet(n_classes)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    xt = torch.from_numpy(x[:, None].astype(np.float32))
    yt = torch.from_numpy(np.array(y, np.int64))
    counts = np.bincount(y, minlength=n_classes).astype(float)
    w = 1.0 / counts[y] if weights is None else weights
    w = torch.as_tensor(w / w.sum(), dtype=torch.float64)
    aug = None
    if config.augment:
        from .augment import AugmentConfig, BatchAugment

        # the CT recipe in [-1, 1] units: air (-1) fills what moves in from outside; mild elastic
        aug = BatchAugment(AugmentConfig(rotate_deg=15.0, scale=(0.9, 1.1), translate=0.06, crop=(0.85, 1.0),
                                         elastic_prob=0.3, elastic_spacing=8, elastic_magnitude=1.0,
                                         contrast=0.05, brightness=0.03, noise=0.03, fill=-1.0), generator=gen)
    steps = max(config.min_steps, config.epochs * int(np.ceil(len(x) / config.batch_size)))
    model.train()
    for _ in range(steps):
        idx = torch.multinomial(w, config.batch_size, replacement=True, generator=gen)
        xb, yb = xt[idx], yt[idx]
        if aug is not None:
            xb = aug(xb)
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    return model


@torch.no_grad()
def predict(model: PatchNet, x: np.ndarray) -> np.ndarray:
    """Class probabilities (N, K)."""
    return torch.softmax(model(torch.from_numpy(x[:, None].astype(np.float32))), 1).numpy()


@torch.no_grad()
def features(model: PatchNet, x: np.ndarray) -> np.ndarray:
    return model.features(torch.from_numpy(x[:, None].astype(np.float32))).numpy().astype(np.float64)


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (the FID formula)."""
    from scipy import linalg

    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean, _ = linalg.sqrtm(s1 @ s2, disp=False)
    covmean = np.real(covmean)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))
