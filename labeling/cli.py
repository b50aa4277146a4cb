"""Command line of the labeling stage: review queue, review import, label evaluation, labels.

    radcurate review export --mined DIR --n 50 --out review.csv [--reports FILE] [--store DIR]
    radcurate review export --mined DIR --n 50 --format label-studio --out PROJECT_DIR
    radcurate review export --mined DIR --n 50 --format html --out review.html
    radcurate review import review.csv --store DIR [--mined DIR]
    radcurate review import export.json --format label-studio --store DIR [--mined DIR]
    radcurate eval-labels --gold openi_dev.csv --pred DIR/labels.parquet
    radcurate label --mined DIR --out DIR [--reviewed FILE]
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd



def register(subparsers) -> None:
    review = subparsers.add_parser(
        "review", help="ask a human about the reports whose labels are least certain",
        description="Export a batch of reports for human review, or import the filled file.")
    rsub = review.add_subparsers(dest="review_command", metavar="ACTION")
    ex = rsub.add_parser(
        "export", help="write the K most useful reports to review (CSV or JSONL)",
        description="Rank reports by label-model uncertainty and rule disagreement, spread the "
                    "batch over LDA topics, and write text with **evidence**, current labels "
                    "and blank finding columns to fill with 1 / 0 / -1 (blank: not mentioned).")
    ex.add_argument("--mined", required=True, help="folder with the miner's tables (radcurate mine --out)")
    ex.add_argument("--n", type=int, required=True, help="how many reports to put in the batch")
    ex.add_argument("--out", required=True, help="review file to write (.csv or .jsonl); a "
                                                 "folder for label-studio; a .html page for html")
    ex.add_argument("--format", default="table", choices=["table", "label-studio", "html"],
                    help="table: CSV/JSONL by --out's suffix; label-studio: a project folder "
                         "(config.xml + pre-annotated tasks.json); html: one static review page")
    ex.add_argument("--seed", type=int, default=0, help="breaks ties reproducibly")
    ex.add_argument("--reports", help="report text (CSV/Parquet with report_id and text or "
                                      "findings/impression) when the mined folder has none")
    ex.add_argument("--store", help="review store: reports already reviewed are not asked again")
    ex.set_defaults(func=_export)
    im = rsub.add_parser(
        "import", help="validate a filled review file and store its answers",
        description="Check every row (known report id, finding columns, values 1 / 0 / -1 / "
                    "blank) and store the answers in DIR/reviewed.csv. A file with any bad row "
                    "is rejected whole; each problem is listed with its line number.")
    im.add_argument("file", help="the filled review file (.csv or .jsonl, or Label Studio's "
                                 "JSON export with --format label-studio)")
    im.add_argument("--format", default="table", choices=["table", "label-studio"],
                    help="label-studio: Label Studio's JSON export; several reviewers per "
                         "report are kept (reviewers.csv) and their agreement printed")
    im.add_argument("--store", required=True, help="folder holding reviewed.csv")
    im.add_argument("--mined", help="mined folder: report ids not in it are rejected")
    im.set_defaults(func=_import)
    review.set_defaults(func=lambda a: (review.print_help(), 2)[1])

    ev = subparsers.add_parser(
        "eval-labels", help="score labels against a gold file (P / R / F1, bootstrap 95%% CI)",
        description="Per-finding precision, recall, F1 and confusion of predicted labels against "
                    "gold labels, with 95% confidence intervals from a bootstrap over reports. "
                    "A finding counts as predicted only when labelled 1.")
    ev.add_argument("--gold", required=True, help="gold labels: wide (report_id + finding "
                                                  "columns, like openi_dev.csv) or long")
    ev.add_argument("--pred", required=True, help="predicted labels (labels.parquet or CSV)")
    ev.add_argument("--vocabulary", default="chestxray14", choices=["chestxray14", "chexpert"])
    ev.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (0: no CIs)")
    ev.add_argument("--seed", type=int, default=0)
    ev.set_defaults(func=_eval)

    lab = subparsers.add_parser(
        "label", help="weak labels with probability and sources from mined tables",
        description="Combine the rule miner's evidence with a label model (and reviewed labels, "
                    "when given) into OUT/labels.parquet.")
    lab.add_argument("--mined", required=True, help="folder with the miner's tables")
    lab.add_argument("--out", required=True, help="folder to write labels.parquet into")
    lab.add_argument("--reviewed", help="reviewed labels, wide layout (report_id + findings)")
    lab.set_defaults(func=_label)


def _read_any(path: str) -> pd.DataFrame:
    p = Path(path)
    if p.suffix.lower() == ".parquet":
        return pd.read_parquet(p)
    if p.suffix.lower() in (".jsonl", ".ndjson"):
        return pd.read_json(p, lines=True, dtype={"report_id": str})
    return pd.read_csv(p, dtype={"report_id": str})


def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def _export(args) -> int:
    from .mined import read_mined
    from .review import export_label_studio, export_review, export_review_page, load_reviewed

    if args.n <= 0:
        return _fail("--n must be a positive number of reports")
    try:
        mined = read_mined(args.mined)
        if args.reports:
            mined["reports"] = _read_any(args.reports)
        reviewed = load_reviewed(args.store) if args.store else None
        write = {"table": export_review, "label-studio": export_label_studio,
                 "html": export_review_page}[args.format]
        path = write(mined, args.n, args.out, seed=args.seed, reviewed=reviewed)
    except (OSError, ValueError, KeyError) as exc:
        return _fail(f"cannot export a review batch: {exc}")
    if args.format == "label-studio":
        import json

        n = len(json.loads((path / "tasks.json").read_text(encoding="utf-8")))
        print(f"wrote a Label Studio project with {n} pre-annotated reports into {path} "
              f"(config.xml, tasks.json); create a project with that labeling config, import "
              f"tasks.json, review, export as JSON, then run `radcurate review import FILE "
              f"--format label-studio --store DIR`")
        return 0
    if args.format == "html":
        print(f"wrote a review page into {path}; open it in a browser, review, press Save, then "
              f"run `radcurate review import review-answers.jsonl --store DIR`")
        return 0
    n = sum(1 for _ in open(path, encoding="utf-8")) if path.suffix == ".jsonl" else \
        len(pd.read_csv(path))
    print(f"wrote {n} reports to review into {path}; fill the finding columns with 1 (present), "
          f"0 (absent), -1 (uncertain) or leave blank, then run `radcurate review import {path} "
          f"--store DIR`")
    return 0


def _import(args) -> int:
    from .functions import normalize_mined, report_ids
    from .mined import read_mined
    from .review import import_label_studio, import_review

    known = None
    if args.mined:
        try:
            known = set(report_ids(normalize_mined(read_mined(args.mined))))
        except (OSError, ValueError) as exc:
            return _fail(str(exc))
    read = import_label_studio if args.format == "label-studio" else import_review
    result = read(args.file, args.store, known_ids=known)
    if not result.ok:
        print(f"rejected {args.file}: {len(result.errors)} problem(s); nothing was stored",
              file=sys.stderr)
        for e in result.errors[:50]:
            print(f"  {e}", file=sys.stderr)
        if len(result.errors) > 50:
            print(f"  ... and {len(result.errors) - 50} more", file=sys.stderr)
        return 2
    print(f"stored {result.n_stored} reviewed report(s) in {result.path}"
          + (f"; {result.n_blank} row(s) left blank were skipped" if result.n_blank else ""))
    if result.agreement is not None and result.agreement["reports"].max() > 0:
        a = result.agreement[result.agreement["reports"] > 0]
        print("agreement between reviewers (reports with 2+ reviewers; kappa over positive / "
              "negative / uncertain / not mentioned):")
        print(a.to_string(index=False, float_format=lambda x: f"{x:.3f}", na_rep="n/a"))
    return 0


def _eval(args) -> int:
    from .evaluate import evaluate_labels

    try:
        gold, pred = _read_any(args.gold), _read_any(args.pred)
        report = evaluate_labels(gold, pred, vocabulary=args.vocabulary, n_boot=args.n_boot,
                                 seed=args.seed)
    except (OSError, ValueError, KeyError) as exc:
        return _fail(f"cannot evaluate: {exc}")
    from .functions import normalize_mined

    norm = normalize_mined({"gold": gold, "pred": pred})
    gold_ids = set(map(str, norm["gold"]["report_id"])) if "report_id" in norm["gold"].columns else set()
    pred_ids = set(map(str, norm["pred"]["report_id"])) if "report_id" in norm["pred"].columns else set()
    matched = len(gold_ids & pred_ids)
    if gold_ids and not matched:  # every score would be 0 for a reason that is not the labeller's
        return _fail(f"none of the {len(gold_ids)} gold report ids is in {args.pred}: check that both "
                     "files use the same report_id (e.g. the accession, or mine's --id-column)")
    print(report.table())
    if matched < len(gold_ids):
        print(f"warning: {len(gold_ids) - matched} of {len(gold_ids)} gold reports have no prediction "
              "(scored as predicting nothing)", file=sys.stderr)
    return 0


def _label(args) -> int:
    from .build import run_labeling

    try:
        summary = run_labeling(args.mined, args.out, reviewed=args.reviewed)
    except (OSError, ValueError, KeyError) as exc:
        return _fail(f"cannot label: {exc}")
    print(f"{summary['rows']} labels for {summary['reports']} reports "
          f"({summary['reviewed_reports']} reviewed): {summary['positive']} positive, "
          f"{summary['negative']} negative, {summary['uncertain']} uncertain, "
          f"{summary['not_mentioned']} not mentioned -> {summary['labels']}")
    return 0


# --- the label-model half of `radcurate mine --reviewed` (composed by the command line root) -----


def add_reviewed_argument(p) -> None:
    p.add_argument("--reviewed", default=None, metavar="FILE",
                   help="human-reviewed labels, wide layout (report_id + one column per finding, 1/0/-1/blank)")


def reviewed_labeler(path: str):
    """A labeler for ``radcurate mine``: mined tables (keyed by report_id) -> (labels from the
    label model with ``path``'s reviewed labels kept, their schema). The file is read now, so a
    bad one fails before any mining (``OSError``/``ValueError``)."""
    from .aggregate import LABELS_SCHEMA
    from .build import build_labels
    from .review import read_reviewed

    reviewed = read_reviewed(path)

    def label(mined):
        labels = build_labels(dict(mined), reviewed)
        print(f"{reviewed['report_id'].nunique()} reviewed reports kept")
        return labels, LABELS_SCHEMA

    return label
