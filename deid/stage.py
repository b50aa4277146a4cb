"""The deid stage in the pipeline: its config, outputs, checks and summary line (``STAGE``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from radcurate.settings import dataclass_from
from radcurate.stage import Stage, StageContext

from .checks import deid_suites
from .config import NAME, DeidConfig

OUTPUTS = (
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


def deid_config(section: Mapping[str, Any]) -> DeidConfig:
    return dataclass_from(DeidConfig, section)


def deid_preflight(section: Mapping[str, Any], inputs: Mapping[str, Any], out_dir: Path) -> None:
    """The secret is checked before anything is written: not inside OUT (through any link), and
    private when it exists (:func:`~radcurate.deid.keys.check_secret`)."""
    from .keys import check_secret

    check_secret(deid_config(section).secret_file, out_dir)


def deid_config_inputs(section: Mapping[str, Any], out_dir: Path) -> dict[str, str]:
    """The secret's key id (a keyed hash, never the secret): a new secret means new pseudonyms."""
    from .keys import Keyer

    deid_preflight(section, {}, out_dir)
    return {"secret_key_id": Keyer.from_secret_file(deid_config(section).secret_file).key_id()}


def deid_stage(ctx: StageContext) -> dict[str, Any]:
    """PS3.15 de-identification of the ingested DICOM and reports into OUT/curated."""
    from .run import run_deid

    summary = run_deid(ctx.out_dir, client=ctx.client, config=deid_config(ctx.config))
    return summary.to_dict()


def deid_headline(result: Mapping[str, Any]) -> str:
    return (
        f"{result.get('instances', 0)} images de-identified ({result.get('text_regions_blanked', 0)} "
        f"burned-in text regions blanked), {result.get('files_quarantined', 0)} quarantined; "
        f"{result.get('reports', 0)} reports scrubbed, {result.get('reports_quarantined', 0)} quarantined"
    )


STAGE = Stage(
    name=NAME,
    function=deid_stage,
    inputs=("phi/instances.parquet", "phi/reports.parquet"),
    outputs=OUTPUTS,
    suite=deid_suites,
    depends_on=("ingest",),
    headline=deid_headline,
    configure=deid_config,
    config_inputs=deid_config_inputs,
    preflight=deid_preflight,
)
