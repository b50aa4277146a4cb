"""The lesions stage's expectations: keys present, every cross a row or a quarantine row, sizes
and links plausible."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from radcurate.checks import Expectation, TableSuite, not_null, row_count, unique


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
