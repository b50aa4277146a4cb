"""The lesions stage in the pipeline: its config, outputs, checks and summary line (``STAGE``)."""

from __future__ import annotations

from typing import Any, Mapping

from radcurate.settings import dataclass_from
from radcurate.stage import Stage, StageContext

from .checks import lesions_suites
from .config import NAME, LesionsConfig

OUTPUTS = ("curated/lesions.parquet", "curated/recist_images.parquet")


def lesions_config(section: Mapping[str, Any]) -> LesionsConfig:
    return dataclass_from(LesionsConfig, section)


def lesions_stage(ctx: StageContext) -> dict[str, Any]:
    """Annotation crosses on curated images, linked to the report measurements, with weak masks."""
    from .run import run_lesions

    return run_lesions(ctx.out_dir, lesions_config(ctx.config))


def lesions_headline(result: Mapping[str, Any]) -> str:
    text = (f"{result.get('lesions', 0)} lesions: {result.get('annotated', 0)} annotated "
            f"({result.get('linked', 0)} linked to a report measurement, {result.get('unlinked', 0)} unlinked), "
            f"{result.get('report_only', 0)} from report text only; {result.get('mask_method', '')} masks")
    if result.get("pixels_blanked"):
        text += f"; {result['pixels_blanked']} on pixels de-id blanked"
    if result.get("recist_compared"):
        text += (f"; RECIST from images agrees with text on {result['recist_agree']}/"
                 f"{result['recist_compared']} studies")
    return text


STAGE = Stage(
    name=NAME,
    function=lesions_stage,
    inputs=("curated/annotations.parquet", "curated/annotation_references.parquet",
            "curated/instances.parquet", "curated/measurements.parquet", "curated/recist.parquet"),
    outputs=OUTPUTS,
    suite=lesions_suites,
    depends_on=("deid", "nlp"),
    headline=lesions_headline,
    configure=lesions_config,
)
