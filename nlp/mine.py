"""Mine a report extract into labels and mentions (the `radcurate mine` engine).

`mine_reports` runs in one process; `mine_partitioned` splits a large extract into Dask partitions,
each handled by the top-level `mine_partition` (picklable; the spaCy pipeline is built once per
worker process and reused). Outputs are plain tables: `labels` (long), `mentions` (evidence),
and `quarantine` (reports that could not be mined).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd
import spacy
from spacy.language import Language

from . import components  # noqa: F401  (registers the factories)
from .assertion import CATEGORIES, DEFAULT_RULES
from .labels import report_labels
from .lexicon import DEFAULT_LEXICON
from .sections import compose_report

from .config import NAME
# start/end index the report text as mined: with several text columns, the non-empty columns joined by
# a blank line, in the order given; `sentence` repeats the sentence so each row explains itself.
MENTION_COLUMNS = ("report_id", "section", "sentence_index", "start", "end", "text", "sentence", "finding",
                   "vocabulary", "kind", *CATEGORIES, "trigger", "rule_id", "value", "labelled")


@dataclass(frozen=True)
class MinerConfig:
    """How reports are mined. Frozen (hashable) so each worker builds its pipeline once per config.

    ignore_sections: sections whose mentions never make a label (history includes indication and
    reason for exam). max_scope_words: how far a trigger reaches. hedged_positive: mentions hedged
    only by high-probability terms ("probable", "likely", "A versus B") count as positive, as in
    ChestX-ray14's labels (False: -1, CheXpert's strict view). batch_size: `nlp.pipe` batch.
    """

    lexicon_path: str = str(DEFAULT_LEXICON)
    extra_lexicons: tuple[str, ...] = ()
    rules_path: str = str(DEFAULT_RULES)
    max_scope_words: int = 15
    hedged_positive: bool = True
    ignore_sections: tuple[str, ...] = ("history", "comparison", "technique", "examination")
    batch_size: int = 256
    no_finding_blocked_by_uncertain: bool = False


@dataclass
class MinedReports:
    """Results of mining: long labels, mention evidence and quarantined reports."""

    labels: pd.DataFrame
    mentions: pd.DataFrame
    quarantine: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["source", "reason", "detail"]))


def build_pipeline(config: MinerConfig = MinerConfig()) -> Language:
    """A blank English spaCy pipeline with sections, sentences, finding lexicon and assertion."""
    nlp = spacy.blank("en")
    nlp.add_pipe("radcurate_sections")
    nlp.add_pipe("radcurate_sentences")
    nlp.add_pipe("radcurate_findings", config={"lexicon_path": config.lexicon_path,
                                               "extra_lexicons": list(config.extra_lexicons)})
    nlp.add_pipe("radcurate_assertion", config={"rules_path": config.rules_path,
                                                "max_scope_words": config.max_scope_words,
                                                "hedged_positive": config.hedged_positive})
    return nlp


@lru_cache(maxsize=4)
def _pipeline(config: MinerConfig) -> Language:
    return build_pipeline(config)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _validate(reports: pd.DataFrame, id_column: str, text_columns: list[str]) -> None:
    missing = [c for c in [id_column, *text_columns] if c not in reports.columns]
    if missing:
        raise ValueError(f"report extract lacks column(s) {', '.join(missing)}; "
                         f"it has {', '.join(map(str, reports.columns))}")
    if not text_columns:
        raise ValueError("no text columns given")


def mine_partition(reports: pd.DataFrame, id_column: str, text_columns: list[str],
                   config: MinerConfig = MinerConfig(), progress: bool = False) -> MinedReports:
    """Mine one partition of reports (importable, picklable: the Dask task of `radcurate mine`)."""
    _validate(reports, id_column, text_columns)
    nlp = _pipeline(config)
    quarantine, ids, texts, docs, seen = [], [], [], [], set()
    for row in reports[[id_column, *text_columns]].to_dict("records"):
        rid = row[id_column]
        if _missing(rid) or not str(rid).strip():
            quarantine.append({"source": "(no id)", "reason": "missing_report_id",
                               "detail": f"a report has an empty {id_column}"})
            continue
        rid = str(rid).strip()
        if rid in seen:
            quarantine.append({"source": rid, "reason": "duplicate_report_id",
                               "detail": "report id occurs more than once; the first report was mined"})
            continue
        seen.add(rid)
        text, sections = compose_report([row[c] for c in text_columns], text_columns)
        if not text.strip():
            quarantine.append({"source": rid, "reason": "empty_report",
                               "detail": f"no text in {', '.join(text_columns)}"})
            continue
        if len(text) > nlp.max_length:  # spaCy refuses it: quarantine this report, mine the rest
            quarantine.append({"source": rid, "reason": "report_too_large",
                               "detail": f"{len(text):,} characters; the limit is {nlp.max_length:,}"})
            continue
        doc = nlp.make_doc(text)
        ext = doc._
        ext.rc_text = text
        ext.rc_preset_sections = sections
        ids.append(rid)
        texts.append(text)
        docs.append(doc)
    stream = nlp.pipe(docs, batch_size=config.batch_size)
    if progress:
        from tqdm import tqdm

        stream = tqdm(stream, total=len(docs), unit="report", desc="mining")
    pairs, rows = [], []
    for rid, text, doc in zip(ids, texts, stream):
        ext = doc._
        sentences = ext.rc_sentences
        for m in ext.rc_mentions:
            pairs.append((rid, m))
            a = m.assertion
            s, e, _ = sentences[m.sentence_index]
            rows.append((rid, m.section, m.sentence_index, m.start, m.end, m.text, text[s:e], m.finding,
                         m.vocabulary, m.kind, a.negated, a.uncertain, a.historical, a.hypothetical, a.family, a.trigger,
                         a.rule_id, m.value, m.section not in config.ignore_sections))
    lexicon = nlp.get_pipe("radcurate_findings").lexicon
    labels = report_labels(pairs, ids, lexicon.vocabularies, config.ignore_sections,
                           config.no_finding_blocked_by_uncertain, lexicon.implications)
    mentions = pd.DataFrame.from_records(rows, columns=list(MENTION_COLUMNS))
    mentions = mentions.astype({"report_id": "string", "section": "string", "sentence_index": "int32",
                                "start": "int32", "end": "int32", "text": "string", "sentence": "string",
                                "finding": "string",
                                "vocabulary": "string", "kind": "string", "trigger": "string",
                                "rule_id": "string", "value": "Int8", "labelled": "bool",
                                **{c: "bool" for c in CATEGORIES}})
    return MinedReports(labels, mentions, pd.DataFrame(quarantine, columns=["source", "reason", "detail"]))


def mine_reports(reports: pd.DataFrame, id_column: str, text_columns: list[str],
                 config: MinerConfig = MinerConfig(), progress: bool = False) -> MinedReports:
    """Mine a report table in this process: labels (long) and mentions with their evidence.

    >>> df = pd.DataFrame({"id": ["r1"], "text": ["FINDINGS: Small left pleural effusion. No pneumothorax."]})
    >>> mined = mine_reports(df, "id", ["text"])
    >>> lab = mined.labels.set_index(["vocabulary", "finding"])["value"]
    >>> int(lab["chestxray14", "Effusion"]), int(lab["chestxray14", "Pneumothorax"])
    (1, 0)
    """
    return mine_partition(reports, id_column, list(text_columns), config, progress)


def concat_mined(parts: list[MinedReports]) -> MinedReports:
    """Concatenate partition results (reports never span partitions)."""
    if not parts:
        raise ValueError("no partitions to concatenate")
    return MinedReports(
        pd.concat([p.labels for p in parts], ignore_index=True),
        pd.concat([p.mentions for p in parts], ignore_index=True),
        pd.concat([p.quarantine for p in parts], ignore_index=True),
    )


def mine_partitioned(reports: pd.DataFrame, id_column: str, text_columns: list[str],
                     config: MinerConfig = MinerConfig(), partitions: int = 1, scheduler=None,
                     progress: bool = True) -> MinedReports:
    """Mine a large extract in partitions: Dask tasks on ``scheduler`` (a ``distributed.Client``
    from :func:`radcurate.cluster.open_client`, the one client of the command or run), or one
    after the other in this process when it is None.

    Duplicate report ids are settled before splitting so each report lands in exactly one partition.
    """
    _validate(reports, id_column, text_columns)
    partitions = max(1, min(int(partitions), len(reports) or 1))
    if (partitions == 1 and scheduler is None) or len(reports) == 0:
        return mine_partition(reports, id_column, text_columns, config, progress)
    ids = reports[id_column].astype("string").str.strip()
    dup = ids.duplicated() & ids.notna()
    first, dups = reports[~dup], reports[dup]
    size = math.ceil(len(first) / partitions)
    chunks = [first.iloc[i:i + size] for i in range(0, len(first), size)]
    from radcurate.cluster import run_tasks

    parts = run_tasks(mine_partition, chunks, client=scheduler, name="mining partition", progress=progress,
                      id_column=id_column, text_columns=text_columns, config=config)
    mined = concat_mined(list(parts))
    if len(dups):
        extra = [{"source": str(r).strip(), "reason": "duplicate_report_id",
                  "detail": "report id occurs more than once; the first report was mined"}
                 for r in dups[id_column]]
        mined.quarantine = pd.concat([mined.quarantine, pd.DataFrame(extra)], ignore_index=True)
    return mined


def write_mined(mined: MinedReports, out_dir: str | Path) -> dict[str, Path]:
    """Write labels.parquet, mentions.parquet and quarantine rows under `out_dir` (atomic)."""
    from radcurate.tables import append_quarantine, write_table

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {"labels": write_table(mined.labels, out / "labels.parquet"),
               "mentions": write_table(mined.mentions, out / "mentions.parquet")}
    written["quarantine"] = append_quarantine(out / "quarantine.parquet", NAME,
                                              mined.quarantine.to_dict("records"))
    return written
