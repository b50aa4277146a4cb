"""Does the driver's memory stay flat as the export grows? ingest -> labeling on growing exports.

For each export size (synthetic patients, small CT) and each worker count, ``radcurate run`` runs in a
fresh child process; we print files/s and the peak RSS of that driver process (Dask workers are
separate processes and not counted). Goals: driver peak RSS flat within 20 % from the second size
on; 2 workers near twice as fast as 1 on the largest size.

    .venv/bin/python benchmarks/scale.py [--patients 8,32,128] [--workers 1,2] [--ct-slices 12]

Today every table is gathered on the driver and written as one Parquet file, so RSS grows with
the number of images (``deid_audit`` has ~80 rows per image): this benchmark is the measuring stick
for moving table writes onto the workers.
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
import json, resource, sys, time
from radcurate.dags.runner import run_pipeline
dicom, reports, out, workers = sys.argv[1:5]
t = time.perf_counter()
report = run_pipeline({"dicom": dicom, "reports": reports}, out, workers=int(workers), log=lambda line: None)
seconds = time.perf_counter() - t
files = report.outcomes[0].result.get("files_found", 0)
print(json.dumps({"ok": report.ok, "seconds": seconds, "files": files,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", default="8,32,128", help="export sizes, comma-separated")
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--ct-slices", type=int, default=12, help="slices per CT series (small: fast)")
    parser.add_argument("--keep", metavar="DIR", help="keep exports and outputs here")
    args = parser.parse_args()
    from radcurate.synthesis import generate_export
    from radcurate.synthesis.config import ExportConfig

    sizes = [int(x) for x in args.patients.split(",")]
    workers = [int(x) for x in args.workers.split(",")]
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="radcurate-scale-"))
    rows = []
    print(f"{'patients':>8} {'files':>6} {'workers':>7} {'seconds':>8} {'files/s':>8} {'driver peak RSS MB':>19}")
    for n in sizes:
        export = generate_export(root / f"export{n}", patients=n, seed=1, config=ExportConfig(ct_slices=args.ct_slices))
        for w in workers:
            out = root / f"out{n}_w{w}"
            proc = subprocess.run([sys.executable, "-c", CHILD, str(export / "pacs"), str(export / "ris/reports.csv"),
                                   str(out), str(w)], capture_output=True, text=True, env=os.environ.copy())
            if proc.returncode != 0:
                print(proc.stderr[-2000:], file=sys.stderr)
                return 1
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append({"patients": n, "workers": w, **r})
            print(f"{n:>8} {r['files']:>6} {w:>7} {r['seconds']:>8.1f} {r['files'] / r['seconds']:>8.1f} "
                  f"{r['peak_rss_mb']:>19.0f}{'' if r['ok'] else '  (run not OK)'}")
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
              f"(goal: near {workers[-1] / workers[0]:.0f}x)")
    if failed:
        print("goal not met: " + "; ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
