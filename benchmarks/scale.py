"""Does the driver's memory stay flat as the export grows? ingest -> labeling on growing exports.

For each export size (synthetic patients, small CT) and each worker count, ``radcurate run`` runs in a
fresh child process; we print files/s and the peak RSS of that driver process (Dask workers are
separate processes and not counted). Goals: driver peak RSS flat within 20 % from the second size
on; 2 workers near twice as fast as 1 on the largest size.

    .venv/bin/python benchmarks/scale.py [--patients 50,200,800] [--workers 1,2] [--keep DIR]

Ingest and deid tasks write the per-image tables' parts themselves (``deid_audit`` has ~80 rows per
image), so what is left on the driver is per series, per report and per stage. The driver's peak
after each stage is printed too, to show which stage grows. With ``--keep`` a rerun reuses the
exports it generated.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, re, resource, sys, time
from radcurate.dags.runner import run_pipeline
dicom, reports, out, workers = sys.argv[1:5]
stages = {}

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def log(line):  # the driver's peak RSS when each stage finished
    m = re.match(r"\[(\w+)\]", line)
    if m:
        stages[m.group(1)] = round(peak_mb())

if __name__ == "__main__":
    t = time.perf_counter()
    report = run_pipeline({"dicom": dicom, "reports": reports}, out, workers=int(workers), log=log)
    seconds = time.perf_counter() - t
    files = report.outcomes[0].result.get("files_found", 0)
    print(json.dumps({"ok": report.ok, "seconds": seconds, "files": files, "peak_rss_mb": peak_mb(),
                      "stages": stages}))
"""


def _same_export(folder: Path, patients: int, config) -> bool:
    """Is ``folder`` a finished export of this size and config (its truth/export.json says so)?"""
    import dataclasses

    try:
        info = json.loads((folder / "truth" / "export.json").read_text())
    except (OSError, ValueError):
        return False
    return info.get("patients") == patients and info.get("seed") == 1 and info.get("config") == dataclasses.asdict(config)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", default="50,200,800", help="export sizes, comma-separated")
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--ct-slices", type=int, default=12, help="slices per CT series (small: fast)")
    parser.add_argument("--ct-size", type=int, default=64, help="rows = columns of a CT slice (small: fast)")
    parser.add_argument("--dx-size", type=int, default=128, help="rows = columns of a radiograph (small: fast)")
    parser.add_argument("--keep", metavar="DIR", help="keep exports and outputs here")
    parser.add_argument("--smoke", action="store_true", help="smallest size, seconds: checks that the script runs (tests/test_benchmarks.py); not a measurement")
    args = parser.parse_args()
    if args.smoke:
        args.patients, args.workers, args.ct_slices, args.ct_size, args.dx_size = "2", "1", 8, 32, 64
    from radcurate.synthesis import generate_export
    from radcurate.synthesis.config import ExportConfig

    sizes = [int(x) for x in args.patients.split(",")]
    workers = [int(x) for x in args.workers.split(",")]
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="radcurate-scale-"))
    rows = []
    print(f"{'patients':>8} {'files':>6} {'workers':>7} {'seconds':>8} {'files/s':>8} {'driver peak RSS MB':>19}")
    for n in sizes:
        config = ExportConfig(ct_slices=args.ct_slices, ct_size=args.ct_size, dx_size=args.dx_size)
        export = root / f"export{n}"
        if _same_export(export, n, config):  # --keep: a rerun reuses the exports it generated
            print(f"(reusing {export})", file=sys.stderr)
        else:
            export = generate_export(export, patients=n, seed=1, config=config)
        for w in workers:
            out = root / f"out{n}_w{w}"
            proc = subprocess.run([sys.executable, "-c", CHILD, str(export / "pacs"), str(export / "ris/reports.csv"),
                                   str(out), str(w)], capture_output=True, text=True, env=os.environ.copy())
            if proc.returncode != 0:
                print(proc.stderr[-2000:], file=sys.stderr)
                return 1
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            manifest = json.loads((out / "manifest.json").read_text())
            r["stage_seconds"] = {k: v.get("seconds", 0.0) for k, v in manifest["stages"].items()}
            rows.append({"patients": n, "workers": w, **r})
            print(f"{n:>8} {r['files']:>6} {w:>7} {r['seconds']:>8.1f} {r['files'] / r['seconds']:>8.1f} "
                  f"{r['peak_rss_mb']:>19.0f}{'' if r['ok'] else '  (run not OK)'}   by stage: "
                  + " ".join(f"{k} {v}" for k, v in r["stages"].items()), flush=True)
    failed = []
    for w in workers:
        rss = [r["peak_rss_mb"] for r in rows if r["workers"] == w]
        if len(rss) >= 3:
            growth = rss[-1] / rss[1] - 1
            print(f"workers {w}: driver RSS from size 2 to size {len(rss)}: {growth:+.0%} (goal: within 20 %)")
            if growth > 0.2:
                failed.append(f"RSS grows {growth:+.0%} with {w} worker(s)")
    if len(workers) >= 2:
        last = [r for r in rows if r["patients"] == sizes[-1]]
        speedup = last[0]["seconds"] / last[-1]["seconds"]
        print(f"speedup {workers[-1]} vs {workers[0]} workers on {sizes[-1]} patients: {speedup:.2f}x "
              f"(goal: near {workers[-1] / workers[0]:.0f}x); per stage (seconds {workers[0]} -> {workers[-1]} "
              "workers): " + ", ".join(
                  f"{k} {a:.1f} -> {last[-1]['stage_seconds'].get(k, 0):.1f} "
                  f"({a / max(last[-1]['stage_seconds'].get(k, 0), 1e-9):.2f}x)"
                  for k, a in last[0]["stage_seconds"].items()))
    if failed:
        print("goal not met: " + "; ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
