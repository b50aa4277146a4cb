"""What a labels table must satisfy: the labeling stage's Great Expectations suite.

`labels_expectations` gives each expectation as (GE expectation class name, kwargs, why), for a
table keyed by any id column (``report_id`` from `radcurate label`, ``report_key`` in the curated
dataset); `labeling_suites` is the pipeline's suite over ``curated/labels.parquet``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pyarrow.parquet as pq

from radcurate.checks import Expectation, TableSuite

from .config import POLICIES, VOCABULARIES, LabelingConfig


def value_probability_rule(config: LabelingConfig = LabelingConfig()) -> tuple[tuple[str, dict, str], ...]:
    """`value` is the uncertainty policy applied to `probability` (see `aggregate.decide`): one
    expectation per value, each on the rows holding it (a pandas row condition)."""
    t, lo = config.threshold, config.uncertain_min

    def band(condition: str, low: float, high: float, strict_high: bool, why: str):
        return ("ExpectColumnValuesToBeBetween",
                {"column": "probability", "min_value": low, "max_value": high, "strict_max": strict_high,
                 "row_condition": condition, "condition_parser": "pandas"}, why)

    return (
        band('value == 1 and policy != "u_ones"', t, 1.0, False, f"value 1 means probability >= {t}"),
        band('value == 1', lo, 1.0, False, f"value 1 (u_ones: uncertain counts present) means probability >= {lo}"),
        band("value == 0", 0.0, t, True, f"value 0 means probability < {t}"),
        band("value == -1", lo, t, True, f"value -1 means {lo} <= probability < {t}"),
        band("value.isna()", 0.0, t, True, f"not mentioned means probability < {t}"),
    )


def labels_expectations(id_column: str = "report_id", vocabularies=None,
                        config: LabelingConfig = LabelingConfig()) -> tuple[tuple[str, dict, str], ...]:
    """Expectations for a labels table keyed by ``id_column``, over ``vocabularies`` (names;
    default the built-in ones) and labelled with ``config`` (its threshold and uncertain band)."""
    vocabularies = list(vocabularies or VOCABULARIES)
    return value_probability_rule(config) + (
        ("ExpectColumnValuesToNotBeNull", {"column": id_column}, "every label belongs to a study"),
        ("ExpectCompoundColumnsToBeUnique", {"column_list": [id_column, "vocabulary", "finding"]},
         "one row per study and finding"),
        ("ExpectColumnValuesToBeInSet", {"column": "value", "value_set": [1, 0, -1]},
         "1 present, 0 absent, -1 uncertain (null: not mentioned)"),
        ("ExpectColumnValuesToNotBeNull", {"column": "probability"}, "every label has a probability"),
        ("ExpectColumnValuesToBeBetween", {"column": "probability", "min_value": 0.0,
                                           "max_value": 1.0}, "probabilities lie in [0, 1]"),
        ("ExpectColumnValuesToBeInSet", {"column": "policy", "value_set": list(POLICIES)},
         "a known uncertainty policy"),
        ("ExpectColumnValuesToBeInSet", {"column": "vocabulary", "value_set": vocabularies},
         "a known label vocabulary"),
    )


def labeling_suites(out_dir: str | Path, inputs: Mapping[str, Any],
                    result: Mapping[str, Any]) -> list[TableSuite]:
    """Labels: values in the allowed set, one row per study and finding, probabilities in [0, 1]."""
    rule_labels = Path(out_dir) / "curated/rule_labels.parquet"
    vocabularies = (sorted(set(pq.read_table(rule_labels, columns=["vocabulary"]).column(0).to_pylist()))
                    if rule_labels.exists() else None)
    expectations = tuple(Expectation(t, dict(kw), why)
                         for t, kw, why in labels_expectations("report_key", vocabularies))
    expectations += (
        Expectation("ExpectCompoundColumnsToBeUnique", {"column_list": ["study_key", "vocabulary", "finding"]},
                     "one row per study and finding"),
        Expectation("ExpectColumnValuesToNotBeNull", {"column": "study_key"}, "every label has its study"),
    )
    return [TableSuite("labeling.labels", "curated/labels.parquet", expectations)]
