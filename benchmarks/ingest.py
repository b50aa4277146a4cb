"""Ingest throughput (files/s) beside a plain single-process pydicom loop, on the same tree.

The peer is what one would write by hand: ``dcmread(path, stop_before_pixels=True)`` plus a
SHA-256 of the file, one file after another. radcurate's ingest does the same per file (and
more: pixel-length checks, manifests, duplicates, Parquet output) in batches on Dask.

    .venv/bin/python benchmarks/ingest.py [--files 3000] [--repeat 3] [--workers 1,2]

The tree is generated from pydicom's small test images (new UIDs per copy, nested folders, half
without extension), so every file is a distinct instance. Files are read once before timing so
every contender reads from the page cache. Rounds interleave the contenders (a shared
machine's load then hits all alike); the best round of each is compared.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import pydicom
import pydicom.data
from pydicom.uid import generate_uid
from radcurate.ingest import run_ingest

TEMPLATES = [
    "CT_small.dcm",
    "MR_small.dcm",
    "MR_small_RLE.dcm",
    "SC_rgb_small_odd.dcm",
    "JPEG2000.dcm",
    "rtdose_1frame.dcm",
]


def make_tree(root: Path, n: int) -> list[Path]:
    data = Path(pydicom.data.__file__).parent / "test_files"
    templates = [pydicom.dcmread(data / name) for name in TEMPLATES]
    paths = []
    for i in range(n):
        ds = templates[i % len(templates)]
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        if i % 50 == 0:
            ds.SeriesInstanceUID = generate_uid()
            ds.StudyInstanceUID = generate_uid() if i % 200 == 0 else ds.StudyInstanceUID
        folder = root / f"P{i // 400:03d}" / f"S{i // 50:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (f"IM{i:05d}.dcm" if i % 2 else f"IM{i:05d}")
        ds.save_as(path)
        paths.append(path)
    return paths


def plain_loop(paths: list[Path]) -> int:
    """The peer: header without pixels, then a hash of the file, one file at a time."""
    n = 0
    for p in paths:
        ds = pydicom.dcmread(p, stop_before_pixels=True)
        with open(p, "rb") as fh:
            hashlib.sha256(fh.read()).hexdigest()
        n += bool(ds.SOPInstanceUID)
    return n


def _cpu_seconds() -> float:
    """CPU time (user + system) of the calling process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_of(client) -> tuple[float, dict[str, float]]:
    """CPU seconds used so far by this process and, with a client, by each of its workers."""
    return _cpu_seconds(), (client.run(_cpu_seconds) if client is not None else {})


def cpu_delta(before, after) -> tuple[float, float]:
    """(total CPU, CPU on the critical path: this process + the busiest worker) between two reads."""
    own = after[0] - before[0]
    workers = [after[1][k] - before[1][k] for k in after[1]]
    return own + sum(workers), own + max(workers, default=0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", default="1,2", help="local Dask worker counts to time")
    ap.add_argument("--smoke", action="store_true", help="smallest size, seconds: checks that the script runs (tests/test_benchmarks.py); not a measurement")
    args = ap.parse_args()
    if args.smoke:
        args.files, args.repeat, args.workers = 40, 1, "1"
    from radcurate.cluster import open_client

    with tempfile.TemporaryDirectory(prefix="radcurate-bench-") as tmp:
        tmp = Path(tmp)
        paths = make_tree(tmp / "pacs", args.files)
        size = sum(p.stat().st_size for p in paths)
        for p in paths:  # warm the page cache for everyone
            p.read_bytes()
        load = os.getloadavg()[0]
        print(
            f"tree: {len(paths)} files, {size / 1e6:.1f} MB; {os.cpu_count()} cores; load average {load:.2f}"
        )
        contenders = {  # name -> (function, client whose workers' CPU counts too)
            "plain pydicom loop (1 process)": (lambda: plain_loop(paths), None),
            "radcurate ingest, in-process": (lambda: run_ingest(tmp / "pacs", None, tmp / "out0"), None),
        }
        with contextlib.ExitStack() as stack:
            for w in [int(x) for x in args.workers.split(",") if x]:
                client = stack.enter_context(open_client(workers=w))
                run_ingest(tmp / "pacs", None, tmp / f"warm{w}", client=client)  # workers import pydicom
                contenders[f"radcurate ingest, Dask {w} worker{'s' if w > 1 else ''}"] = (
                    lambda c=client, w=w: run_ingest(tmp / "pacs", None, tmp / f"out{w}", client=c),
                    client,
                )
            # Rounds interleave the contenders so that each sees the same background load.
            times: dict[str, list[float]] = {name: [] for name in contenders}
            cpus: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
            for _ in range(args.repeat):
                for name, (fn, client) in contenders.items():
                    c0, t0 = cpu_of(client), time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - t0)
                    cpus[name].append(cpu_delta(c0, cpu_of(client)))
        plain = "plain pydicom loop (1 process)"
        base, base_cpu = min(times[plain]), min(c for _, c in cpus[plain])
        n = len(paths)
        print(f"{'contender':<36}{'best s':>7}{'median s':>9}{'files/s':>9}{'vs plain':>9}", end="")
        print(f"{'CPU ms/file':>12}{'CPU-bound vs plain':>20}")
        for name, ts in times.items():
            best, median = min(ts), statistics.median(ts)
            total, critical = min(cpus[name], key=lambda c: c[1])
            print(f"{name:<36}{best:>7.2f}{median:>9.2f}{n / best:>9.0f}{base / best:>8.2f}x", end="")
            print(f"{total / n * 1000:>12.3f}{base_cpu / critical:>19.2f}x")
        print(
            "CPU-bound vs plain: the plain loop's CPU time over this contender's critical-path CPU time "
            "(driver + busiest worker), i.e. the speed-up on otherwise idle cores."
        )
        load = os.getloadavg()[0]
        print(f"load average after: {load:.2f} (shared machine: best of {args.repeat} interleaved rounds)")


if __name__ == "__main__":
    main()
