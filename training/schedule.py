"""Optimiser, learning-rate schedule and early stopping of a training run.

- AdamW with decoupled weight decay on the weights of convolutions and linear layers only: decaying
  biases and normalisation scales pulls them towards zero for no regularising benefit (the usual
  practice since "Bag of Tricks", He et al. 2019).
- The schedule is a function of the optimiser step, so a resumed run continues on the same curve:
  ``cosine`` rises linearly from lr/100 over the warm-up, then follows a half cosine down to
  ``lr * min_lr_ratio`` at the last step; ``onecycle`` is PyTorch's ``OneCycleLR`` (its rise is the
  warm-up); ``constant`` keeps ``lr``.
- :class:`EarlyStopping` follows one validation metric (higher is better except for a loss) and
  says when it improved (save ``best.pt``) and when it has not for ``patience`` epochs (stop).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from .config import TrainConfig


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two AdamW groups: weights of conv/linear layers decayed, biases and norm parameters not."""
    decay, plain = [], []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            is_norm = isinstance(module, (torch.nn.modules.batchnorm._NormBase, torch.nn.GroupNorm,
                                          torch.nn.LayerNorm))
            (plain if name == "bias" or is_norm or p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(param_groups(model, config.weight_decay), lr=config.lr)


def make_scheduler(opt: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int):
    """The per-step learning-rate scheduler of ``config.schedule`` over ``config.epochs`` epochs."""
    total = max(1, config.epochs * steps_per_epoch)
    warm = min(total - 1, int(round(config.warmup_epochs * steps_per_epoch)))
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=total,
                                                   pct_start=max(warm, 1) / total, anneal_strategy="cos",
                                                   cycle_momentum=False)
    if config.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    floor = config.min_lr_ratio

    def factor(step: int) -> float:
        if step < warm:
            return 0.01 + 0.99 * step / warm
        t = min(1.0, (step - warm) / max(1, total - warm - 1))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


@dataclass
class EarlyStopping:
    """Best value of the monitored metric so far and the epochs since it improved."""

    metric: str
    patience: int
    best: float | None = None
    best_epoch: int = 0
    bad_epochs: int = 0

    @property
    def higher_is_better(self) -> bool:
        return not self.metric.endswith("loss")

    def update(self, epoch: int, value: float) -> bool:
        """Record ``value`` of ``epoch``; True when it is the best so far (NaN never is)."""
        if value is None or not math.isfinite(value):
            self.bad_epochs += 1
            return False
        better = self.best is None or (value > self.best if self.higher_is_better else value < self.best)
        if better:
            self.best, self.best_epoch, self.bad_epochs = float(value), int(epoch), 0
        else:
            self.bad_epochs += 1
        return better

    @property
    def stop(self) -> bool:
        return self.patience > 0 and self.bad_epochs >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "patience": self.patience, "best": self.best,
                "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.bad_epochs = d["best"], int(d["best_epoch"]), int(d["bad_epochs"])
