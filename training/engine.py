"""The training loop shared by the three tasks: device, precision, DDP, checkpoints and resume.

- Device: ``auto`` picks CUDA when available. On CUDA: bf16 autocast (fp16 + GradScaler where bf16
  is unsupported), channels-last tensors, optional ``torch.compile``.
- Seeds: the global batch order of epoch ``e`` is a permutation drawn from ``seed`` and ``e`` only,
  so a run resumed from the checkpoint of epoch ``e`` replays exactly the batches an uninterrupted
  run would have seen. The checkpoint (written atomically after every epoch) holds model,
  optimiser, scaler, history and RNG states.
- Optimisation (:mod:`.schedule`): AdamW with weight decay, a per-step cosine schedule after a
  linear warm-up (or one-cycle), early stopping on a validation metric. ``checkpoints/last.pt`` is
  the whole training state; ``checkpoints/best.pt`` the weights of the best validation epoch, which
  ``evaluate``, ``predict`` and ``export`` use by default.
- In the loop: ``augment`` applies :class:`.augment.BatchAugment` to each batch on its device (the
  step's own seeded generator, so a resumed run draws the same augmentations); ``balanced`` draws
  the training rows with :func:`.augment.oversampling_weights`; denoise trains on random
  native-resolution patches. ``init`` starts from a checkpoint or state dict on disk.
- Tracking (:mod:`.tracking`): params, per-epoch metrics and artifacts to MLflow and TensorBoard.
- DDP: under ``torchrun`` (``WORLD_SIZE`` > 1) each process takes an equal slice of every global
  batch, and the loss is divided by the global count (all-reduced), so N processes follow the
  trajectory of one process with the whole batch (up to float summation order). Backend: NCCL on
  CUDA, gloo on CPU.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist

from radcurate import random_state
from radcurate.version import code_version

import pandas as pd

from . import losses
from .augment import BatchAugment, oversampling_weights
from .config import TrainConfig, config_from_dict
from .metrics import dice_parts, psnr_ssim, rank_auc
from .models import build_model, load_init
from .samples import DataError, TaskData, data_version, task_data
from .schedule import EarlyStopping, make_optimizer, make_scheduler
from .tracking import Tracker


@dataclass
class Runtime:
    device: torch.device
    rank: int = 0
    world: int = 1
    amp_dtype: torch.dtype | None = None  # None: fp32

    @property
    def main(self) -> bool:
        return self.rank == 0


def select_device(preference: str = "auto") -> torch.device:
    if preference == "cuda" and not torch.cuda.is_available():
        raise DataError("--device cuda asked for, but torch sees no CUDA device")
    if preference == "cpu" or (preference == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))


def amp_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "fp16":
        return torch.float16
    if precision == "bf16":
        return torch.bfloat16
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def setup_runtime(config: TrainConfig) -> Runtime:
    device = select_device(config.device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Runtime(device, rank, world, amp_dtype(config.precision, device))


def seed_everything(seed: int, deterministic: bool = True) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True


def epoch_batches(n: int, batch: int, epoch: int, seed: int, weights: torch.Tensor | None = None) -> list[torch.Tensor]:
    """Global batches of epoch ``epoch``: a permutation from (seed, epoch), last partial dropped; with
    ``weights``, ``n`` rows drawn with replacement in proportion to them (balanced sampling)."""
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    if weights is not None:
        perm = torch.multinomial(weights, n, replacement=True, generator=g)
    else:
        perm = torch.randperm(n, generator=g)
    return [perm[i:i + batch] for i in range(0, n - batch + 1, batch)]


def effective_batch(n: int, batch: int, world: int) -> int:
    """The global batch: at most ``n`` samples, a multiple of the process count."""
    b = min(batch, n)
    b -= b % world
    if b < world:
        raise DataError(f"{n} training samples cannot feed {world} processes")
    return b


# --- one step ------------------------------------------------------------------------------------


def step_generator(seed: int, epoch: int, step: int, rank: int, device: torch.device) -> torch.Generator:
    """The random stream of one optimiser step on one process (augmentation, patch positions)."""
    g = torch.Generator(device=device)
    g.manual_seed((seed * 1_000_003 + epoch * 10_007 + step) * 64 + rank)
    return g


def gather(data: TaskData, idx: torch.Tensor, rt: Runtime) -> dict[str, torch.Tensor]:
    """The rows ``idx`` of ``data``'s tensors on the device (pinned, non-blocking from the host)."""
    dev = rt.device
    on_host = data.x.device.type == "cpu"
    pin = dev.type == "cuda" and on_host

    def move(t):
        t = t[idx.to(t.device)]
        return (t.pin_memory() if pin else t).to(dev, non_blocking=pin)

    out = {"x": move(data.x), "y": move(data.y)}
    if data.mask is not None:
        out["mask"], out["weight"] = move(data.mask), move(data.weight)
    return out


