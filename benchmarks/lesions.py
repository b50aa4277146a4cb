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


def write_panel(path: Path, out: Path, ellipse: list, grabcut: list, n: int = 12, zoom: int = 6) -> None:
    """Crops of the first ``n`` lesions with the true outline, both weak masks and the drawn cross."""
    import cv2

    from radcurate.lesions.masks import window
    from radcurate.lesions.run import slice_hu

    inst = pd.read_parquet(out / "curated/instances.parquet", columns=["instance_key", "path"]).set_index("instance_key")
    tiles = []
    for (t, r, box, em), (_, _, gbox, gm) in list(zip(ellipse, grabcut))[:n]:
        x0, y0, x1, y1 = box
        img = window(slice_hu(out / "curated" / inst.loc[r["instance_key"], "path"]))[y0:y1, x0:x1]
        tile = cv2.resize(cv2.cvtColor(img, cv2.COLOR_GRAY2BGR), None, fx=zoom, fy=zoom,
                          interpolation=cv2.INTER_NEAREST)
        for m, colour in ((true_mask(t, box), (0, 200, 0)), (em, (255, 80, 0)), (gm, (0, 0, 255))):
            big = cv2.resize(m.astype(np.uint8), None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)
            contours, _ = cv2.findContours(big, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(tile, contours, -1, colour, 1)
        for a in ("long", "short"):
            pts = [(int((r[f"{a}_x{i}"] - x0) * zoom), int((r[f"{a}_y{i}"] - y0) * zoom)) for i in (0, 1)]
            if not any(pd.isna(r[f"{a}_x{i}"]) for i in (0, 1)):
                cv2.line(tile, pts[0], pts[1], (0, 220, 255), 1)
        tiles.append(cv2.copyMakeBorder(cv2.resize(tile, (160, 160)), 2, 2, 2, 2, cv2.BORDER_CONSTANT))
    if not tiles:
        return
    while len(tiles) % 4:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i:i + 4]) for i in range(0, len(tiles), 4)]
    cv2.imwrite(str(path), np.vstack(rows))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patients", type=int, default=8)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--png", default=None, help="sample panel (default: in the run's temp folder): true outline "
                                                "green, ellipse blue, GrabCut red, drawn cross yellow")
    ap.add_argument("--truth-masks", default=None, metavar="FILE",
                    help="also write the true lesion masks keyed to the curated images, in the lesions.parquet "
                         "layout (radcurate evaluate RUN --truth-masks FILE scores a segmenter against them)")
    ap.add_argument("--smoke", action="store_true", help="smallest size, seconds: checks that the script runs (tests/test_benchmarks.py); not a measurement")
    args = ap.parse_args()
    if args.smoke:
        args.patients = 2
    tmp = Path(tempfile.mkdtemp(prefix="bench_lesions_"))
    secret = tmp / "secret.key"
    secret.write_bytes(b"bench-lesions-secret-" + b"x" * 40)
    secret.chmod(0o600)  # de-id refuses a secret that others can read
    os.environ["RADCURATE_SECRET_FILE"] = str(secret)
    from radcurate.nlp.stage import nlp_stage
    from radcurate.stage import StageContext
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
    truth_rows: list[dict] = []
    for method in ("ellipse", "grabcut"):
        t0 = time.perf_counter()
        counts = run_lesions(out, LesionsConfig(mask_method=method))
        secs = time.perf_counter() - t0
        lesions = pd.read_parquet(out / "curated/lesions.parquet")
        drawn = lesions[lesions["source"] != "report"]
        dices, long_err, short_err, linked_right, stated, samples = [], [], [], 0, 0, []
        for t in truth.itertuples():
            c = drawn[(drawn["study_key"] == keyer.study_key(t.accession)) & (drawn["instance_number"] == t.instance_number)
                      & ((drawn["long_x0"] - t.long_x0).abs() < 1e-3)]
            if len(c) != 1:
                continue
            r = c.iloc[0]
            box = tuple(int(r[k]) for k in ("box_x0", "box_y0", "box_x1", "box_y1"))
            mask = np.frombuffer(r["mask"], np.uint8).reshape(box[3] - box[1], box[2] - box[0]).astype(bool)
            dices.append(dice(mask, true_mask(t, box)))
            if method == "ellipse":  # the true mask on a box around the whole true ellipse
                r_px = float(t.semi_long_px) + 1.0
                tb = (max(0, int(math.floor(t.center_col - r_px))), max(0, int(math.floor(t.center_row - r_px))),
                      int(math.ceil(t.center_col + r_px)), int(math.ceil(t.center_row + r_px)))
                truth_rows.append({"instance_key": r["instance_key"], "box_x0": tb[0], "box_y0": tb[1], "box_x1": tb[2],
                                   "box_y1": tb[3], "mask": true_mask(t, tb).astype(np.uint8).tobytes()})
            samples.append((t, r, box, mask))
            long_err.append(abs(r["long_axis_mm"] - t.true_long_mm))
            short_err.append(abs(r["short_axis_mm"] - t.true_short_mm))
            if t.stated_in_report:
                stated += 1
                s = lt.loc[(t.accession, t.lesion_id)]
                linked_right += bool(pd.notna(r["report_key"]) and r["report_short_axis_mm"] == s.stated_short_mm
                                     and (pd.isna(s.stated_long_mm) or r["report_long_axis_mm"] == s.stated_long_mm))
        results[method] = dict(dice=np.array(dices), long=np.array(long_err), short=np.array(short_err),
                               links=(linked_right, stated), counts=counts, seconds=secs, samples=samples)
    e, g = results["ellipse"], results["grabcut"]
    n = len(truth)
    print(f"lesions benchmark: {args.patients} patients, seed {args.seed}: {n} annotated lesions "
          f"({(truth['source'] == 'GSPS').sum()} GSPS, {(truth['source'] == 'SR').sum()} SR crosses), "
          f"{e['counts']['lesions']} lesion rows ({e['counts']['report_only']} from report text only)")
    bound = 2 * float(truth["max_endpoint_error_mm"].max())
    print(f"diameter error vs truth (mm): long mean {e['long'].mean():.2f} max {e['long'].max():.2f}; "
          f"short mean {e['short'].mean():.2f} max {e['short'].max():.2f}; planted bound {bound:.1f}")
    if e["counts"].get("pixels_blanked"):
        print(f"note: {e['counts']['pixels_blanked']} lesion box(es) overlap a region de-id blanked as burned-in "
              f"text (their masks are scored against an erased slice)")
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
    png = Path(args.png) if args.png else tmp / "lesions_masks.png"
    write_panel(png, out, e["samples"], g["samples"])
    print(f"sample masks: {png}")
    if args.truth_masks:
        table = pd.DataFrame(truth_rows).astype({c: "int32" for c in ("box_x0", "box_y0", "box_x1", "box_y1")})
        table.to_parquet(args.truth_masks, index=False)
        print(f"true masks of {len(table)} lesions keyed to the curated images: {args.truth_masks}")
    ok = right / max(1, stated) >= 0.95 and e["long"].max() <= bound + 0.05 and e["short"].max() <= bound + 0.05
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
