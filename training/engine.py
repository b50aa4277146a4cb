"""The training loop shared by the three tasks: device, precision, DDP, checkpoints and resume.

- Device: ``auto`` picks CUDA when available. On CUDA: bf16 autocast (fp16 + GradScaler where bf16
  is unsupported), channels-last tensors, optional ``torch.compile``.
- Seeds: the global batch order of epoch ``e`` is a permutation drawn from ``seed`` and ``e`` only,
  so a run resumed from the checkpoint of epoch ``e`` replays exactly the batches an uninterrupted
  run would have seen. The checkpoint (written atomically after every epoch) holds model,
  optimiser, scaler, history and RNG states.
- DDP: under ``torchrun`` (``WORLD_SIZE`` > 1) each process takes an equal slice of every global
  batch, and the loss is divided by the global count (all-reduced), so N processes follow the
  trajectory of one process with the whole batch (up to float summation order). Backend: NCCL on
  CUDA, gloo on CPU.
"""

from __future__ import annotations

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

from radcurate.version import code_version

from . import losses
from .config import TrainConfig, config_from_dict
from .models import build_model
from .samples import DataError, TaskData, data_version, task_data


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


def epoch_batches(n: int, batch: int, epoch: int, seed: int) -> list[torch.Tensor]:
    """Global batches of epoch ``epoch``: a permutation from (seed, epoch), last partial dropped."""
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
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


