"""The labeling stage in the pipeline: its config, outputs, checks and summary line (``STAGE``).

One label per study and finding (``curated/labels.parquet``): the label model over the mined
evidence of the nlp stage's tables, reviewed labels kept.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping

import pyarrow as pa

from radcurate.fingerprints import fingerprint_path
from radcurate.settings import dataclass_from
from radcurate.stage import Stage, StageContext

from .checks import labeling_suites
from .config import NAME

OUTPUTS = ("curated/labels.parquet",)
# What the label model reads of `mentions`: not the sentences and spans (most of its bytes).
MENTION_VOTE_COLUMNS = ("report_key", "vocabulary", "finding", "section", "labelled", "negated", "uncertain",
                        "historical", "hypothetical", "family")


@dataclasses.dataclass(frozen=True)
class LabelingStageConfig:
    """The labeling stage's settings: an optional file of human-reviewed labels (wide layout)."""

    reviewed: str | None = dataclasses.field(default=None, metadata={"path": True})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def labeling_config(section: Mapping[str, Any]) -> LabelingStageConfig:
    config = dataclass_from(LabelingStageConfig, section)
    if config.reviewed is not None and not Path(config.reviewed).is_file():
        raise ValueError(f"reviewed labels file not found: {config.reviewed}")
    return config


def labeling_config_inputs(section: Mapping[str, Any], out_dir: Path) -> dict[str, str]:
    """The reviewed-labels file by content: a new review batch reruns labeling."""
    reviewed = labeling_config(section).reviewed
    return {"reviewed": fingerprint_path(Path(reviewed) if reviewed else None)}


def curated_labels_schema() -> pa.Schema:
    """The labels table of the curated dataset: keyed by ``report_key``, with its ``study_key``."""
    from .build import labels_schema

    fields = list(labels_schema("report_key"))
    return pa.schema([fields[0], pa.field("study_key", pa.string()), *fields[1:]])


def _voting_columns(path: Path) -> list[str] | None:
    """What the label model reads of a mined table: of ``mentions`` the vote columns, of the
    others everything."""
    from radcurate.tables import table_schema

    if path.name != "mentions.parquet":
        return None
    return [c for c in table_schema(path).names if c in MENTION_VOTE_COLUMNS]


def labeling_stage(ctx: StageContext) -> dict[str, Any]:
    """One label per study and finding: label model over the mined evidence, reviewed labels kept."""
    from radcurate.tables import read_table, write_table

    from .build import build_labels
    from .review import read_reviewed

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
    schema = curated_labels_schema()
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


STAGE = Stage(
    name=NAME,
    function=labeling_stage,
    inputs=("curated/reports.parquet", "curated/rule_labels.parquet", "curated/mentions.parquet",
            "curated/measurements.parquet", "curated/topics.parquet"),
    outputs=OUTPUTS,
    suite=labeling_suites,
    depends_on=("nlp",),
    headline=labeling_headline,
    configure=labeling_config,
    config_inputs=labeling_config_inputs,
)
