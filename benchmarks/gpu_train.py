"""GPU check: does training from the curated Parquet keep the GPU as busy as tensors already on it?

For each task (classify: DenseNet-121 224², segment: U-Net 256², denoise: RED-CNN 256²) this script

1. builds a curated-layout Parquet dataset (``images/`` part files, ``splits``, ``labels``,
   ``lesions``, ``synthetic/lowdose``) of synthetic pixels in a temp folder (or ``--data``);
2. measures the **tensor rate**: the same model, loss, AdamW step and autocast as the trainer, on
   random batches created on the GPU (no data path at all);
3. measures the **pipeline rate**: ``radcurate.training.engine.train`` on the Parquet dataset
   (decode once, then per step: index the batch, move it, forward, backward, step), images/s of
   the epochs after the first (warm-up);

and prints both and their ratio. Goal: pipeline >= 90 % of the tensor rate.

Runs on the ``device`` machine (Python 3.12, torch 2.11 + CUDA, numpy, pandas, pyarrow; no MONAI,
no network): carry a MONAI wheel with the run (``pip download monai==1.6.1 --no-deps -d wheels/``
here) and install it there with ``pip install --no-index --no-deps wheels/*.whl``. radcurate
itself need not be installed: the script imports ``training/`` from this checkout. On CPU it runs
too (``--device cpu --small --steps 4 --size 64``), to check the script, not to measure.

    python benchmarks/gpu_train.py --steps 300                 # on the GPU machine
    python benchmarks/gpu_train.py --device cpu --small --steps 4 --size 64 --images 64
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
GOAL = 0.90


def import_training():
    """``radcurate.training`` from this checkout when radcurate is not installed (GPU machine)."""
    try:
        import radcurate.training.engine  # noqa: F401
        return
    except ImportError:
        pass
    for name, folder in (("radcurate", ROOT / "radcurate"), ("radcurate.training", ROOT / "training")):
        spec = importlib.util.spec_from_file_location(name, folder / "__init__.py",
                                                      submodule_search_locations=[str(folder)])
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)


# --- dataset ------------------------------------------------------------------------------------


def _part(rows: list[dict], path: Path, extra: list[pa.Field] = ()) -> None:
    from radcurate.images_table import images_schema

    schema = images_schema(len(rows[0]["pixels"]))
    for f in extra:
        schema = schema.append(f)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, compression="zstd")


def _row(a: np.ndarray, i: int, patient: str, modality: str) -> dict:
    from radcurate.images_table import encode_pixels

    buf, shape, dtype = encode_pixels(a)
    return {"instance_key": f"I{modality}{i:06d}", "series_key": f"E{patient}{modality}", "study_key": f"S{modality}{i:06d}",
            "patient_key": patient, "frame_index": 0, "modality": modality, "body_part": "CHEST", "view": "PA",
            "preprocessing": "native", "rows": shape[0], "columns": shape[1], "pixel_spacing_row": 1.0,
            "pixel_spacing_col": 1.0, "slice_thickness": 2.0, "slice_position": float(i), "slice_index": i,
            "dtype": dtype, "shape": shape, "pixels": buf}


def build_dataset(root: Path, n: int, dx: int, ct: int, seed: int = 0) -> Path:
    """A curated-layout dataset: n radiographs (uint16 dx²), n CT slices (int16 HU ct²) with a
    lesion each, n low-dose pairs; 16 patients, all of them in the training split."""
    rng = np.random.default_rng(seed)
    cur = root / "curated"
    patients = [f"P{p:03d}" for p in range(16)]
    dx_rows, ct_rows, low_rows, labels, lesions = [], [], [], [], []
    yy, xx = np.mgrid[0:ct, 0:ct]
    for i in range(n):
        p = patients[i % len(patients)]
        dx_rows.append(_row(rng.integers(0, 4096, (dx, dx), dtype=np.uint16), i, p, "DX"))
        for f in ("Effusion", "Nodule", "Cardiomegaly"):
            labels.append({"study_key": f"SDX{i:06d}", "vocabulary": "chestxray14", "finding": f,
                           "value": int(rng.integers(-1, 2)), "probability": 0.5, "policy": "u_ignore"})
        img = rng.normal(-700, 200, (ct, ct))
        cy, cx, r = ct // 2 + rng.integers(-ct // 4, ct // 4), ct // 2 + rng.integers(-ct // 4, ct // 4), ct // 16
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        img[disc] = 40
        row = _row(img.astype(np.int16), i, p, "CT")
        ct_rows.append(row)
        y0, x0 = cy - r, cx - r
        lesions.append({"instance_key": row["instance_key"], "box_x0": int(x0), "box_y0": int(y0),
                        "box_x1": int(x0 + 2 * r + 1), "box_y1": int(y0 + 2 * r + 1),
                        "mask": disc[y0:y0 + 2 * r + 1, x0:x0 + 2 * r + 1].astype(np.uint8).tobytes()})
        low = dict(row, pixels=(img + rng.normal(0, 80, img.shape)).astype(np.int16).tobytes(),
                   full_dose_pixels=row["pixels"], dose_fraction=0.25)
        low_rows.append(low)
    _part(dx_rows, cur / "images" / "part-dx.parquet")
    _part(ct_rows, cur / "images" / "part-ct.parquet")
    _part(low_rows, cur / "synthetic" / "lowdose" / "part-00000.parquet",
          [pa.field("full_dose_pixels", pa.binary()), pa.field("dose_fraction", pa.float64())])
    pq.write_table(pa.table({"patient_key": patients, "split": ["train"] * len(patients)}), cur / "splits.parquet")
    pq.write_table(pa.Table.from_pylist(labels), cur / "labels.parquet")
    lt = pa.Table.from_pylist(lesions)
    for c in ("box_x0", "box_y0", "box_x1", "box_y1"):
        lt = lt.set_column(lt.column_names.index(c), c, lt.column(c).cast(pa.int32()))
    pq.write_table(lt, cur / "lesions.parquet")
    return cur


# --- rates --------------------------------------------------------------------------------------


def tensor_rate(config, n_out: int, steps: int, warmup: int = 5) -> float:
    """Images/s of the trainer's step on random batches already on the device."""
    import torch

    from radcurate.training.engine import Runtime, amp_dtype, gather, loss_terms, select_device, seed_everything
    from radcurate.training.models import build_model
    from radcurate.training.samples import TaskData

    dev = select_device(config.device)
    rt = Runtime(dev, amp_dtype=amp_dtype(config.precision, dev))
    seed_everything(config.seed, config.deterministic)
    b = config.batch_size
    s = config.denoise.patch_size if config.task == "denoise" else config.image_size  # RED-CNN trains on patches
    x = torch.rand(b, 1, s, s, device=dev)
    if config.task == "classify":
        y = (torch.rand(b, n_out, device=dev) > 0.5).float()
        data = TaskData(x, y, None, None, None, torch.ones_like(y), torch.ones_like(y), [])
    else:
        y = (torch.rand(b, 1, s, s, device=dev) > 0.9).float() if config.task == "segment" else torch.rand_like(x)
        data = TaskData(x, y, None, None, None)
    model = build_model(config, n_out).to(dev)
    if config.channels_last and dev.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    if config.compile:
        model = torch.compile(model)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr)
    scaler = torch.amp.GradScaler(dev.type, enabled=rt.amp_dtype == torch.float16)
    batch = gather(data, torch.arange(b, device=dev), rt)
    model.train()

    def step():
        total, count = loss_terms(config.task, model, batch, rt, config.channels_last)
        opt.zero_grad(set_to_none=True)
        scaler.scale(total / count).backward()
        scaler.step(opt)
        scaler.update()

    for _ in range(warmup):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return steps * b / (time.perf_counter() - t0)


