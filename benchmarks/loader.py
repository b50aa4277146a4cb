"""Loader throughput (images/s): the Parquet images dataset beside reading the same images from the
curated DICOM files with pydicom, warm and cold, per DataLoader worker count, at 224² and 512²;
and the images stage's files/s beside deid's on the same export.

    .venv/bin/python benchmarks/loader.py [--patients 4] [--sizes 224 512] [--workers 0 1 2]

For each size a synthetic export with CT slices of that size is de-identified (deid) and decoded
(images stage), both in this process on the same files, timed with ``time.process_time``. Then
both loaders run through a ``torch.utils.data.DataLoader`` with the same batch size and workers,
and deliver the same tensors (int16 HU, batch x 1 x H x W):
- Parquet: :class:`radcurate.training.loader.CuratedImages` (row groups streamed per worker);
- DICOM: a map-style dataset doing what a user of the curated DICOM does: ``pydicom.dcmread``,
  ``pixel_array``, modality LUT to HU, ``torch.from_numpy`` (default collate).
Warm: the files were just read (page cache). Cold: a fresh copy of the files whose pages are
evicted with ``posix_fadvise(DONTNEED)`` (no root needed, other users' cache untouched). Wall
time (workers are processes) from the first batch on, so worker start-up is not counted; best of
``--repeat``. Goals (issue 11): Parquet >= 10x DICOM warm
and >= 20x cold, at every size and worker count; exit 1 if one is not met.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

GOAL_WARM, GOAL_COLD = 10.0, 20.0


class DicomSlices(Dataset):
    """The peer: curated DICOM files -> int16 HU tensors with pydicom, one file per item."""

    def __init__(self, paths):
        self.paths = list(paths)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        import pydicom
        from pydicom.pixels import apply_modality_lut

        ds = pydicom.dcmread(self.paths[i])
        hu = np.clip(np.rint(apply_modality_lut(ds.pixel_array, ds)), -32768, 32767).astype(np.int16)
        return torch.from_numpy(hu).unsqueeze(0)


def evict(folder: Path) -> None:
    """Drop the page-cache pages of every file under ``folder`` (after writing them out)."""
    for p in folder.rglob("*"):
        if p.is_file():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def timed(loader) -> tuple[float, int]:
    """Images/s from the first batch on (worker start-up excluded, for both loaders alike), and
    the number of images delivered."""
    it = iter(loader)
    first = next(it)
    n0 = len(first["image"] if isinstance(first, dict) else first)
    t = time.perf_counter()
    n = 0
    for batch in it:
        n += len(batch["image"] if isinstance(batch, dict) else batch)
    return n / (time.perf_counter() - t), n + n0


def parquet_loader(curated: Path, workers: int, batch: int):
    from radcurate.training.loader import CuratedImages

    ds = CuratedImages(curated, None, modalities=["CT"], batch_size=batch, shuffle=True)
    return DataLoader(ds, batch_size=None, num_workers=workers, prefetch_factor=4 if workers else None)


def dicom_loader(paths, workers: int, batch: int):
    return DataLoader(DicomSlices(paths), batch_size=batch, shuffle=True, num_workers=workers,
                      prefetch_factor=4 if workers else None)


def prepare(size: int, patients: int, work: Path, slices: int, compression: str) -> dict:
    """Export, deid and images for CT slices of ``size``²; stage timings (CPU s) and paths."""
    from radcurate.deid import DeidConfig, run_deid
    from radcurate.images import ImagesConfig, run_images
    from radcurate.ingest import run_ingest
    from radcurate.synthesis import ExportConfig, generate_export

    export = generate_export(work / f"export{size}", patients=patients, seed=5,
                             config=ExportConfig(ct_size=size, ct_slices=slices))
    out = work / f"out{size}"
    run_ingest(export / "pacs", None, out)
    secret = work / "secret.key"
    secret.write_bytes(b"benchmark-secret-" + b"x" * 48)
    secret.chmod(0o600)  # de-id refuses a secret that others can read
    t = time.process_time()
    d = run_deid(out, config=DeidConfig(secret_file=str(secret)))
    deid_s = time.process_time() - t
    t = time.process_time()
    s = run_images(out / "curated", config=ImagesConfig(compression=compression))
    images_s = time.process_time() - t
    import pandas as pd

    inst = pd.read_parquet(out / "curated" / "instances.parquet")
    ct = [out / "curated" / p for p in inst.loc[inst["modality"] == "CT", "path"]]
    return {"curated": out / "curated", "ct": ct, "files": d.instances, "deid_fps": d.files_in / deid_s,
            "images_fps": s.instances_in / images_s}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--patients", type=int, default=4)
    ap.add_argument("--sizes", type=int, nargs="+", default=[224, 512])
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--slices", type=int, default=96, help="CT slices per series")
    ap.add_argument("--compression", default="zstd", help="images stage compression (zstd, lz4, none)")
    ap.add_argument("--smoke", action="store_true", help="smallest size, seconds: checks that the script runs (tests/test_benchmarks.py); not a measurement")
    args = ap.parse_args(argv)
    if args.smoke:
        args.patients, args.sizes, args.workers, args.repeat, args.slices, args.batch = 1, [64], [0], 1, 8, 8
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    failed = []
    with tempfile.TemporaryDirectory(prefix="radcurate-loader-bench-") as tmp:
        work = Path(tmp)
        print(f"{'size':>5} {'stage':<8} {'files/s (CPU)':>14}")
        prepared = {}
        for size in args.sizes:
            p = prepared[size] = prepare(size, args.patients, work, args.slices, args.compression)
            print(f"{size:>5} {'deid':<8} {p['deid_fps']:>14.1f}")
            print(f"{size:>5} {'images':<8} {p['images_fps']:>14.1f}   ({p['files']} files; "
                  f"images/deid = {p['images_fps'] / p['deid_fps']:.1f}x)")
        print()
        print(f"{'size':>5} {'workers':>7} {'cache':<5} {'parquet img/s':>14} {'dicom img/s':>12} {'ratio':>7} "
              f"{'goal':>5}")
        for size in args.sizes:
            p = prepared[size]
            for workers in args.workers:
                for cache in ("warm", "cold"):
                    best = {}
                    for name in ("parquet", "dicom"):
                        rates = []
                        for r in range(args.repeat):
                            if cache == "cold":
                                fresh = work / f"cold{size}-{workers}-{name}-{r}"
                                if name == "parquet":
                                    shutil.copytree(p["curated"] / "images", fresh / "images")
                                    evict(fresh)
                                    for extra in ("splits.parquet",):
                                        if (p["curated"] / extra).exists():
                                            shutil.copy(p["curated"] / extra, fresh)
                                    loader = parquet_loader(fresh, workers, args.batch)
                                else:
                                    fresh.mkdir(parents=True)
                                    paths = []
                                    for i, f in enumerate(p["ct"]):
                                        shutil.copyfile(f, fresh / f"{i:05d}.dcm")
                                        paths.append(fresh / f"{i:05d}.dcm")
                                    evict(fresh)
                                    loader = dicom_loader(paths, workers, args.batch)
                            else:
                                loader = (parquet_loader(p["curated"], workers, args.batch) if name == "parquet"
                                          else dicom_loader(p["ct"], workers, args.batch))
                                timed(loader)  # warm the page cache (and the code paths)
                            rate, n = timed(loader)
                            assert n == len(p["ct"]), (name, n, len(p["ct"]))
                            rates.append(rate)
                            if cache == "cold":
                                shutil.rmtree(fresh)
                        best[name] = max(rates)
                    ratio = best["parquet"] / best["dicom"]
                    goal = GOAL_WARM if cache == "warm" else GOAL_COLD
                    met = ratio >= goal
                    if not met:
                        failed.append(f"{size}² {workers} workers {cache}: {ratio:.1f}x < {goal:.0f}x")
                    print(f"{size:>5} {workers:>7} {cache:<5} {best['parquet']:>14.0f} {best['dicom']:>12.0f} "
                          f"{ratio:>6.1f}x {'ok' if met else 'MISS':>5}")
    print()
    print(f"machine: {os.cpu_count()} cores, torch {torch.__version__}; compression {args.compression}; "
          f"batch {args.batch}; images per pass: "
          + ", ".join(f"{s}²: {len(prepared[s]['ct'])}" for s in args.sizes))
    if failed:
        print("goals not met: " + "; ".join(failed))
        return 1
    print("goals met: parquet >= 10x dicom warm, >= 20x cold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