def loss_terms(task: str, model, data: TaskData, idx: torch.Tensor, rt: Runtime,
               channels_last: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss sum, count) of the samples ``idx`` of ``data`` under autocast."""
    dev = rt.device
    on_host = data.x.device.type == "cpu"
    pin = dev.type == "cuda" and on_host

    def move(t):
        t = t[idx.to(t.device)]
        return (t.pin_memory() if pin else t).to(dev, non_blocking=pin)

    x = move(data.x)
    if channels_last and dev.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    ctx = torch.autocast(dev.type, dtype=rt.amp_dtype) if rt.amp_dtype else nullcontext()
    with ctx:
        out = model(x)
    if task == "classify":
        return losses.masked_bce(out, move(data.y), move(data.mask), move(data.weight))
    if task == "segment":
        return losses.dice_ce(out, move(data.y))
    return losses.mse(out, move(data.y))


def predict(model, x: torch.Tensor, rt: Runtime, batch: int = 64, channels_last: bool = True) -> torch.Tensor:
    """Model outputs (logits / masks logits / images) for ``x``, on the CPU, in fp32."""
    model.eval()
    outs = []
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


def _rng_state() -> dict[str, Any]:
    st = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def _set_rng_state(st: dict[str, Any]) -> None:
    torch.set_rng_state(st["torch"])
    np.random.set_state(st["numpy"])
    random.setstate(st["python"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def read_run_config(run: Path) -> tuple[TrainConfig, Path]:
    d = json.loads((Path(run) / "config.json").read_text())
    return config_from_dict(d["config"]), Path(d["curated"])


def unwrap(model):
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


# --- train ---------------------------------------------------------------------------------------


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
    ckpt_path = ckpt_dir / "last.pt"
    thash = config.training_hash()

    out_channels = len(data.names) if config.task == "classify" else 1
    model = build_model(config, out_channels).to(rt.device)
    if rt.world > 1 and rt.device.type == "cuda":  # batch statistics over all GPUs, as one process would
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if config.channels_last and rt.device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scaler = torch.amp.GradScaler(rt.device.type, enabled=rt.amp_dtype == torch.float16)
    history: list[dict[str, Any]] = []
    start = 0
    if ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location=rt.device, weights_only=False)
        if ck["training_hash"] != thash:
            raise DataError(f"{out} holds a run with another config (hash {ck['training_hash']} vs "
                            f"{thash}); use a new --out folder")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        scaler.load_state_dict(ck["scaler"])
        history, start = ck["history"], int(ck["epoch"])
        _set_rng_state(ck["rng"])
        say(f"resuming {out} after epoch {start}")
    record = {
        "task": config.task, "data_version": data_version(curated), "code_version": code_version(),
        "torch": torch.__version__, "device": str(rt.device), "world_size": rt.world,
        "precision": str(rt.amp_dtype).replace("torch.", "") if rt.amp_dtype else "fp32",
        "channels_last": bool(config.channels_last and rt.device.type == "cuda"),
        "compile": config.compile, "data": data.info, "findings": data.names, "training_hash": thash,
    }
    if rt.main:
        _atomic_json({"config": config.to_dict(), "curated": str(curated)}, out / "config.json")
        ckpt_dir.mkdir(exist_ok=True)
    train_model = torch.compile(model) if config.compile else model
    if rt.world > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(
            train_model, device_ids=[rt.device.index] if rt.device.type == "cuda" else None)

    if rt.device.type == "cuda" and config.data_on_device > 0:
        free, _ = torch.cuda.mem_get_info(rt.device)
        if tr.nbytes() + va.nbytes() <= config.data_on_device * free:
            tr, va = tr.to(rt.device), va.to(rt.device)
            record["data_on_device"] = True
    batch = effective_batch(len(tr), config.batch_size, rt.world)
    per = batch // rt.world
    for epoch in range(start, config.epochs):
        t0 = time.perf_counter()
        train_model.train()
        tot, cnt, seen = torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.float64), 0
        for gidx in epoch_batches(len(tr), batch, epoch, config.seed):
            idx = gidx[rt.rank * per:(rt.rank + 1) * per]
            s, c = loss_terms(config.task, train_model, tr, idx, rt, config.channels_last)
            denom = _all_sum(c.detach().float().reshape(1), rt).clamp_min(1.0)
            # DDP averages gradients over processes: scale so the result is sum / global count.
            loss = s * rt.world / denom
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            tot += s.detach().double().cpu()
            cnt += c.detach().double().cpu()
            seen += batch
        tot, cnt = _all_sum(tot, rt), _all_sum(cnt, rt)
        secs = time.perf_counter() - t0
        row = {"epoch": epoch + 1, "train_loss": float(tot / cnt.clamp_min(1)), "seconds": round(secs, 3),
               "images_per_s": round(seen / secs, 1) if secs > 0 else None}
        if len(va):
            row["val_loss"] = validation_loss(config.task, unwrap(train_model), va, rt, config.channels_last)
        history.append(row)
        say(f"epoch {epoch + 1}/{config.epochs}: train loss {row['train_loss']:.4f}"
            + (f", val loss {row['val_loss']:.4f}" if "val_loss" in row else "")
            + f" ({row['images_per_s']} img/s)")
        if rt.main:
            _atomic_save({"model": unwrap(train_model).state_dict(), "optimizer": opt.state_dict(),
                          "scaler": scaler.state_dict(), "epoch": epoch + 1, "history": history,
                          "rng": _rng_state(), "training_hash": thash}, ckpt_path)
        if rt.world > 1:
            dist.barrier()
    record.update(epochs_done=len(history), history=history, complete=len(history) >= config.epochs)
    if rt.main:
        _atomic_save(unwrap(model).state_dict(), out / "model.pt")
        _atomic_json(history, out / "history.json")
        _atomic_json(record, out / "run.json")
    if rt.world > 1:
        dist.barrier()
    return record


def validation_loss(task: str, model, data: TaskData, rt: Runtime, channels_last: bool, batch: int = 64) -> float:
    model.eval()
    tot, cnt = 0.0, 0.0
    with torch.no_grad():
        for i in range(0, len(data), batch):
            idx = torch.arange(i, min(i + batch, len(data)))
            s, c = loss_terms(task, model, data, idx, rt, channels_last)
            tot += float(s)
            cnt += float(c)
    return tot / cnt if cnt else math.nan


def load_model(run: Path, config: TrainConfig, n_out: int, rt: Runtime):
    model = build_model(config, n_out)
    model.load_state_dict(torch.load(Path(run) / "model.pt", map_location="cpu", weights_only=True))
    model = model.to(rt.device)
    if config.channels_last and rt.device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return model
