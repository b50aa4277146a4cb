"""Every global random stream of a process, captured and restored as one (checkpoints that resume).

torch's CPU generator (dropout, ``torch.rand`` without a generator), CUDA's per device, numpy's
legacy global state and Python's ``random``: a resumed training restores all of them so it draws
what an uninterrupted run would have. Shared by the trainer and the GAN (two stages, one rule).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np


def capture() -> dict[str, Any]:
    import torch

    st = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def restore(st: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(st["torch"])
    np.random.set_state(st["numpy"])
    random.setstate(st["python"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])
