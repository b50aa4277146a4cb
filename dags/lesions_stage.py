"""The lesions stage in the pipeline: adapter, config section, summary line and expectations."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from .expectations import Expectation, TableSuite, not_null, row_count, unique
from radcurate.settings import dataclass_from

LESIONS_OUTPUTS = ("curated/lesions.parquet", "curated/recist_images.parquet")


def lesions_config(section: Mapping[str, Any]):
    from radcurate.lesions import LesionsConfig

    return dataclass_from(LesionsConfig, section)


def lesions_stage(ctx) -> dict[str, Any]:
    """Annotation crosses on curated images, linked to the report measurements, with weak masks."""
    from radcurate.lesions import run_lesions

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


def lesions_suites(out_dir: str | Path, inputs: Mapping[str, Any], result: Mapping[str, Any]) -> list[TableSuite]:
    """Lesions: keys present, every cross a row or a quarantine row, sizes and links plausible."""
    out_dir = Path(out_dir)
    crosses = int(result.get("crosses_in", 0))
    quarantined = int(result.get("crosses_quarantined", 0))  # crosses whose image is not curated
    report_only = int(result.get("report_only", 0))
    return [TableSuite("lesions.lesions", "curated/lesions.parquet",
                       not_null("lesion_key", "patient_key", "study_key", "source") + unique("lesion_key")
                       + (row_count(crosses - quarantined + report_only,
                                    f"counts reconcile: {crosses} annotation crosses - {quarantined} quarantined "
                                    f"+ {report_only} report-only measurements"),
                          Expectation("ExpectColumnValuesToBeInSet",
                                      {"column": "source", "value_set": ["GSPS", "SR", "report"]}),
                          Expectation("ExpectColumnValuesToBeBetween",
                                      {"column": "long_axis_mm", "min_value": 0.1, "max_value": 1000.0},
                                      "diameters in millimetres"),
                          Expectation("ExpectColumnValuesToBeBetween",
                                      {"column": "link_confidence", "min_value": 0.0, "max_value": 1.0}))),
            TableSuite("lesions.recist_images", "curated/recist_images.parquet",
                       not_null("patient_key", "study_key", "sum_mm", "response", "derived_from"))]
