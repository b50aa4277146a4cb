"""A class-conditional GAN (ACGAN) of CT lesion patches, trained on the training split only.

The generator maps [noise, one-hot class] to a patch (DCGAN: transposed convolutions, tanh); the
discriminator has ``1 + K`` outputs: output 0 is real/fake, outputs 1..K the auxiliary class
(Odena et al.'s ACGAN, whose class loss on generated samples is what makes the conditioning hold
early in training). Fixed seeds;
a checkpoint every ``checkpoint_every`` steps and at the end; a rerun with the same data and settings
resumes from it. On CUDA the steps run under bf16 autocast with channels-last tensors.

:func:`run_gan` is ``radcurate synthesize gan``: patches of training-split patients
(:mod:`.gan_patches`), train or resume, sample ``samples_per_class`` per class with one seed per
sample, and write ``curated/synthetic/gan/`` with provenance (generator checkpoint SHA-256, class,
seed). A GAN sample is a new image with its own ``instance_key`` (= its ``synthetic_key``); it has no
single parent image, so ``parent_instance_key`` (and the series, study and patient keys) name the
nearest training patch (L2 in patch space), whose distance is stored too: memorisation can be read
off the table. A resumed training restores the batch generator and every global random stream
(dropout), so it reaches the weights of an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
import torch.nn.functional as F

from radcurate import random_state
from radcurate.settings import dataclass_from

from .gan_patches import CLASSES, PatchConfig, extract_patches, to_hu

GENERATOR = "radcurate.acgan/1"


@dataclass(frozen=True)
class GanConfig:
    """Training and sampling settings (patch settings in ``patches``)."""

    latent: int = 64
    g_channels: tuple[int, ...] = (64, 32, 16)  # generator widths from the 4x4 start
    d_channels: tuple[int, ...] = (16, 32, 64)
    steps: int = 2000
    batch_size: int = 64
    lr: float = 2e-4
    class_weight: float = 1.0  # weight of the auxiliary class loss
    checkpoint_every: int = 500
    samples_per_class: int = 64
    seed: int = 0
    device: str = "auto"
    patches: PatchConfig = field(default_factory=PatchConfig)

    @classmethod
    def from_mapping(cls, section: Mapping[str, Any]) -> "GanConfig":
        section = dict(section)
        if isinstance(section.get("patches"), Mapping):
            section["patches"] = dataclass_from(PatchConfig, section["patches"], "gan patch")
        cfg = dataclass_from(cls, section, "gan")
        if cfg.steps < 1 or cfg.batch_size < 2 or cfg.samples_per_class < 0:
            raise ValueError("gan needs steps >= 1, batch_size >= 2, samples_per_class >= 0")
        return cfg

    def to_dict(self) -> dict:
        return asdict(self)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class ACGAN(torch.nn.Module):
    """DCGAN-style generator and two-headed discriminator for ``size``² single-channel patches.

    Written here rather than with ``monai.networks.nets.Generator``/``Classifier``: with their
    residual units those produced checkerboard noise after the few hundred CPU steps this must
    train in, where the plain DCGAN recipe (transposed convolutions, batch norm, LeakyReLU) gives
    recognisable patches. MONAI stays in the evaluation's augmentation.
    """

    def __init__(self, size: int, n_classes: int, config: GanConfig):
        super().__init__()
        nn = torch.nn
        self.n_classes, self.latent = n_classes, config.latent
        g = list(config.g_channels)  # widths from the 4x4 start up to the last hidden layer
        ups = int(np.log2(size // 4))
        if 4 * 2 ** ups != size:
            raise ValueError("patch size must be 4 x a power of two (e.g. 32, 64)")
        widths = [g[min(i, len(g) - 1)] for i in range(ups)]
        self.project = nn.Sequential(nn.Linear(config.latent + n_classes, widths[0] * 16), nn.BatchNorm1d(widths[0] * 16),
                                     nn.ReLU())
        layers = []
        for i in range(ups):
            last = i == ups - 1
            cout = 1 if last else widths[i + 1]
            layers.append(nn.ConvTranspose2d(widths[i], cout, 4, 2, 1))
            if not last:
                layers += [nn.BatchNorm2d(cout), nn.ReLU()]
        self.generator = nn.Sequential(*layers)
        self._start = widths[0]
        d = list(config.d_channels)
        dl, cin = [], 1
        for i in range(ups):
            cout = d[min(i, len(d) - 1)]
            dl += [nn.Conv2d(cin, cout, 4, 2, 1), nn.LeakyReLU(0.2), nn.Dropout2d(0.25)]
            cin = cout
        self.discriminator = nn.Sequential(*dl, nn.Flatten(), nn.Linear(cin * 16, 1 + n_classes))

    def generate(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        onehot = F.one_hot(labels, self.n_classes).to(z.dtype)
        h = self.project(torch.cat([z, onehot], 1)).view(len(z), self._start, 4, 4)
        return torch.tanh(self.generator(h))

    def discriminate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.discriminator(x)
        return out[:, 0], out[:, 1:]


def data_hash(x: np.ndarray, y: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x).tobytes())
    h.update(np.ascontiguousarray(y).astype(np.int64).tobytes())
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def train_gan(x: np.ndarray, y: np.ndarray, config: GanConfig, checkpoint: Path | None = None,
              n_classes: int = len(CLASSES)) -> tuple[ACGAN, dict[str, Any]]:
    """Train (or resume from ``checkpoint`` when it was made from the same data and settings)."""
    device = resolve_device(config.device)
    cuda = device.type == "cuda"
    torch.manual_seed(config.seed)
    model = ACGAN(x.shape[-1], n_classes, config).to(device)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    g_params = list(model.project.parameters()) + list(model.generator.parameters())
    opt_g = torch.optim.Adam(g_params, lr=2 * config.lr, betas=(0.5, 0.999))  # the generator is the slower learner here
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=config.lr, betas=(0.5, 0.999))
    # what the weights depend on: the data and the settings, not how long to train or how many samples to draw
    same = {k: v for k, v in config.to_dict().items() if k not in ("steps", "samples_per_class", "device", "checkpoint_every")}
    fingerprint = {"data": data_hash(x, y), "config": json.dumps(same, sort_keys=True, default=list)}
    gen = torch.Generator().manual_seed(config.seed)
    step, resumed = 0, 0
    if checkpoint is not None and Path(checkpoint).exists():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        if state.get("fingerprint") == fingerprint:
            model.load_state_dict(state["model"])
            opt_g.load_state_dict(state["opt_g"])
            opt_d.load_state_dict(state["opt_d"])
            gen.set_state(state["rng"])
            random_state.restore(state["global_rng"])  # dropout draws from the global streams
            step = resumed = int(state["step"])
    xt = torch.from_numpy(x[:, None]).to(device)
    yt = torch.from_numpy(np.array(y, np.int64)).to(device)
    counts = np.bincount(y, minlength=n_classes).astype(float)
    present = torch.from_numpy(np.flatnonzero(counts > 0))  # generate only classes that have real patches
    bce = torch.nn.BCEWithLogitsLoss()
    started = time.perf_counter()
    model.train()
    last: dict[str, float] = {}

    def save(step_now: int) -> None:
        if checkpoint is None:
            return
        Path(checkpoint).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(checkpoint).with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                    "rng": gen.get_state(), "global_rng": random_state.capture(), "step": step_now, "fingerprint": fingerprint,
                    "classes": list(CLASSES)[:n_classes], "size": int(x.shape[-1])}, tmp)
        os.replace(tmp, checkpoint)

    while step < config.steps:
        idx = torch.randint(0, len(x), (config.batch_size,), generator=gen).to(device)
        real, labels = xt[idx], yt[idx]
        z = torch.randn(config.batch_size, config.latent, generator=gen).to(device)
        fake_labels = present[torch.randint(0, len(present), (config.batch_size,), generator=gen)].to(device)
        if cuda:
            real = real.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            fake = model.generate(z, fake_labels)
            src_r, cls_r = model.discriminate(real)
            src_f, _ = model.discriminate(fake.detach())
            d_loss = (bce(src_r.float(), torch.full_like(src_r.float(), 0.9)) + bce(src_f.float(), torch.zeros_like(src_f.float()))
                      + config.class_weight * F.cross_entropy(cls_r.float(), labels))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            src_g, cls_g = model.discriminate(fake)
            g_loss = bce(src_g.float(), torch.ones_like(src_g.float())) + config.class_weight * F.cross_entropy(cls_g.float(), fake_labels)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        step += 1
        last = {"d_loss": float(d_loss.detach()), "g_loss": float(g_loss.detach())}
        if step % config.checkpoint_every == 0 or step == config.steps:
            save(step)
    seconds = time.perf_counter() - started
    trained = step - resumed
    model.eval()
    return model, {"steps": step, "resumed_from": resumed, "seconds": round(seconds, 2),
                   "images_per_s": round(trained * config.batch_size / seconds, 1) if trained and seconds > 0 else None,
                   "device": str(device), **last}


@torch.no_grad()
def sample(model: ACGAN, labels: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """One patch per (class, seed): the noise vector comes from the sample's own seed."""
    device = next(model.parameters()).device
    z = torch.stack([torch.randn(model.latent, generator=torch.Generator().manual_seed(int(s))) for s in seeds])
    out = []
    for start in range(0, len(seeds), 256):
        lab = torch.from_numpy(np.asarray(labels[start:start + 256], np.int64)).to(device)
        out.append(model.generate(z[start:start + 256].to(device), lab).float().cpu())
    return torch.cat(out)[:, 0].numpy() if out else np.zeros((0, 1, 1), np.float32)