def patch_offsets(n: int, h: int, w: int, size: int, g: torch.Generator) -> torch.Tensor:
    """(n, 2) random top-left corners of ``size``² patches in an ``h`` x ``w`` slice."""
    size = min(size, h, w)
    oy = torch.randint(0, h - size + 1, (n,), generator=g, device=g.device)
    ox = torch.randint(0, w - size + 1, (n,), generator=g, device=g.device)
    return torch.stack([oy, ox], 1)


def random_patches(x: torch.Tensor, y: torch.Tensor, size: int, offsets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``size``² patch at ``offsets`` of each image: the same window of input and target (RED-CNN)."""
    b, _, h, w = x.shape
    size = min(size, h, w)
    offsets = offsets.to(x.device)
    r = torch.arange(size, device=x.device)
    rows, cols = (offsets[:, :1] + r)[:, :, None], (offsets[:, 1:] + r)[:, None, :]
    bi = torch.arange(b, device=x.device)[:, None, None]
    return x[bi, 0, rows, cols][:, None], y[bi, 0, rows, cols][:, None]


def training_batch(config: TrainConfig, data: TaskData, gidx: torch.Tensor, rt: Runtime, epoch: int,
                   step: int) -> dict[str, torch.Tensor]:
    """This process's share of global batch ``gidx`` on the device: denoise patches cut (positions
    drawn for the whole global batch, so N processes cut what one would), augmentation applied."""
    per = len(gidx) // rt.world
    idx = gidx[rt.rank * per:(rt.rank + 1) * per]
    if config.task == "denoise":  # idx counts patches: image = idx // patches_per_image
        b = gather(data, idx // config.denoise.patches_per_image, rt)
        g = step_generator(config.seed, epoch, step, 0, torch.device("cpu"))
        offsets = patch_offsets(len(gidx), data.x.shape[-2], data.x.shape[-1], config.denoise.patch_size, g)
        b["x"], b["y"] = random_patches(b["x"], b["y"], config.denoise.patch_size,
                                        offsets[rt.rank * per:(rt.rank + 1) * per])
        return b
    b = gather(data, idx, rt)
    if config.augment:
        aug = BatchAugment(config.augment_recipe(), generator=step_generator(config.seed, epoch, step, rt.rank,
                                                                              rt.device))
        if config.task == "segment":
            b["x"], b["y"] = aug(b["x"], b["y"])
            b["x"] = b["x"].clamp(0.0, 1.0)
        else:
            b["x"] = aug(b["x"])
    return b


def loss_terms(task: str, model, batch: dict[str, torch.Tensor], rt: Runtime,
               channels_last: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss sum, count) of one batch under autocast."""
    x = batch["x"]
    if channels_last and rt.device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    ctx = torch.autocast(rt.device.type, dtype=rt.amp_dtype) if rt.amp_dtype else nullcontext()
    with ctx:
        out = model(x)
    return output_loss(task, out, batch)


