"""Losses of the three tasks, written as sum + count so DDP can average them exactly.

Each loss returns ``(sum, count)``: the trainer divides the sum by the count of the whole global
batch (all-reduced over processes), so two processes with half a batch each compute the same
gradient as one process with the whole batch — also when u_ignore masks some labels out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def masked_bce(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
               weight: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Binary cross-entropy per finding where ``mask`` is 1 (u_ignore and unknowns are 0).

    A masked label contributes nothing to the loss nor to its gradient; ``weight`` scales each
    label (label-model confidence).
    """
    per = F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none")
    w = mask.float() if weight is None else mask.float() * weight.float()
    return (per * w).sum(), mask.float().sum()


def dice_ce(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """MONAI's soft Dice loss + binary cross-entropy, per image (sum over the batch, count = images)."""
    from monai.losses import DiceLoss

    dice = DiceLoss(sigmoid=True, reduction="none", smooth_nr=1e-5, smooth_dr=1e-5)(logits.float(), target.float())
    bce = F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none")
    per = dice.reshape(dice.shape[0], -1).mean(dim=1) + bce.reshape(bce.shape[0], -1).mean(dim=1)
    return per.sum(), torch.tensor(float(logits.shape[0]), device=logits.device)


def mse(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    per = (pred.float() - target.float()).pow(2)
    return per.sum(), torch.tensor(float(per.numel()), device=pred.device)
