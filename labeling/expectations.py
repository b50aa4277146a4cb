"""What a labels table must satisfy, as plain data for the pipeline's Great Expectations suite.

Each entry is (GE expectation class name, kwargs, why). Kept free of GE imports so the stage
graph can be built without it; `dags/` wraps these into its suite (the id column is
``report_id`` here, ``report_key`` in the curated dataset: see `labels_expectations`).
"""
from __future__ import annotations

from .config import POLICIES


def labels_expectations(id_column: str = "report_id") -> tuple[tuple[str, dict, str], ...]:
    """Expectations for a labels table keyed by ``id_column``."""
    return (
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
        ("ExpectColumnValuesToBeInSet", {"column": "vocabulary",
                                         "value_set": ["chestxray14", "chexpert"]},
         "a known label vocabulary"),
    )
