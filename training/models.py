"""The three baseline networks: MONAI's DenseNet-121 and U-Net, and a RED-CNN denoiser.

MONAI has no RED-CNN (Chen et al., IEEE TMI 2017: residual encoder-decoder CNN for low-dose CT),
so it is written here in plain torch: five 5x5 convolutions without padding, five transposed
convolutions back, shortcut additions every other layer and from the input, ReLU throughout.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import TrainConfig


class REDCNN(nn.Module):
    """Residual encoder-decoder CNN: output = input + learned correction (same size as input)."""

    def __init__(self, channels: int = 96, kernel: int = 5) -> None:
        super().__init__()
        c, k = channels, kernel
        self.enc = nn.ModuleList([nn.Conv2d(1, c, k)] + [nn.Conv2d(c, c, k) for _ in range(4)])
        self.dec = nn.ModuleList([nn.ConvTranspose2d(c, c, k) for _ in range(4)] + [nn.ConvTranspose2d(c, 1, k)])
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r1 = x
        h = self.relu(self.enc[0](x))
        h = self.relu(self.enc[1](h))
        r2 = h
        h = self.relu(self.enc[2](h))
        h = self.relu(self.enc[3](h))
        r3 = h
        h = self.relu(self.enc[4](h))
        h = self.dec[0](h) + r3
        h = self.dec[1](self.relu(h))
        h = self.dec[2](self.relu(h)) + r2
        h = self.dec[3](self.relu(h))
        h = self.dec[4](self.relu(h)) + r1
        return self.relu(h)


def build_model(config: TrainConfig, out_channels: int = 1) -> nn.Module:
    """The task's network; ``small`` gives a narrow one of the same family for CPU runs."""
    from monai.networks.nets import DenseNet, DenseNet121, UNet

    if config.task == "classify":
        if config.small:
            return DenseNet(spatial_dims=2, in_channels=1, out_channels=out_channels, init_features=16,
                            growth_rate=8, block_config=(2, 2, 2))
        return DenseNet121(spatial_dims=2, in_channels=1, out_channels=out_channels)
    if config.task == "segment":
        channels = (8, 16, 32) if config.small else (32, 64, 128, 256, 512)
        return UNet(spatial_dims=2, in_channels=1, out_channels=1, channels=channels,
                    strides=(2,) * (len(channels) - 1), num_res_units=2)
    return REDCNN(channels=16 if config.small else 96)


def load_init(model: nn.Module, path: str) -> dict:
    """Start ``model`` from weights on disk: a run folder (its ``checkpoints/best.pt``), a
    ``best.pt``/``last.pt`` checkpoint, or a plain state dict (``torch.save(model.state_dict())``).

    Nothing is downloaded: the file must be here (e.g. a classifier trained on another site's curated
    data). Tensors whose name and shape match are loaded; the others (typically a classification
    head with another number of findings) keep their fresh initialisation and are listed. Loaded with
    ``weights_only=True``: a file that needs arbitrary unpickling is refused.
    """
    import hashlib
    from pathlib import Path

    p = Path(path)
    if p.is_dir():
        p = p / "checkpoints" / "best.pt"
    if not p.is_file():
        raise FileNotFoundError(f"--init {path}: no such checkpoint or state dict (nothing is downloaded)")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"--init {p}: not a plain checkpoint or state dict ({type(exc).__name__}); "
                         "pass a run's checkpoints/best.pt or torch.save(model.state_dict(), PATH)") from None
    state = obj.get("model", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"--init {p}: holds no state dict of tensors")
    state = {k.removeprefix("module.").removeprefix("_orig_mod."): v for k, v in state.items()}
    own = model.state_dict()
    loaded = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not loaded:
        raise ValueError(f"--init {p}: no tensor matches this network (is it the same task and --small setting?)")
    model.load_state_dict(loaded, strict=False)
    skipped = sorted(set(own) - set(loaded))
    return {"path": str(p.resolve()), "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
            "loaded": len(loaded), "kept_fresh": skipped, "unused": sorted(set(state) - set(loaded))}
