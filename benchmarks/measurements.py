"""Measurement extraction: precision, recall, F1 on synthetic truth and on annotated OpenI sentences.

Run: .venv/bin/python benchmarks/measurements.py [--patients 10] [--seed 7]

- Synthetic: a fresh export from `radcurate.synthesis.generate_export` in a temp folder; every size
  written in `ris/reports.csv` against `truth/measurements.parquet` (per accession, sizes matched one
  to one on axes, kind and timepoint).
- OpenI: real chest radiograph sentences with stated sizes, annotated by hand in
  `tests/data/openi_measurements.jsonl`; any size predicted elsewhere in those reports' findings and
  impressions counts as a false positive.
- Throughput: reports per second of `measurements_table` beside the finding miner
  (`radcurate.nlp.mine_reports`) on the 3,080 OpenI dev reports.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import pandas as pd

from radcurate.nlp.report_tables import mine_report_tables
from radcurate.nlp.measurements import match_counts, measurements_table

from openi_data import add_openi_option, find_openi, smoke_openi

ROOT = Path(__file__).resolve().parents[1]
ANNOTATIONS = ROOT / "tests" / "data" / "openi_measurements.jsonl"
TRUTH_KIND = {"organ": "other"}
COLUMNS = ["long_axis_mm", "short_axis_mm", "third_axis_mm", "kind", "timepoint"]


def prf(tp: int, n_pred: int, n_exp: int) -> tuple[float, float, float]:
    p = tp / n_pred if n_pred else 1.0
    r = tp / n_exp if n_exp else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def openi_reports(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path)
    text = "FINDINGS: " + df["findings"].fillna("") + "\nIMPRESSION: " + df["impression"].fillna("")
    return pd.DataFrame({"report_id": df["report_id"], "text": text})


def score_openi(path: Path | None, verbose: bool = False) -> tuple[int, int, int] | None:
    records = [json.loads(line) for line in ANNOTATIONS.read_text().splitlines() if line.strip()]
    if path is None:
        print("openi: skipped (the OpenI development CSV was not found; pass --openi PATH)")
        return None
    reports = openi_reports(path)
    ids = {r["report_id"] for r in records}
    reports = reports[reports["report_id"].isin(ids)]
    pred = measurements_table(reports)
    texts = dict(zip(reports["report_id"], reports["text"]))
    claimed = set()
    totals = Counter()
    for i, rec in enumerate(records):
        text = texts[rec["report_id"]]
        head = text.find("IMPRESSION: ") if rec["section"] == "impression" else 0
        start = text.find(rec["sentence"], head)
        end = start + len(rec["sentence"])
        rows = pred[(pred["report_id"] == rec["report_id"]) & (pred["char_start"] >= start) & (pred["char_start"] < end)]
        claimed |= set(rows.index)
        got = rows[COLUMNS].to_dict("records")
        tp, n_p, n_e = match_counts(got, rec["expected"])
        totals.update(tp=tp, pred=n_p, exp=n_e)
        if verbose and (tp != n_p or tp != n_e):
            print(f"  MISS {rec['report_id']}: {rec['sentence'][:90]}\n     got {got}\n     exp {rec['expected']}")
    stray = pred.drop(index=list(claimed))
    if verbose and len(stray):
        print("  outside annotated sentences:\n", stray[["report_id", "text", "kind"]].to_string())
    totals.update(pred=len(stray))
    return totals["tp"], totals["pred"], totals["exp"]


def score_synthetic(patients: int, seed: int, verbose: bool = False) -> tuple[int, int, int] | None:
    try:
        from radcurate.synthesis import generate_export
    except ImportError:
        print("synthetic: radcurate.synthesis.generate_export not available")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "export"
        generate_export(out, patients=patients, seed=seed)
        reports = pd.read_csv(out / "ris" / "reports.csv", dtype=str, keep_default_na=False)
        truth = pd.read_parquet(out / "truth" / "measurements.parquet")
        recist_truth = pd.read_parquet(out / "truth" / "recist.parquet")
    rows = mine_report_tables(reports, "accession", "report_text", patient_column="patient_id",
                       date_column="exam_date", topics=False)["recist"]
    joined = recist_truth.merge(rows, left_on="accession", right_on="report_id", how="outer", suffixes=("_truth", ""))
    agree = int((joined["response_truth"] == joined["response"]).sum())
    print(f"synthetic RECIST: {agree}/{len(recist_truth)} truth responses matched "
          f"({len(rows)} rows derived from report text)")
    pred = measurements_table(reports, id_column="accession", text_column="report_text")
    # truth/ knows four kinds; an organ's size (the aorta's calibre) is 'other' there
    pred["kind"] = pred["kind"].replace(TRUTH_KIND)
    totals = Counter()
    for acc in sorted(set(reports["accession"])):
        got = pred.loc[pred["report_id"] == acc, COLUMNS].to_dict("records")
        exp = truth.loc[truth["accession"] == acc, COLUMNS].to_dict("records")
        tp, n_p, n_e = match_counts(got, exp)
        totals.update(tp=tp, pred=n_p, exp=n_e)
        if verbose and (tp != n_p or tp != n_e):
            print(f"  MISS {acc}\n     got {got}\n     exp {exp}")
    as_lesion = 0
    not_findings = truth[truth["kind"].isin(["device", "other"])]
    for _, row in not_findings.iterrows():
        same = pred[(pred["report_id"] == row["accession"]) & (pred["long_axis_mm"] == row["long_axis_mm"])
                    & pred["short_axis_mm"].isna()]
        as_lesion += int(same["kind"].isin(["lesion", "lymph_node"]).any())
    print(f"synthetic: {len(reports)} reports; {len(not_findings)} device/technique/organ sizes in truth, "
          f"{as_lesion} of them reported as a lesion")
    return totals["tp"], totals["pred"], totals["exp"]


def throughput(path: Path | None) -> None:
    if path is None:
        return
    reports = openi_reports(path)
    t0 = time.perf_counter()
    measurements_table(reports)
    t_meas = time.perf_counter() - t0
    line = f"throughput on {len(reports)} OpenI reports: measurements {len(reports) / t_meas:,.0f} reports/s"
    try:
        from radcurate.nlp import mine_reports
    except ImportError:
        mine_reports = None
    if mine_reports is not None:
        t0 = time.perf_counter()
        mine_reports(reports, "report_id", ["text"])
        t_mine = time.perf_counter() - t0
        line += f"; finding miner alone {len(reports) / t_mine:,.0f} reports/s"
    else:
        line += "; finding miner (radcurate.nlp.mine_reports) not available"
    print(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=10)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--verbose", action="store_true")
    add_openi_option(ap)
    ap.add_argument("--smoke", action="store_true", help="smallest size, seconds: checks that the script runs (tests/test_benchmarks.py); not a measurement")
    args = ap.parse_args()
    if args.smoke:
        import tempfile

        args.patients = 2
        args.openi = smoke_openi(Path(tempfile.mkdtemp(prefix="openi-smoke-")))
    # the annotated OpenI reports are real OpenI ids: a smoke run's generated set has none of them
    openi_counts = None if args.smoke else score_openi(find_openi(args.openi), args.verbose)
    for name, counts in (("synthetic", score_synthetic(args.patients, args.seed, args.verbose)),
                         ("openi", openi_counts)):
        if counts is None:
            continue
        p, r, f = prf(*counts)
        print(f"{name:10s} tp={counts[0]} predicted={counts[1]} expected={counts[2]}  "
              f"precision={p:.3f} recall={r:.3f} F1={f:.3f}")
    throughput(find_openi(args.openi))


if __name__ == "__main__":
    main()
