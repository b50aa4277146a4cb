"""`radcurate mine`: label findings in any CSV/Parquet report extract, with evidence for every label.

The command composes two stages — the nlp miner (labels, mentions, measurements, RECIST, topics)
and, with `--reviewed`, the labeling stage's label model — so it lives in `dags/`, the only package
that may import every stage.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd

from radcurate.tables import write_table

ROWS_PER_PARTITION = 20_000


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "mine",
        help="mine reports into finding labels (1/0/-1/null) and traceable mentions",
        description=(
            "Find the 14 ChestX-ray14 findings and 14 CheXpert observations (plus your own lexicon) in "
            "free-text reports, decide negation/uncertainty per mention, and write DIR/labels.parquet "
            "(report_id, vocabulary, finding, value) and DIR/mentions.parquet (section, sentence, span, "
            "trigger and rule behind each label), DIR/measurements.parquet (stated sizes in mm), "
            "DIR/recist.parquet (with --patient-column and --date-column), DIR/topics.parquet and "
            "DIR/topic_terms.parquet (LDA; the model is saved in DIR/topic_model). With --reviewed, "
            "labels gain probability and sources from the label model and reviewed reports keep "
            "their reviewed labels. Example for OpenI: radcurate mine --reports openi.csv "
            "--out mined --id-column report_id --text-columns findings,impression"
        ),
    )
    p.add_argument("--reports", required=True, help="report extract (.csv or .parquet)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--id-column", default="accession", help="report id column (default: accession)")
    p.add_argument("--text-columns", default="report_text",
                   help="comma-separated text columns; with several, each is its own section named after "
                        "its column (findings, impression, indication -> history) (default: report_text)")
    p.add_argument("--lexicon", action="append", default=[], metavar="FILE",
                   help="extra vocabulary (YAML/JSON with 'name:' and 'findings:'); repeatable")
    p.add_argument("--patient-column", default=None, metavar="C",
                   help="patient column: with --date-column, follow lesions over time (recist.parquet)")
    p.add_argument("--date-column", default=None, metavar="C", help="study date column (for RECIST)")
    p.add_argument("--no-topics", action="store_true", help="skip LDA topics")
    p.add_argument("--topic-model", default=None, metavar="DIR",
                   help="reuse a saved topic model (e.g. an earlier run's DIR/topic_model): infer only")
    p.add_argument("--topic-k", default=None, metavar="K[,K...]",
                   help="number of LDA topics (default 15); several (e.g. 6,8,10,12,15) are searched by "
                        "coherence, one model each: slower")
    p.add_argument("--reviewed", default=None, metavar="FILE",
                   help="human-reviewed labels, wide layout (report_id + one column per finding, 1/0/-1/blank)")
    p.add_argument("--scheduler", default=None, metavar="ADDR", help="Dask scheduler address (default: local)")
    p.add_argument("--partitions", type=int, default=None,
                   help=f"Dask partitions (default: one per {ROWS_PER_PARTITION:,} reports)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run_mine)


def _read(path: Path, args: argparse.Namespace, text_columns: list[str]):
    """The extract through ingest's one report reader: (good rows, row-level quarantine rows)."""
    from radcurate.ingest.extract import read_extract

    optional = [c for c in (args.patient_column, args.date_column) if c]
    extract = read_extract(path, required=[args.id_column, *text_columns], optional=optional,
                           text_columns=text_columns, date_columns=[args.date_column] if args.date_column else [],
                           id_column=args.id_column)
    frame = extract.frame()
    for c in text_columns:  # blank text is "no text" to the miner, as before
        frame[c] = frame[c].map(lambda v: None if v is None or (isinstance(v, str) and not v) else v)
    quarantine = pd.DataFrame([{k: v for k, v in q.items() if k != "row"} for q in extract.quarantine],
                              columns=["source", "reason", "detail"])
    return frame, quarantine


