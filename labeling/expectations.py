"""What a labels table must satisfy, as plain data for the pipeline's Great Expectations suite.

Each entry is (GE expectation class name, kwargs, why). Kept free of GE imports so the stage
graph can be built without it; `dags/` wraps these into its suite (the id column is
``report_id`` here, ``report_key`` in the curated dataset: see `labels_expectations`).
"""
from __future__ import annotations

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