def output_loss(task: str, out: torch.Tensor, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    if task == "classify":
        return losses.masked_bce(out, batch["y"], batch["mask"], batch["weight"])
    if task == "segment":
        return losses.dice_ce(out, batch["y"])
    return losses.mse(out, batch["y"])


def predict(model, x: torch.Tensor, rt: Runtime, batch: int = 64, channels_last: bool = True) -> torch.Tensor:
    """Model outputs (logits / masks logits / images) for ``x``, on the CPU, in fp32."""
    model.eval()
    outs = []
    pixels = int(np.prod(x.shape[-2:])) if x.ndim == 4 else 1
    batch = max(1, min(batch, (64 * 224 * 224) // max(pixels, 1)))  # native CT slices: fewer at a time
    ctx = torch.autocast(rt.device.type, dtype=rt.amp_dtype) if rt.amp_dtype else nullcontext()
    with torch.no_grad(), ctx:
        for i in range(0, len(x), batch):
            xb = x[i:i + batch].to(rt.device)
            if channels_last and rt.device.type == "cuda":
                xb = xb.contiguous(memory_format=torch.channels_last)
            outs.append(model(xb).float().cpu())
    return torch.cat(outs) if outs else torch.empty(0)


def _all_sum(t: torch.Tensor, rt: Runtime) -> torch.Tensor:
    if rt.world > 1:
        t = t.clone()
        dist.all_reduce(t)
    return t


# --- run folder ----------------------------------------------------------------------------------


def _atomic_json(obj: Any, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _atomic_save(obj: Any, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def read_run_config(run: Path) -> tuple[TrainConfig, Path]:
    d = json.loads((Path(run) / "config.json").read_text())
    return config_from_dict(d["config"]), Path(d["curated"])


def unwrap(model):
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


# --- train ---------------------------------------------------------------------------------------


def sampling_weights(data: TaskData) -> torch.Tensor:
    """Per training row: :func:`.augment.oversampling_weights` of its findings (masked labels unknown)."""
    y = np.where(data.mask.cpu().numpy() > 0, data.y.cpu().numpy(), np.nan)
    rows = pd.DataFrame(y, columns=data.names).assign(split=data.split)
    return torch.as_tensor(oversampling_weights(rows, data.names), dtype=torch.double)


def train(curated: str | os.PathLike, out: str | os.PathLike, config: TrainConfig,
          log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train ``config.task`` on ``curated`` into the run folder ``out``; resume from its checkpoint.

    Returns the run record (also ``out/run.json``). Raises :class:`SplitLeakError` before any
    training when a patient is in two splits, :class:`DataError` when the data do not fit the task.
    """
    curated, out = Path(curated).resolve(), Path(out)
    rt = setup_runtime(config)
    say = (log or (lambda m: print(m, file=sys.stderr, flush=True))) if rt.main else (lambda m: None)
    seed_everything(config.seed, config.deterministic)
    data = task_data(curated, config)  # split leak refused here, before any model exists
    tr, va = data.subset("train"), data.subset("val")
    if len(tr) == 0:
        raise DataError("no training images (split 'train') for this task")
    out.mkdir(parents=True, exist_ok=True)
    ckpt_dir = out / "checkpoints"
    ckpt_path, best_path = ckpt_dir / "last.pt", ckpt_dir / "best.pt"
    thash = config.training_hash()

    out_channels = len(data.names) if config.task == "classify" else 1
    model = build_model(config, out_channels)
    init_record = load_init(model, config.init) if config.init else None
    model = model.to(rt.device)
    if rt.world > 1 and rt.device.type == "cuda":  # batch statistics over all GPUs, as one process would
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if config.channels_last and rt.device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    samples = len(tr) * (config.denoise.patches_per_image if config.task == "denoise" else 1)
    batch = effective_batch(samples, config.batch_size, rt.world)
    steps_per_epoch = samples // batch
    opt = make_optimizer(model, config)
    sched = make_scheduler(opt, config, steps_per_epoch)
    scaler = torch.amp.GradScaler(rt.device.type, enabled=rt.amp_dtype == torch.float16)
    early = EarlyStopping(config.monitor_metric, config.patience)
    history: list[dict[str, Any]] = []
    start = 0
    if ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location=rt.device, weights_only=False)
        if ck["training_hash"] != thash:
            raise DataError(f"{out} holds a run with another config (hash {ck['training_hash']} vs "
                            f"{thash}); use a new --out folder")
        if config.schedule == "onecycle" and ck.get("epochs", config.epochs) != config.epochs:
            raise DataError("a one-cycle schedule cannot be extended to more epochs; use a new --out folder")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        scaler.load_state_dict(ck["scaler"])
        early.load_state_dict(ck["early_stopping"])
        history, start = ck["history"], int(ck["epoch"])
        random_state.restore(ck["rng"])
        say(f"resuming {out} after epoch {start}")
    record = {
        "task": config.task, "data_version": data_version(curated), "code_version": code_version(),
        "torch": torch.__version__, "device": str(rt.device), "world_size": rt.world,
        "precision": str(rt.amp_dtype).replace("torch.", "") if rt.amp_dtype else "fp32",
        "channels_last": bool(config.channels_last and rt.device.type == "cuda"),
        "compile": config.compile, "data": data.info, "findings": data.names, "training_hash": thash,
        "optimizer": {"name": "AdamW", "lr": config.lr, "weight_decay": config.weight_decay,
                      "schedule": config.schedule, "warmup_epochs": config.warmup_epochs,
                      "steps_per_epoch": steps_per_epoch, "global_batch": batch},
        "monitor": early.metric, "patience": config.patience,
        "augmentation": dataclasses.asdict(config.augment_recipe()) if config.augment else None,
        "balanced": config.balanced, "init": init_record,
    }
    tracker = Tracker(out, config.tracking, run_name=f"{config.task} {out.name}") if rt.main else None
    if rt.main:
        _atomic_json({"config": config.to_dict(), "curated": str(curated)}, out / "config.json")
        ckpt_dir.mkdir(exist_ok=True)
        tracker.params({"config": config.to_dict(), "data_version": record["data_version"],
                        "code_version": record["code_version"], "augmentation": record["augmentation"] or "off",
                        "init": (init_record or {}).get("path", "none"), "device": record["device"],
                        "world_size": rt.world, "images": data.info.get("per_split", {})})
        tracker.tag("radcurate.task", config.task)
        tracker.tag("radcurate.data_version", record["data_version"])
    train_model = torch.compile(model) if config.compile else model
    if rt.world > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(
            train_model, device_ids=[rt.device.index] if rt.device.type == "cuda" else None)

    if rt.device.type == "cuda" and config.data_on_device > 0:
        free, _ = torch.cuda.mem_get_info(rt.device)
        if tr.nbytes() + va.nbytes() <= config.data_on_device * free:
            tr, va = tr.to(rt.device), va.to(rt.device)
            record["data_on_device"] = True
    weights = sampling_weights(tr) if config.balanced else None
    status = "FINISHED"
    try:
        for epoch in range(start, config.epochs):
            if early.stop:
                break
            t0 = time.perf_counter()
            train_model.train()
            tot, cnt, seen = torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.float64), 0
            lr_used = opt.param_groups[0]["lr"]
            for step, gidx in enumerate(epoch_batches(samples, batch, epoch, config.seed, weights)):
                s, c = loss_terms(config.task, train_model, training_batch(config, tr, gidx, rt, epoch, step), rt,
                                  config.channels_last)
                denom = _all_sum(c.detach().float().reshape(1), rt).clamp_min(1.0)
                # DDP averages gradients over processes: scale so the result is sum / global count.
                loss = s * rt.world / denom
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                sched.step()
                tot += s.detach().double().cpu()
                cnt += c.detach().double().cpu()
                seen += batch
            tot, cnt = _all_sum(tot, rt), _all_sum(cnt, rt)
            secs = time.perf_counter() - t0
            row = {"epoch": epoch + 1, "train_loss": float(tot / cnt.clamp_min(1)), "seconds": round(secs, 3),
                   "images_per_s": round(seen / secs, 1) if secs > 0 else None, "lr": lr_used}
            if len(va):
                row.update(validate(config, unwrap(train_model), va, rt))
            improved = early.update(epoch + 1, row.get(early.metric, math.nan)) if len(va) else True
            row["best"] = bool(improved)
            history.append(row)
            say(f"epoch {epoch + 1}/{config.epochs}: train loss {row['train_loss']:.4f}"
                + (f", val loss {row['val_loss']:.4f}" if "val_loss" in row else "")
                + (f", {early.metric} {row[early.metric]:.4f}" if early.metric in row and early.metric != "val_loss" else "")
                + f", lr {lr_used:.2e}" + (" (best)" if improved else "") + f" ({row['images_per_s']} img/s)")
            if rt.main:
                weights_now = unwrap(train_model).state_dict()
                if improved:
                    _atomic_save({"model": weights_now, "epoch": epoch + 1, "metric": early.metric,
                                  "value": row.get(early.metric), "training_hash": thash, "task": config.task,
                                  "findings": data.names}, best_path)
                _atomic_save({"model": weights_now, "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                              "scaler": scaler.state_dict(), "early_stopping": early.state_dict(),
                              "epoch": epoch + 1, "epochs": config.epochs, "history": history,
                              "rng": random_state.capture(), "training_hash": thash}, ckpt_path)
                tracker.metrics({k: v for k, v in row.items() if k not in ("epoch", "best")}, step=epoch + 1)
            if rt.world > 1:
                dist.barrier()
            if early.stop:
                say(f"early stop: {early.metric} has not improved for {early.patience} epochs "
                    f"(best {early.best:.4f} at epoch {early.best_epoch})")
                break
    except BaseException:
        status = "KILLED"
        raise
    finally:
        if tracker is not None and status == "KILLED":
            tracker.close("KILLED")
    record.update(epochs_done=len(history), history=history,
                  complete=len(history) >= config.epochs or early.stop, stopped_early=early.stop,
                  best_epoch=early.best_epoch if len(va) else len(history), best_value=early.best,
                  checkpoints={"best": str(best_path.relative_to(out)), "last": str(ckpt_path.relative_to(out))})
    if rt.main:
        _atomic_json(history, out / "history.json")
        _atomic_json(record, out / "run.json")
        record["tracking"] = {"mlflow_uri": tracker.uri, "mlflow_run_id": tracker.run_id,
                              "tensorboard": str(out / "tensorboard") if tracker.writer is not None else None}
        _atomic_json(record, out / "run.json")
        tracker.metrics({"best_epoch": record["best_epoch"]})
        for name in ("config.json", "run.json", "history.json"):
            tracker.artifact(out / name)
        tracker.close(status)
    if rt.world > 1:
        dist.barrier()
    return record


def validate(config: TrainConfig, model, data: TaskData, rt: Runtime) -> dict[str, float]:
    """Validation loss and the task's metric: macro AUC over images (classify), mean Dice over slices
    with a lesion (segment), mean PSNR in the evaluation window (denoise)."""
    out = predict(model, data.x, rt, channels_last=config.channels_last)
    batch = {k: v.cpu() for k, v in gather(data, torch.arange(len(data)), Runtime(torch.device("cpu"))).items()}
    if config.task == "denoise":
        batch, out = _crop_native(data, batch, out)
    s, c = output_loss(config.task, out, batch)
    row = {"val_loss": float(s) / max(float(c), 1.0)}
    y = batch["y"].numpy()
    if config.task == "classify":
        m = batch["mask"].numpy() > 0
        p = out.numpy()
        aucs = [rank_auc(y[m[:, j], j] > 0.5, p[m[:, j], j]) for j in range(y.shape[1])]
        aucs = [a for a in aucs if np.isfinite(a)]
        row["val_auc"] = float(np.mean(aucs)) if aucs else math.nan
    elif config.task == "segment":
        pred = (torch.sigmoid(out) > config.segment.threshold).numpy()
        inter2, total = dice_parts(pred, y > 0.5)
        has = y.reshape(len(y), -1).sum(1) > 0
        row["val_dice"] = float(np.mean(inter2[has] / total[has])) if has.any() else math.nan
    else:
        lo, hi = config.denoise.window
        psnr, _ = psnr_ssim(out * (hi - lo) + lo, batch["y"] * (hi - lo) + lo, tuple(config.denoise.eval_window))
        row["val_psnr"] = float(np.mean(psnr))
    return row


def _crop_native(data: TaskData, batch: dict[str, torch.Tensor], out: torch.Tensor):
    """Denoise slices padded to a common size: score each on its own native extent only (when sizes
    differ the padding is left out by scoring the common top-left extent of the smallest slice)."""
    if data.hw is None:
        return batch, out
    h, w = int(data.hw[:, 0].min()), int(data.hw[:, 1].min())
    return {k: v[..., :h, :w] for k, v in batch.items()}, out[..., :h, :w]


def checkpoint_path(run: Path, which: str = "best") -> Path:
    """``RUN/checkpoints/best.pt`` (default) or ``last.pt``; best falls back to last when a run
    without validation images never wrote one."""
    if which not in ("best", "last"):
        raise ValueError("checkpoint must be 'best' or 'last'")
    ck = Path(run) / "checkpoints"
    path = ck / f"{which}.pt"
    if not path.is_file() and which == "best" and (ck / "last.pt").is_file():
        return ck / "last.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: train first (radcurate train TASK --out {run})")
    return path


def load_weights(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The state dict of a best/last checkpoint and the checkpoint's other entries."""
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # last.pt holds numpy RNG states: our own file, so a full load is safe
        ck = torch.load(path, map_location="cpu", weights_only=False)
    return ck["model"], {k: v for k, v in ck.items() if k not in ("model", "optimizer", "rng", "scaler")}


def load_model(run: Path, config: TrainConfig, n_out: int, rt: Runtime, which: str = "best"):
    """The run's network with the weights of checkpoint ``which``, on the runtime's device, in eval mode."""
    model = build_model(config, n_out)
    path = checkpoint_path(run, which)
    state, meta = load_weights(path)
    model.load_state_dict(state)
    model.meta = {"checkpoint": path.name, "epoch": meta.get("epoch")}
    model = model.to(rt.device)
    if config.channels_last and rt.device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return model.eval()