def run_mine(args: argparse.Namespace) -> int:
    # spaCy loads in about 2 s: only when mining, not for every `radcurate --help`
    from radcurate.nlp import EXTRA_SCHEMAS, LexiconError, MinerConfig, mine_extras, mine_partitioned, write_mined

    path = Path(args.reports)
    if not path.is_file():
        print(f"error: report extract {path} not found", file=sys.stderr)
        return 2
    from dataclasses import replace

    from radcurate.nlp.extras import ExtrasConfig

    extras_config = ExtrasConfig()
    if args.topic_k:
        try:
            grid = tuple(int(k) for k in args.topic_k.split(","))
        except ValueError:
            print(f"error: --topic-k takes numbers of topics, e.g. 15 or 6,8,10 (got {args.topic_k!r})",
                  file=sys.stderr)
            return 2
        extras_config = replace(extras_config, topics=replace(extras_config.topics, num_topics_grid=grid))
    model_dir = Path(args.out) / "topic_model"
    if args.topic_model:
        from radcurate.nlp.topics import TopicModel

        try:
            TopicModel.load(args.topic_model).save(model_dir)  # kept beside the dataset it labelled
        except (OSError, ValueError) as exc:
            print(f"error: cannot load the topic model in {args.topic_model}: {exc}", file=sys.stderr)
            return 2
    text_columns = [c.strip() for c in args.text_columns.split(",") if c.strip()]
    from radcurate.ingest.extract import ExtractError

    try:
        reports, read_quarantine = _read(path, args, text_columns)
    except ExtractError as exc:  # unreadable file or missing columns: a clear message, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    config = MinerConfig(extra_lexicons=tuple(args.lexicon))
    partitions = args.partitions or max(1, math.ceil(len(reports) / ROWS_PER_PARTITION))
    try:
        mined = mine_partitioned(reports, args.id_column, text_columns, config, partitions, args.scheduler,
                                 progress=not args.no_progress)
    except (ValueError, LexiconError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    reviewed = None
    if args.reviewed:
        from radcurate.labeling import read_reviewed

        try:
            reviewed = read_reviewed(args.reviewed)
        except (OSError, ValueError) as exc:
            print(f"error: cannot use reviewed labels {args.reviewed}: {exc}", file=sys.stderr)
            return 2
    try:
        extras = mine_extras(reports, args.id_column, text_columns, patient_column=args.patient_column,
                             date_column=args.date_column, topics=not args.no_topics,
                             topic_model_dir=model_dir, config=extras_config, partitions=partitions,
                             scheduler=args.scheduler)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if len(read_quarantine):
        mined.quarantine = pd.concat([read_quarantine, mined.quarantine], ignore_index=True)
    written = write_mined(mined, args.out)
    if reviewed is not None:
        from radcurate.labeling import LABELS_SCHEMA, build_labels

        texts = reports[[args.id_column]].astype(str).rename(columns={args.id_column: "report_id"})
        texts["text"] = ["\n".join(str(v) for v in vals if isinstance(v, str))
                         for vals in zip(*(reports[c] for c in text_columns))]
        # the rules' own votes stay in rule_labels.parquet; labels.parquet holds the label model's
        written["rule_labels"] = write_table(mined.labels, Path(args.out) / "rule_labels.parquet")
        mined.labels = build_labels(
            {"labels": mined.labels, "mentions": mined.mentions, "reports": texts, **extras}, reviewed)
        written["labels"] = write_table(mined.labels, Path(args.out) / "labels.parquet", schema=LABELS_SCHEMA)
    for name, df in extras.items():
        written[name] = write_table(df, Path(args.out) / f"{name}.parquet", schema=EXTRA_SCHEMAS[name])
    labels = mined.labels
    n_reports = labels["report_id"].nunique()
    print(f"mined {n_reports} reports -> {written['labels']} ({len(labels)} labels), "
          f"{written['mentions']} ({len(mined.mentions)} mentions); quarantined {len(mined.quarantine)}")
    extra_counts = ", ".join(f"{name} {len(df)}" for name, df in extras.items())
    print(f"also written: {extra_counts}" + (f"; {reviewed['report_id'].nunique()} reviewed reports kept"
                                             if reviewed is not None else ""))
    cx = labels[labels["vocabulary"] == "chestxray14"]
    if len(cx):
        counts = cx.assign(v=cx["value"].astype("float")).pivot_table(
            index="finding", columns="v", values="report_id", aggfunc="count", fill_value=0)
        counts = counts.rename(columns={1.0: "positive", 0.0: "negative", -1.0: "uncertain"})
        print(counts.reindex(columns=["positive", "uncertain", "negative"], fill_value=0).to_string())
    return 0
