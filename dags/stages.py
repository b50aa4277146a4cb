"""Adapters that run the deid, nlp and labeling stages inside the pipeline.

Each is a top-level function ``StageContext -> dict of counts``: it reads the tables the stage
before it wrote under OUT, calls that stage's public functions, and writes the curated tables of
the dataset contract (keyed by ``report_key`` / ``study_key`` / ``patient_key``). The stages
themselves know nothing of OUT's layout beyond their own outputs; only ``dags/`` joins them up.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import pyarrow as pa

from radcurate.tables import append_quarantine, read_table, table_schema, write_table
from radcurate.settings import dataclass_from

# Outputs owned by each stage, relative to OUT (removed before a stage is redone).
DEID_OUTPUTS = (
    "curated/dicom",
    "curated/studies.parquet",
    "curated/series.parquet",
    "curated/instances.parquet",
    "curated/reports.parquet",
    "curated/deid_audit.parquet",
    "phi/crosswalk.parquet",
    "curated/annotations",
    "curated/annotations.parquet",
    "curated/annotation_references.parquet",
)
NLP_OUTPUTS = (
    "curated/rule_labels.parquet",
    "curated/mentions.parquet",
    "curated/measurements.parquet",
    "curated/recist.parquet",
    "curated/topics.parquet",
    "curated/topic_terms.parquet",
    "curated/topic_model",
)
LABELING_OUTPUTS = ("curated/labels.parquet",)


def _dataclass_from(cls, section: Mapping[str, Any]):
    """A config dataclass from a config-file section; unknown keys are a clear error."""
    return dataclass_from(cls, section)


# --- deid -----------------------------------------------------------------------------------------


def deid_config(section: Mapping[str, Any]):
    from radcurate.deid import DeidConfig

    return _dataclass_from(DeidConfig, section)


def _file_fingerprint(path: str | None) -> str:
    from .runner import fingerprint_path

    return fingerprint_path(Path(path) if path else None)


def deid_config_inputs(section: Mapping[str, Any]) -> dict[str, str]:
    """The secret's key id (a keyed hash, never the secret): a new secret means new pseudonyms."""
    from radcurate.deid.keys import Keyer

    config = deid_config(section)
    return {"secret_key_id": Keyer.from_secret_file(config.secret_file).key_id()}


def deid_stage(ctx) -> dict[str, Any]:
    """PS3.15 de-identification of the ingested DICOM and reports into OUT/curated."""
    from radcurate.deid import run_deid

    summary = run_deid(ctx.out_dir, client=ctx.client, config=deid_config(ctx.config))
    return summary.to_dict()


def deid_headline(result: Mapping[str, Any]) -> str:
    return (
        f"{result.get('instances', 0)} images de-identified ({result.get('text_regions_blanked', 0)} "
        f"burned-in text regions blanked), {result.get('files_quarantined', 0)} quarantined; "
        f"{result.get('reports', 0)} reports scrubbed, {result.get('reports_quarantined', 0)} quarantined"
    )


# --- nlp ------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class NlpStageConfig:
    """The nlp stage's settings: Dask partitions of the report table, LDA topics on/off, extra lexicons."""

    reports_per_partition: int = 20_000
    topics: bool = True
    lexicons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def nlp_config(section: Mapping[str, Any]) -> NlpStageConfig:
    config = _dataclass_from(NlpStageConfig, section)
    missing = [p for p in config.lexicons if not Path(p).is_file()]
    if missing:  # found now, before ingest and deid have run for nothing
        raise ValueError(f"lexicon file(s) not found: {', '.join(map(str, missing))}")
    return config


def nlp_config_inputs(section: Mapping[str, Any]) -> dict[str, str]:
    """Extra lexicons by content: editing one reruns the nlp stage."""
    return {f"lexicon[{i}]": _file_fingerprint(p) for i, p in enumerate(nlp_config(section).lexicons)}


def _keyed(df: pd.DataFrame) -> pd.DataFrame:
    """Curated naming: the miner's ``report_id`` is the report pseudonym, ``report_key``."""
    return df.rename(columns={"report_id": "report_key", "patient_id": "patient_key"})


