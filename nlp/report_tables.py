"""Measurements, RECIST and topics for `radcurate mine`, in one call over a report table.

    tables = mine_report_tables(reports, "report_id", "text", patient_column="patient_id",
                         date_column="study_date", topic_model_dir=out / "topic_model")
    for name, df in tables.items():
        write_table(df, out / f"{name}.parquet", schema=REPORT_TABLE_SCHEMAS[name])

With `topic_model_dir`, the fitted topic model (LDA, dictionary, phrases, config) is saved there,
next to the dataset; when a model is already there and `ReportTablesConfig.refit_topics` is False, it is
loaded and only used to infer topics for the given reports (new reports get the same topics).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from radcurate.nlp.measurements import MEASUREMENTS_SCHEMA, measurements_table
from radcurate.nlp.recist import (NOT_THIS_STUDY, RECIST_SCHEMA, RecistConfig, recist_table, states_new_lesion,
                                  states_non_target_progression, states_resolution, too_small_mentions)
from radcurate.nlp.sections import compose_report, section_spans
from radcurate.nlp.topics import TOPIC_TERMS_SCHEMA, TOPICS_SCHEMA, TopicConfig, TopicModel, fit_topics

log = logging.getLogger(__name__)

REPORT_TABLE_SCHEMAS = {"measurements": MEASUREMENTS_SCHEMA, "recist": RECIST_SCHEMA,
                 "topics": TOPICS_SCHEMA, "topic_terms": TOPIC_TERMS_SCHEMA}


@dataclass(frozen=True)
class ReportTablesConfig:
    """Settings of the three extractions; `topic_sections` are the sections LDA reads."""

    topics: TopicConfig = field(default_factory=TopicConfig)
    recist: RecistConfig = field(default_factory=RecistConfig)
    topic_sections: tuple[str, ...] = ("findings", "impression")
    topic_terms_topn: int = 10
    refit_topics: bool = False


def topic_text(text, wanted_sections: tuple[str, ...] = ("findings", "impression"),
               spans: list[tuple[str, int, int]] | None = None) -> str:
    """Findings and impression of a report (the header-less body when it has neither)."""
    if not isinstance(text, str):
        return ""
    spans = section_spans(text) if spans is None else spans
    wanted = [text[s:e] for name, s, e in spans if name in wanted_sections]
    if wanted:
        return "\n".join(wanted)
    return "\n".join(text[s:e] for name, s, e in spans if name == "body")


def _empty(schema) -> pd.DataFrame:
    return schema.empty_table().to_pandas()


def mine_report_tables(reports: pd.DataFrame, id_column: str, text_column: str | Sequence[str], *,
                patient_column: str | None = None, date_column: str | None = None,
                modality_column: str | None = None, topics: bool = True,
                topic_model_dir: str | Path | None = None,
                config: ReportTablesConfig = ReportTablesConfig(), partitions: int = 1,
                scheduler=None) -> dict[str, pd.DataFrame]:
    """Tables 'measurements', 'recist' (with patient and date columns), 'topics' and 'topic_terms'.

    `text_column` may name several columns (findings, impression, ...), composed as the finding
    miner composes them. Without `modality_column`, RECIST time points are the reports that state
    a lesion size or a lesion's resolution. Raises ValueError when a named column is missing.
    Too little text for topics gives empty topic tables and a warning, never an exception.
    With ``partitions`` > 1, measurements and topic inference run in partitions: Dask tasks on
    ``scheduler`` (a ``distributed.Client``), or one after the other here when it is None; topics
    are fitted once, on a sample, in this process.
    """
    columns = [text_column] if isinstance(text_column, str) else list(text_column)
    needed = [c for c in (id_column, *columns, patient_column, date_column, modality_column) if c]
    missing = [c for c in needed if c not in reports.columns]
    if missing:
        raise ValueError(f"report table lacks column(s) {', '.join(missing)}")
    # as the finding miner does: reports without an id are skipped, a repeated id keeps its first report
    ids = reports[id_column]
    reports = reports[ids.notna() & (ids.astype(str).str.strip() != "")].drop_duplicates(id_column)
    composed = [compose_report(values, columns) for values in zip(*(reports[c] for c in columns))]
    out: dict[str, pd.DataFrame] = {}
    chunks = _chunks(reports, partitions)
    out["measurements"] = _concat(_run(measurements_table, [(c, id_column, columns) for c in chunks], scheduler),
                                  MEASUREMENTS_SCHEMA)
    if patient_column and date_column:
        studies = pd.DataFrame({"report_id": reports[id_column].astype(str),
                                "patient_id": reports[patient_column].astype(str),
                                "study_date": reports[date_column],
                                "text": [text for text, _ in composed]})  # RECIST's edge cases read it
        if modality_column:
            studies["modality"] = reports[modality_column].astype(str)
        else:  # time points: reports that state a lesion size or a lesion's resolution
            m = out["measurements"]
            measured = set(m.loc[m["kind"].isin(["lesion", "lymph_node"]) & ~m["section"].isin(NOT_THIS_STUDY),
                                 "report_id"])
            studies["evaluable"] = [rid in measured or states_resolution(text) or states_new_lesion(text)
                                    or bool(too_small_mentions(text)) or states_non_target_progression(text)
                                    for rid, (text, _) in zip(studies["report_id"], composed)]
        out["recist"] = recist_table(out["measurements"], studies, config.recist)
    if topics:
        texts = pd.Series([topic_text(text, config.topic_sections, spans) for text, spans in composed],
                          index=reports[id_column].astype(str).to_numpy())
        out["topics"], out["topic_terms"] = _topics(texts, topic_model_dir, config, partitions, scheduler)
    return out


def _chunks(df, partitions: int) -> list:
    size = max(1, -(-len(df) // max(1, int(partitions))))
    return [df.iloc[i:i + size] for i in range(0, len(df), size)] or [df]


def _concat(parts: list[pd.DataFrame], schema) -> pd.DataFrame:
    full = [p for p in parts if len(p)]
    if full:
        return pd.concat(full, ignore_index=True)
    return parts[0] if parts else _empty(schema)


def _run(fn, arg_tuples: list[tuple], scheduler) -> list:
    """``fn(*args)`` for each tuple: as Dask tasks on ``scheduler`` (a ``distributed.Client``), or
    in this process when it is None."""
    from radcurate.cluster import run_tasks

    return run_tasks(fn, *zip(*arg_tuples), client=scheduler, name="report tables") if arg_tuples else []


def _infer(model: TopicModel, texts: pd.Series) -> pd.DataFrame:
    return model.topics_table(texts)


def _topics(texts: pd.Series, model_dir, config: ReportTablesConfig, partitions: int = 1, scheduler=None):
    model = None
    if model_dir is not None and (Path(model_dir) / "config.json").exists() and not config.refit_topics:
        model = TopicModel.load(model_dir)
    if model is None:
        try:
            model = fit_topics(texts, config.topics)
        except ValueError as err:
            log.warning("topics skipped: %s", err)
            return _empty(TOPICS_SCHEMA), _empty(TOPIC_TERMS_SCHEMA)
        if model_dir is not None:
            model.save(model_dir)
    parts = _run(_infer, [(model, c) for c in _chunks(texts, partitions)], scheduler)
    return _concat(parts, TOPICS_SCHEMA), model.topic_terms_table(config.topic_terms_topn)
