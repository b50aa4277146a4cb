"""The nlp stage's expectations: every curated report mined or quarantined, evidence traceable,
sizes plausible."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from radcurate.checks import Expectation, TableSuite, not_null, quarantine_sources
from radcurate.tables import table_rows

def nlp_suites(out_dir: str | Path, inputs: Mapping[str, Any], result: Mapping[str, Any]) -> list[TableSuite]:
    """NLP: every curated report mined or quarantined; evidence traceable; sizes plausible."""
    out_dir = Path(out_dir)
    reports = table_rows(out_dir / "curated/reports.parquet")
    quarantined = len(quarantine_sources(out_dir, "nlp"))
    return [
        TableSuite("nlp.rule_labels", "curated/rule_labels.parquet",
                   not_null("report_key", "vocabulary", "finding")
                   + (Expectation("ExpectCompoundColumnsToBeUnique",
                                  {"column_list": ["report_key", "vocabulary", "finding"]},
                                  "one rule label per report and finding"),
                      Expectation("ExpectColumnUniqueValueCountToBeBetween",
                                  {"column": "report_key", "min_value": reports - quarantined,
                                   "max_value": reports - quarantined},
                                  f"counts reconcile: {reports} reports - {quarantined} quarantined"))),
        TableSuite("nlp.mentions", "curated/mentions.parquet",
                   not_null("report_key", "finding", "vocabulary", "sentence_index", "start", "end")),
        TableSuite("nlp.measurements", "curated/measurements.parquet",
                   not_null("report_key", "kind", "timepoint")
                   + tuple(Expectation("ExpectColumnValuesToBeBetween",
                                       {"column": c, "min_value": 0.1, "max_value": 1000.0},
                                       "sizes in millimetres, 0.1 mm to 1 m (null: axis not stated)")
                           for c in ("long_axis_mm", "short_axis_mm"))
                   + (Expectation("ExpectColumnValuesToBeInSet",
                                  {"column": "kind",
                                   "value_set": ["lesion", "lymph_node", "organ", "device", "other"]}),)),
    ]
