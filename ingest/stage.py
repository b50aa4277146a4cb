"""The ingest stage in the pipeline: its config, outputs, checks and summary line (``STAGE``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from radcurate.stage import Stage, StageContext

from .checks import ingest_suites
from .config import NAME, IngestConfig

OUTPUTS = (
    "phi/instances.parquet",
    "phi/series.parquet",
    "phi/studies.parquet",
    "phi/reports.parquet",
    "phi/annotations.parquet",
)


def ingest_config(section: Mapping[str, Any]) -> IngestConfig:
    return IngestConfig.from_mapping(section)


def ingest_preflight(section: Mapping[str, Any], inputs: Mapping[str, Any], out_dir: Path) -> None:
    """A DICOM folder with no file that could be DICOM, or a bad report extract (unreadable, a
    column missing), fails now, before anything is written (``ValueError``; the extract's is an
    :class:`~radcurate.extract.ExtractError`)."""
    if inputs.get("dicom") is not None:
        from .walk import first_candidate

        if first_candidate(inputs["dicom"], exclude=out_dir) is None:
            raise ValueError(f"the DICOM folder {inputs['dicom']} holds no file that could be DICOM "
                             "(no DICM prefix, no DICOM header at the start)")
    if inputs.get("reports") is None:
        return
    from radcurate.extract import check_extract

    from .reports import OPTIONAL, REQUIRED

    names = ingest_config(section).report_columns
    check_extract(inputs["reports"], [names.get(c, c) for c in REQUIRED], [names.get(c, c) for c in OPTIONAL])


def ingest_stage(ctx: StageContext) -> dict[str, Any]:
    """Read the DICOM tree (and report extract) of this run into ``OUT/phi``."""
    from .run import run_ingest

    config = IngestConfig.from_mapping({**ctx.config, "show_progress": ctx.progress})
    if ctx.inputs.get("dicom") is None:
        raise ValueError("the ingest stage needs a DICOM folder (--dicom)")
    summary = run_ingest(
        ctx.inputs["dicom"], ctx.inputs.get("reports"), ctx.out_dir, client=ctx.client, config=config
    )
    if summary.instances == 0:  # nothing to de-identify: say so here, not as a missing table later
        raise ValueError(no_instances_message(ctx.inputs["dicom"], summary))
    return summary.to_dict()


def no_instances_message(dicom: Any, summary: Any) -> str:
    if not summary.files_found:
        return f"the DICOM folder {dicom} holds no files"
    reasons = ", ".join(f"{r} {n}" for r, n in summary.quarantine_by_reason.items())
    return (f"no DICOM instance in {dicom}: all {summary.files_found} files were quarantined ({reasons}); "
            "see OUT/quarantine.parquet")


def ingest_headline(result: Mapping[str, Any]) -> str:
    text = (
        f"{result.get('files_found', 0)} files -> {result.get('instances', 0)} instances "
        f"({result.get('series', 0)} series, {result.get('studies', 0)} studies), "
        f"{result.get('files_quarantined', 0)} quarantined"
    )
    if result.get("annotations"):
        text += f", {result['annotations']} annotation objects (GSPS/SR)"
    if result.get("reports_in"):
        text += (
            f"; {result['reports_in']} reports -> {result.get('reports', 0)} linked, "
            f"{result.get('reports_quarantined', 0)} quarantined"
        )
    return text


STAGE = Stage(
    name=NAME,
    function=ingest_stage,
    inputs=("input:dicom", "input:reports"),
    outputs=OUTPUTS,
    suite=ingest_suites,
    headline=ingest_headline,
    configure=ingest_config,
    preflight=ingest_preflight,
)
