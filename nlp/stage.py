"""The nlp stage in the pipeline: its config, outputs, checks and summary line (``STAGE``).

It reads the curated reports (keyed by ``report_key``) and writes the mined tables in the curated
naming: the miner's ``report_id`` / ``patient_id`` columns become ``report_key`` / ``patient_key``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from radcurate.fingerprints import fingerprint_path
from radcurate.settings import dataclass_from
from radcurate.stage import Stage, StageContext

from .checks import nlp_suites
from .config import NAME, NlpStageConfig

OUTPUTS = (
    "curated/rule_labels.parquet",
    "curated/mentions.parquet",
    "curated/measurements.parquet",
    "curated/recist.parquet",
    "curated/topics.parquet",
    "curated/topic_terms.parquet",
    "curated/topic_model",
)
CURATED_NAMES = {"report_id": "report_key", "patient_id": "patient_key"}


def nlp_config(section: Mapping[str, Any]) -> NlpStageConfig:
    config = dataclass_from(NlpStageConfig, section)
    missing = [p for p in config.lexicons if not Path(p).is_file()]
    if missing:  # found now, before ingest and deid have run for nothing
        raise ValueError(f"lexicon file(s) not found: {', '.join(map(str, missing))}")
    return config


def nlp_preflight(section: Mapping[str, Any], inputs: Mapping[str, Any], out_dir: Path) -> None:
    """Extra lexicons read and checked now (shape, vocabularies, findings), not when nlp starts after
    ingest and deid have run (:class:`~radcurate.nlp.lexicon.LexiconError`, a ``ValueError``)."""
    config = nlp_config(section)
    if config.lexicons:
        from .lexicon import DEFAULT_LEXICON, load_lexicon

        load_lexicon(DEFAULT_LEXICON, extra=tuple(config.lexicons))


def nlp_config_inputs(section: Mapping[str, Any], out_dir: Path) -> dict[str, str]:
    """Extra lexicons by content: editing one reruns the nlp stage."""
    return {f"lexicon[{i}]": fingerprint_path(Path(p)) for i, p in enumerate(nlp_config(section).lexicons)}


def _keyed(df: pd.DataFrame) -> pd.DataFrame:
    """Curated naming: the miner's ``report_id`` is the report pseudonym, ``report_key``."""
    return df.rename(columns=CURATED_NAMES)


def nlp_stage(ctx: StageContext) -> dict[str, Any]:
    """Mine the de-identified reports: rule labels, mentions, measurements, RECIST, topics."""
    import pyarrow as pa

    from radcurate.tables import append_quarantine, read_table, write_table

    from .mine import MinerConfig, mine_partitioned
    from .report_tables import REPORT_TABLE_SCHEMAS, mine_report_tables

    config = nlp_config(ctx.config)
    curated = Path(ctx.out_dir) / "curated"
    reports = read_table(curated / "reports.parquet", columns=["report_key", "study_key", "patient_key",
                                                                "study_date", "text"])
    studies = read_table(curated / "studies.parquet", columns=["study_key", "modality"])
    reports = reports.merge(studies.drop_duplicates("study_key"), on="study_key", how="left")
    partitions = max(1, -(-len(reports) // config.reports_per_partition))
    mined = mine_partitioned(reports, "report_key", ["text"], MinerConfig(extra_lexicons=config.lexicons),
                             partitions=partitions, scheduler=ctx.client, progress=ctx.progress)
    tables = mine_report_tables(reports, "report_key", "text", patient_column="patient_key",
                                date_column="study_date", modality_column="modality", topics=config.topics,
                                topic_model_dir=curated / "topic_model", partitions=partitions,
                                scheduler=ctx.client)
    write_table(_keyed(mined.labels), curated / "rule_labels.parquet")
    write_table(_keyed(mined.mentions), curated / "mentions.parquet")
    for name, df in tables.items():
        schema = pa.schema([f.with_name(CURATED_NAMES.get(f.name, f.name)) for f in REPORT_TABLE_SCHEMAS[name]])
        write_table(_keyed(df), curated / f"{name}.parquet", schema=schema)
    append_quarantine(Path(ctx.out_dir) / "quarantine.parquet", NAME, mined.quarantine.to_dict("records"))
    return {
        "reports_in": int(len(reports)),
        "reports": int(mined.labels["report_id"].nunique()) if len(mined.labels) else 0,
        "reports_quarantined": int(len(mined.quarantine)),
        "mentions": int(len(mined.mentions)),
        **{name: int(len(df)) for name, df in tables.items()},
    }


def nlp_headline(result: Mapping[str, Any]) -> str:
    return (
        f"{result.get('reports', 0)} reports mined: {result.get('mentions', 0)} mentions, "
        f"{result.get('measurements', 0)} measurements, {result.get('recist', 0)} RECIST rows, "
        f"{result.get('topics', 0)} topic mixtures"
    )


STAGE = Stage(
    name=NAME,
    function=nlp_stage,
    inputs=("curated/reports.parquet", "curated/studies.parquet"),
    outputs=OUTPUTS,
    suite=nlp_suites,
    depends_on=("deid",),
    headline=nlp_headline,
    configure=nlp_config,
    config_inputs=nlp_config_inputs,
    preflight=nlp_preflight,
)
