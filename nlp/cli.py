"""``radcurate mine``'s mining half: its flags, reading the extract, mining, writing the tables.

The command itself is registered by the command line root (``dags``), which adds the labeling
stage's label model when ``--reviewed`` is given: stages never run each other.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd

from radcurate.cluster import add_cluster_arguments, open_client
from radcurate.tables import write_table

from .config import NlpStageConfig

ROWS_PER_PARTITION = NlpStageConfig.reports_per_partition
MINE_HELP = "mine reports into finding labels (1/0/-1/null) and traceable mentions"
MINE_DESCRIPTION = (
    "Find the 14 ChestX-ray14 findings and 14 CheXpert observations (plus your own lexicon) in "
    "free-text reports, decide negation/uncertainty per mention, and write DIR/labels.parquet "
    "(report_id, vocabulary, finding, value) and DIR/mentions.parquet (section, sentence, span, "
    "trigger and rule behind each label), DIR/measurements.parquet (stated sizes in mm), "
    "DIR/recist.parquet (with --patient-column and --date-column), DIR/topics.parquet and "
    "DIR/topic_terms.parquet (LDA; the model is saved in DIR/topic_model). With --reviewed, "
    "labels gain probability and sources from the label model and reviewed reports keep "
    "their reviewed labels. Example for OpenI: radcurate mine --reports openi.csv "
    "--out mined --id-column report_id --text-columns findings,impression"
)
# Labels from the mined tables ({"labels": rule vote, "mentions", "reports": texts, measurements,
# ...}, keyed by report_id) -> (labels, their schema), written as labels.parquet; the rule vote then
# goes to rule_labels.parquet. Given by the command line root when another stage labels (--reviewed).
Labeler = Callable[[Mapping[str, pd.DataFrame]], "tuple[pd.DataFrame, Any]"]


def add_mine_arguments(p: argparse.ArgumentParser) -> None:
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
    p.add_argument("--reports-per-partition", type=int, default=ROWS_PER_PARTITION, metavar="N",
                   help=f"reports per Dask task (default {ROWS_PER_PARTITION:,}, as the nlp stage's setting)")
    add_cluster_arguments(p, default_workers=0)


def _read(path: Path, args: argparse.Namespace, text_columns: list[str]):
    """The extract through the one report reader: (good rows, row-level quarantine rows)."""
    from radcurate.extract import read_extract

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


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def run_mine(args: argparse.Namespace, labeler: Labeler | None = None) -> int:
    """Mine ``args.reports`` into ``args.out`` on one Dask client (none with ``--workers 0``, the
    default); ``labeler`` (see :data:`Labeler`) decides ``labels.parquet`` when given."""
    from radcurate.extract import ExtractError

    from .lexicon import LexiconError
    from .mine import MinerConfig, mine_partitioned, write_mined
    from .report_tables import REPORT_TABLE_SCHEMAS, ReportTablesConfig, mine_report_tables
    from .topics import TopicModel

    path = Path(args.reports)
    if not path.is_file():
        return _error(f"report extract {path} not found")
    if args.reports_per_partition < 1:
        return _error("--reports-per-partition must be at least 1")
    tables_config = ReportTablesConfig()
    if args.topic_k:
        try:
            grid = tuple(int(k) for k in args.topic_k.split(","))
        except ValueError:
            return _error(f"--topic-k takes numbers of topics, e.g. 15 or 6,8,10 (got {args.topic_k!r})")
        tables_config = replace(tables_config, topics=replace(tables_config.topics, num_topics_grid=grid))
    model_dir = Path(args.out) / "topic_model"
    if args.topic_model:
        try:
            TopicModel.load(args.topic_model).save(model_dir)  # kept beside the dataset it labelled
        except (OSError, ValueError) as exc:
            return _error(f"cannot load the topic model in {args.topic_model}: {exc}")
    text_columns = [c.strip() for c in args.text_columns.split(",") if c.strip()]
    try:
        reports, read_quarantine = _read(path, args, text_columns)
    except ExtractError as exc:  # unreadable file or missing columns: a clear message, not a traceback
        return _error(str(exc))
    config = MinerConfig(extra_lexicons=tuple(args.lexicon))
    partitions = max(1, math.ceil(len(reports) / args.reports_per_partition))
    progress = bool(getattr(args, "progress", True))
    with open_client(args.scheduler, args.workers, args.worker_timeout) as client:
        try:
            mined = mine_partitioned(reports, args.id_column, text_columns, config, partitions, client,
                                     progress=progress)
            tables = mine_report_tables(reports, args.id_column, text_columns, patient_column=args.patient_column,
                                        date_column=args.date_column, topics=not args.no_topics,
                                        topic_model_dir=model_dir, config=tables_config, partitions=partitions,
                                        scheduler=client)
        except (ValueError, LexiconError) as exc:
            return _error(str(exc))
    if len(read_quarantine):
        mined.quarantine = pd.concat([read_quarantine, mined.quarantine], ignore_index=True)
    written = write_mined(mined, args.out)
    labels = mined.labels
    if labeler is not None:
        texts = reports[[args.id_column]].astype(str).rename(columns={args.id_column: "report_id"})
        texts["text"] = ["\n".join(str(v) for v in vals if isinstance(v, str))
                         for vals in zip(*(reports[c] for c in text_columns))]
        # the rules' own votes stay in rule_labels.parquet; labels.parquet holds the labeler's
        written["rule_labels"] = write_table(mined.labels, Path(args.out) / "rule_labels.parquet")
        labels, schema = labeler({"labels": mined.labels, "mentions": mined.mentions, "reports": texts, **tables})
        written["labels"] = write_table(labels, Path(args.out) / "labels.parquet", schema=schema)
    for name, df in tables.items():
        written[name] = write_table(df, Path(args.out) / f"{name}.parquet", schema=REPORT_TABLE_SCHEMAS[name])
    print(f"mined {labels['report_id'].nunique()} reports -> {written['labels']} ({len(labels)} labels), "
          f"{written['mentions']} ({len(mined.mentions)} mentions); quarantined {len(mined.quarantine)}")
    print("also written: " + ", ".join(f"{name} {len(df)}" for name, df in tables.items()))
    cx = labels[labels["vocabulary"] == "chestxray14"]
    if len(cx):
        counts = cx.assign(v=cx["value"].astype("float")).pivot_table(
            index="finding", columns="v", values="report_id", aggfunc="count", fill_value=0)
        counts = counts.rename(columns={1.0: "positive", 0.0: "negative", -1.0: "uncertain"})
        print(counts.reindex(columns=["positive", "uncertain", "negative"], fill_value=0).to_string())
    return 0
