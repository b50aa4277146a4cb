"""Lesion table against truth: diameters, links, and weak-mask Dice, ellipse beside GrabCut refinement.

Generates a synthetic export with the readers' GSPS/SR measurements, runs ingest -> deid -> nlp ->
lesions (twice: ``mask_method`` ellipse, then grabcut) and compares with ``truth/annotations``:

* diameter error (|drawn - true| long and short axis, mm) and the planted bound (2 x endpoint error);
* link accuracy: annotated lesions the report states, linked to the measurement with the stated size;
* Dice of each weak mask against the phantom's true cross-section on that slice (occupancy >= 0.5).

    python benchmarks/lesions.py [--patients 8] [--seed 3]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def true_mask(t, box) -> np.ndarray:
    x0, y0, x1, y1 = box
    yy, xx = np.mgrid[y0:y1, x0:x1] + 0.5
    u = (xx - t.center_col) * math.cos(t.angle_rad) + (yy - t.center_row) * math.sin(t.angle_rad)
    v = -(xx - t.center_col) * math.sin(t.angle_rad) + (yy - t.center_row) * math.cos(t.angle_rad)
    return ((u / t.semi_long_px) ** 2 + (v / t.semi_short_px) ** 2) <= 1


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2 * float((a & b).sum()) / max(1, int(a.sum() + b.sum()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patients", type=int, default=8)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_lesions_"))
    secret = tmp / "secret.key"
    secret.write_bytes(b"bench-lesions-secret-" + b"x" * 40)
    os.environ["RADCURATE_SECRET_FILE"] = str(secret)
    from radcurate.dags.pipeline import StageContext
    from radcurate.dags.stages import nlp_stage
    from radcurate.deid import run_deid
    from radcurate.deid.keys import Keyer
    from radcurate.ingest import run_ingest
    from radcurate.lesions import LesionsConfig, run_lesions
    from radcurate.synthesis import ExportConfig, generate_export

    export = generate_export(tmp / "export", args.patients, args.seed, config=ExportConfig(annotations=True))
    out = tmp / "out"
    run_ingest(export / "pacs", export / "ris/reports.csv", out)
    run_deid(out)
    nlp_stage(StageContext(out_dir=out, inputs={}, config={"topics": False}))
    keyer = Keyer.from_secret_file()
    truth = pd.read_parquet(export / "truth/annotations.parquet")
    lt = pd.read_parquet(export / "truth/lesions.parquet").set_index(["accession", "lesion_id"])
    results = {}
    for method in ("ellipse", "grabcut"):
        t0 = time.perf_counter()
        counts = run_lesions(out, LesionsConfig(mask_method=method))
        secs = time.perf_counter() - t0
        lesions = pd.read_parquet(out / "curated/lesions.parquet")
        drawn = lesions[lesions["source"] != "report"]
        dices, long_err, short_err, linked_right, stated = [], [], [], 0, 0
        for t in truth.itertuples():
            c = drawn[(drawn["study_key"] == keyer.study_key(t.accession)) & (drawn["instance_number"] == t.instance_number)
                      & ((drawn["long_x0"] - t.long_x0).abs() < 1e-3)]
            if len(c) != 1:
                continue
            r = c.iloc[0]
            box = tuple(int(r[k]) for k in ("box_x0", "box_y0", "box_x1", "box_y1"))
            mask = np.frombuffer(r["mask"], np.uint8).reshape(box[3] - box[1], box[2] - box[0]).astype(bool)
            dices.append(dice(mask, true_mask(t, box)))
            long_err.append(abs(r["long_axis_mm"] - t.true_long_mm))
            short_err.append(abs(r["short_axis_mm"] - t.true_short_mm))
            if t.stated_in_report:
                stated += 1
                s = lt.loc[(t.accession, t.lesion_id)]
                linked_right += bool(pd.notna(r["report_key"]) and r["report_short_axis_mm"] == s.stated_short_mm
                                     and (pd.isna(s.stated_long_mm) or r["report_long_axis_mm"] == s.stated_long_mm))
        results[method] = dict(dice=np.array(dices), long=np.array(long_err), short=np.array(short_err),
                               links=(linked_right, stated), counts=counts, seconds=secs)
    e, g = results["ellipse"], results["grabcut"]
    n = len(truth)
    print(f"lesions benchmark: {args.patients} patients, seed {args.seed}: {n} annotated lesions "
          f"({(truth['source'] == 'GSPS').sum()} GSPS, {(truth['source'] == 'SR').sum()} SR crosses), "
          f"{e['counts']['lesions']} lesion rows ({e['counts']['report_only']} from report text only)")
    bound = 2 * float(truth["max_endpoint_error_mm"].max())
    print(f"diameter error vs truth (mm): long mean {e['long'].mean():.2f} max {e['long'].max():.2f}; "
          f"short mean {e['short'].mean():.2f} max {e['short'].max():.2f}; planted bound {bound:.1f}")
    right, stated = e["links"]
    print(f"links right: {right}/{stated} = {right / max(1, stated):.1%} (goal >= 95 %)")
    print(f"{'weak mask':<10}{'Dice mean':>10}{'median':>8}{'min':>7}{'seconds':>9}")
    for name, r in (("ellipse", e), ("grabcut", g)):
        d = r["dice"]
        print(f"{name:<10}{d.mean():>10.3f}{np.median(d):>8.3f}{d.min():>7.3f}{r['seconds']:>9.2f}")
    print(f"grabcut / ellipse mean Dice: {g['dice'].mean() / e['dice'].mean():.3f}")
    rec = pd.read_parquet(out / "curated/recist_images.parquet")
    both = rec[rec["text_response"].notna()]
    if len(both):
        print(f"RECIST from annotations vs report text: response agrees on {int(both['response_agrees'].sum())}/"
              f"{len(both)} studies, |sum difference| mean {both['sum_difference_mm'].abs().mean():.1f} mm")
    ok = right / max(1, stated) >= 0.95 and e["long"].max() <= bound + 0.05 and e["short"].max() <= bound + 0.05
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