def nlp_stage(ctx) -> dict[str, Any]:
    """Mine the de-identified reports: rule labels, mentions, measurements, RECIST, topics."""
    from radcurate.nlp import EXTRA_SCHEMAS, MinerConfig, mine_extras, mine_partitioned

    config = nlp_config(ctx.config)
    curated = Path(ctx.out_dir) / "curated"
    reports = read_table(curated / "reports.parquet", columns=["report_key", "study_key", "patient_key",
                                                                "study_date", "text"])
    studies = read_table(curated / "studies.parquet", columns=["study_key", "modality"])
    reports = reports.merge(studies.drop_duplicates("study_key"), on="study_key", how="left")
    partitions = max(1, -(-len(reports) // config.reports_per_partition))
    mined = mine_partitioned(reports, "report_key", ["text"], MinerConfig(extra_lexicons=config.lexicons),
                             partitions=partitions, scheduler=ctx.client, progress=ctx.progress)
    extras = mine_extras(reports, "report_key", "text", patient_column="patient_key",
                         date_column="study_date", modality_column="modality", topics=config.topics,
                         topic_model_dir=curated / "topic_model", partitions=partitions, scheduler=ctx.client)
    write_table(_keyed(mined.labels), curated / "rule_labels.parquet")
    write_table(_keyed(mined.mentions), curated / "mentions.parquet")
    for name, df in extras.items():
        schema = pa.schema([f.with_name({"report_id": "report_key", "patient_id": "patient_key"}.get(f.name, f.name))
                            for f in EXTRA_SCHEMAS[name]])
        write_table(_keyed(df), curated / f"{name}.parquet", schema=schema)
    append_quarantine(Path(ctx.out_dir) / "quarantine.parquet", "nlp", mined.quarantine.to_dict("records"))
    return {
        "reports_in": int(len(reports)),
        "reports": int(mined.labels["report_id"].nunique()) if len(mined.labels) else 0,
        "reports_quarantined": int(len(mined.quarantine)),
        "mentions": int(len(mined.mentions)),
        **{name: int(len(df)) for name, df in extras.items()},
    }


def nlp_headline(result: Mapping[str, Any]) -> str:
    return (
        f"{result.get('reports', 0)} reports mined: {result.get('mentions', 0)} mentions, "
        f"{result.get('measurements', 0)} measurements, {result.get('recist', 0)} RECIST rows, "
        f"{result.get('topics', 0)} topic mixtures"
    )


# --- labeling -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LabelingStageConfig:
    """The labeling stage's settings: an optional file of human-reviewed labels (wide layout)."""

    reviewed: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def labeling_config(section: Mapping[str, Any]) -> LabelingStageConfig:
    config = _dataclass_from(LabelingStageConfig, section)
    if config.reviewed is not None and not Path(config.reviewed).is_file():
        raise ValueError(f"reviewed labels file not found: {config.reviewed}")
    return config


def labeling_config_inputs(section: Mapping[str, Any]) -> dict[str, str]:
    """The reviewed-labels file by content: a new review batch reruns labeling."""
    return {"reviewed": _file_fingerprint(labeling_config(section).reviewed)}


def labels_schema() -> pa.Schema:
    from radcurate.labeling import labels_schema as keyed

    fields = list(keyed("report_key"))
    return pa.schema([fields[0], pa.field("study_key", pa.string()), *fields[1:]])


MENTION_VOTE_COLUMNS = ("report_key", "vocabulary", "finding", "section", "labelled", "negated", "uncertain",
                        "historical", "hypothetical", "family")


def _voting_columns(path: Path) -> list[str] | None:
    """What the label model reads of a mined table: of ``mentions`` not the sentences and spans
    (most of its bytes), of the others everything."""
    if path.name != "mentions.parquet":
        return None
    return [c for c in table_schema(path).names if c in MENTION_VOTE_COLUMNS]


def labeling_stage(ctx) -> dict[str, Any]:
    """One label per study and finding: label model over the mined evidence, reviewed labels kept."""
    from radcurate.labeling import build_labels, read_reviewed

    config = labeling_config(ctx.config)
    curated = Path(ctx.out_dir) / "curated"
    reports = read_table(curated / "reports.parquet", columns=["report_key", "study_key", "text"])
    mined = {name: read_table(curated / f"{name}.parquet", columns=_voting_columns(curated / f"{name}.parquet"))
             for name in ("rule_labels", "mentions", "measurements", "topics") if (curated / f"{name}.parquet").exists()}
    mined["labels"] = mined.pop("rule_labels")
    mined["reports"] = reports[["report_key", "text"]]
    reviewed = read_reviewed(config.reviewed) if config.reviewed else None
    labels = build_labels(mined, reviewed, id_column="report_key")  # every vocabulary the rules carry
    labels = labels.merge(reports[["report_key", "study_key"]], on="report_key", how="left")
    schema = labels_schema()
    table = schema.empty_table() if labels.empty else labels[schema.names]  # no reports: an empty table
    write_table(table, curated / "labels.parquet", schema=schema)
    counts = labels["value"].value_counts(dropna=False)
    return {
        "studies": int(labels["study_key"].nunique()),
        "rows": int(len(labels)),
        "reviewed_studies": int(labels.loc[labels["reviewed"], "study_key"].nunique()),
        "positive": int(counts.get(1, 0)),
        "uncertain": int(counts.get(-1, 0)),
        "negative": int(counts.get(0, 0)),
        "confident": int(((labels["probability"] >= 0.9) | (labels["probability"] <= 0.1)).sum()),
    }


def labeling_headline(result: Mapping[str, Any]) -> str:
    return (
        f"{result.get('studies', 0)} studies x findings -> {result.get('positive', 0)} positive, "
        f"{result.get('uncertain', 0)} uncertain, {result.get('negative', 0)} negative; "
        f"{result.get('confident', 0)} of {result.get('rows', 0)} with p>=0.9 or p<=0.1"
    )