def pipeline_rate(curated: Path, run: Path, config) -> tuple[float, dict]:
    """Images/s of ``engine.train`` on the Parquet dataset, epochs after the first."""
    import shutil

    from radcurate.training.engine import train

    shutil.rmtree(run, ignore_errors=True)
    t0 = time.perf_counter()
    rec = train(curated, run, config, log=lambda m: None)
    total = time.perf_counter() - t0
    hist = rec["history"][1:] or rec["history"]
    imgs = sum(h["images_per_s"] * h["seconds"] for h in hist)
    secs = sum(h["seconds"] for h in hist)
    return imgs / secs, {"wall_s_with_decode": round(total, 1), "data_on_device": rec.get("data_on_device", False),
                         "precision": rec["precision"], "device": rec["device"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="folder for the Parquet dataset (default: a temp folder)")
    ap.add_argument("--images", type=int, default=1024, help="images per task in the dataset")
    ap.add_argument("--steps", type=int, default=200, help="training steps per measurement")
    ap.add_argument("--size", type=int, default=0, help="override every task's image size")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--small", action="store_true", help="small models (CPU smoke run)")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--tasks", default="classify,segment,denoise")
    ap.add_argument("--json", help="write the results here too")
    ap.add_argument("--smoke", action="store_true", help="smallest size, seconds: checks that the script runs (tests/test_benchmarks.py); not a measurement")
    args = ap.parse_args()
    if args.smoke:
        args.images, args.steps, args.size, args.small = 16, 2, 32, True
    import_training()
    import torch

    from radcurate.training.config import TrainConfig

    plan = {"classify": (224, 64), "segment": (256, 32), "denoise": (256, 32)}  # size, batch
    tmp = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="gpu_train_"))
    dx = max(args.size or 224, 256)
    ct = args.size or 256
    t0 = time.perf_counter()
    curated = build_dataset(tmp, args.images, dx=dx, ct=ct)
    print(f"dataset: {args.images} images per task in {curated} ({time.perf_counter() - t0:.1f}s); torch "
          f"{torch.__version__}, {torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU'}")
    results = {}
    for task in args.tasks.split(","):
        size, batch = plan[task]
        size = args.size or size
        batch = min(batch, args.images)
        steps_per_epoch = args.images // batch
        epochs = 1 + max(1, -(-args.steps // steps_per_epoch))
        cfg = TrainConfig(task=task, epochs=epochs, batch_size=batch, image_size=size, small=args.small,
                          device=args.device, compile=args.compile, deterministic=False, bootstrap=0,
                          tracking="none", patience=0)
        n_out = 3 if task == "classify" else 1
        tr = tensor_rate(cfg, n_out, args.steps)
        pr, info = pipeline_rate(curated, tmp / f"run_{task}", cfg)
        results[task] = {"size": size, "batch": batch, "tensor_img_s": tr, "pipeline_img_s": pr,
                         "ratio": pr / tr, **info}
        print(f"{task:9} {size}² batch {batch}: tensors on device {tr:8.1f} img/s | from Parquet {pr:8.1f} img/s "
              f"| {pr / tr:6.1%} ({info['precision']}, data on device: {info['data_on_device']})")
    met = all(r["ratio"] >= GOAL for r in results.values())
    print(f"goal: pipeline >= {GOAL:.0%} of the tensor rate: {'met' if met else 'NOT met'}"
          + ("" if torch.cuda.is_available() else " (CPU run: a check of the script, not a measurement)"))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