def nearest(a: np.ndarray, b: np.ndarray, exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Index into ``b`` and RMS distance (in [-1, 1] units) of each ``a`` patch's nearest neighbour."""
    fa = torch.from_numpy(a.reshape(len(a), -1).astype(np.float32))
    fb = torch.from_numpy(b.reshape(len(b), -1).astype(np.float32))
    d = torch.cdist(fa, fb)
    if exclude_self:
        d.fill_diagonal_(float("inf"))
    v, i = d.min(1)
    return i.numpy(), (v / np.sqrt(fa.shape[1])).numpy()


GAN_SCHEMA = pa.schema([
    pa.field("synthetic_key", pa.string(), nullable=False),
    pa.field("instance_key", pa.string(), nullable=False), pa.field("series_key", pa.string(), nullable=False),
    pa.field("study_key", pa.string(), nullable=False), pa.field("patient_key", pa.string(), nullable=False),
    pa.field("parent_instance_key", pa.string(), nullable=False),
    pa.field("generator", pa.string(), nullable=False), pa.field("parameters", pa.string(), nullable=False),
    pa.field("seed", pa.int64(), nullable=False),
    pa.field("class_name", pa.string(), nullable=False), pa.field("class_index", pa.int32(), nullable=False),
    pa.field("checkpoint_sha256", pa.string(), nullable=False),
    pa.field("nearest_train_distance", pa.float64(), nullable=False),
    pa.field("modality", pa.string()), pa.field("rows", pa.int32()), pa.field("columns", pa.int32()),
    pa.field("pixel_spacing_row", pa.float64()), pa.field("pixel_spacing_col", pa.float64()),
    pa.field("dtype", pa.string()), pa.field("shape", pa.list_(pa.int32())),
    pa.field("pixels", pa.binary(), nullable=False),
])


def sample_seed(base: int, cls: str, i: int) -> int:
    digest = hashlib.sha256(f"{base}|{cls}|{i}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def run_gan(curated: str | Path, config: GanConfig = GanConfig()):
    """``radcurate synthesize gan``: train on training-split patches, write samples and a preview."""
    from .image_rows import encode, write_parts
    from .synthesize import SynthesisSummary

    started = time.perf_counter()
    curated = Path(curated)
    folder = curated / "synthetic" / "gan"
    summary = SynthesisSummary("gan", table=str(folder))
    x, meta = extract_patches(curated, ("train",), config.patches)
    summary.eligible = summary.parents = len(x)
    counts = {c: int((meta["class_name"] == c).sum()) for c in CLASSES}
    summary_extra: dict[str, Any] = {"patches_per_class": counts}
    if len(x) == 0 or sum(v > 0 for v in counts.values()) < 2:
        summary.quarantine.append({"source": str(curated), "reason": "too_few_classes",
                                   "detail": f"gan: training-split patches per class {counts}: need two classes"})
        summary.quarantined = 1
        write_parts(pd.DataFrame(columns=GAN_SCHEMA.names), folder, GAN_SCHEMA, ["pixels"])
        summary.seconds = round(time.perf_counter() - started, 2)
        return summary, summary_extra
    ckpt = curated / "synthetic" / "gan_checkpoint" / "acgan.pt"
    model, stats = train_gan(x, meta["label"].to_numpy(), config, ckpt)
    sha = file_sha256(ckpt)
    labels, seeds, names = [], [], []
    for c, n in counts.items():
        if n == 0:
            continue
        for i in range(config.samples_per_class):
            labels.append(CLASSES.index(c))
            seeds.append(sample_seed(config.seed, c, i))
            names.append(c)
    gen = sample(model, np.array(labels), np.array(seeds, dtype=np.int64))
    idx, dist = nearest(gen, x) if len(gen) else (np.zeros(0, int), np.zeros(0))
    pc = config.patches
    mm = pc.field_mm / pc.size
    params = json.dumps({"checkpoint_sha256": sha, "steps": stats["steps"], "patches": pc.to_dict(),
                         "latent": config.latent, "classes": list(CLASSES)}, sort_keys=True, default=list)
    rows = []
    for k in range(len(gen)):
        parent = meta.iloc[int(idx[k])]
        hu = to_hu(gen[k], pc.window_hu)
        key = hashlib.sha256(f"{GENERATOR}|{sha}|{names[k]}|{seeds[k]}".encode()).hexdigest()[:32]
        rows.append({
            # a generated patch is a new image: its own instance key; the nearest patch's image is its parent
            "synthetic_key": key, "instance_key": key, "series_key": parent["series_key"], "study_key": parent["study_key"],
            "patient_key": parent["patient_key"], "parent_instance_key": parent["instance_key"],
            "generator": GENERATOR, "parameters": params, "seed": int(seeds[k]), "class_name": names[k],
            "class_index": int(labels[k]), "checkpoint_sha256": sha, "nearest_train_distance": float(dist[k]),
            "modality": "CT", "rows": pc.size, "columns": pc.size, "pixel_spacing_row": mm, "pixel_spacing_col": mm,
            "dtype": "int16", "shape": [pc.size, pc.size], "pixels": encode(hu),
        })
    df = pd.DataFrame(rows, columns=GAN_SCHEMA.names)
    write_parts(df, folder, GAN_SCHEMA, ["pixels"])
    summary.rows = len(df)
    if len(df):
        summary.preview = str(preview_grid(x, meta["label"].to_numpy(), gen, np.array(labels),
                                           curated / "synthetic" / "gan_preview.png"))
    summary.seconds = round(time.perf_counter() - started, 2)
    summary_extra.update({"training": stats, "checkpoint": str(ckpt), "checkpoint_sha256": sha})
    return summary, summary_extra


def preview_grid(real: np.ndarray, real_y: np.ndarray, fake: np.ndarray, fake_y: np.ndarray, path: Path,
                 n: int = 8, tile: int = 64) -> Path:
    """One row per class: ``n`` real patches | ``n`` generated ones (labelled)."""
    from PIL import Image, ImageDraw

    classes = [c for c in range(len(CLASSES)) if (real_y == c).any()]
    gap = 12
    sheet = Image.new("L", (2 * n * tile + gap, len(classes) * (tile + 14) + 14), 0)
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 2), "real (training split)", fill=255)
    draw.text((n * tile + gap + 4, 2), "generated", fill=255)
    for row, c in enumerate(classes):
        y0 = 14 + row * (tile + 14)
        draw.text((4, y0), CLASSES[c], fill=200)
        for j, arr in enumerate(list(real[real_y == c][:n])):
            sheet.paste(_tile(arr, tile), (j * tile, y0 + 12))
        for j, arr in enumerate(list(fake[fake_y == c][:n])):
            sheet.paste(_tile(arr, tile), (n * tile + gap + j * tile, y0 + 12))
    sheet = sheet.crop((0, 0, sheet.width, min(sheet.height, 14 + len(classes) * (tile + 14) + 12)))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path


def _tile(arr: np.ndarray, tile: int):
    from PIL import Image

    return Image.fromarray(((np.clip(arr, -1, 1) + 1) * 127.5).astype(np.uint8)).resize((tile, tile))
