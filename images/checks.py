"""The images and splits stages' expectations: one row per decoded frame, counts that reconcile
with deid's table and the quarantine; no image, study or patient in two splits."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pyarrow.parquet as pq

from radcurate.checks import Expectation, TableSuite, not_null, row_count
from radcurate.images_table import read_images
from radcurate.tables import table_rows


def images_suites(out_dir, inputs: Mapping[str, Any], result: Mapping[str, Any]) -> list[TableSuite]:
    """One row per decoded frame and preprocessing; instances reconcile with deid's table and the
    quarantine; an all-quarantined input fails (no table to read)."""
    out = Path(out_dir)
    instances_in = table_rows(out / "curated/instances.parquet")
    quarantined = 0
    if (out / "quarantine.parquet").exists():
        q = pq.read_table(out / "quarantine.parquet", columns=["stage"]).column(0).to_pylist()
        quarantined = sum(1 for s in q if s == "images")
    suites = [TableSuite("images.quarantine", "quarantine.parquet", not_null("source", "reason"),
                         where=("stage", "images"))] if quarantined else []
    if instances_in == 0:
        return suites
    expectations = not_null("instance_key", "series_key", "study_key", "patient_key", "frame_index",
                            "preprocessing", "rows", "columns", "dtype") + (
        Expectation("ExpectCompoundColumnsToBeUnique",
                    {"column_list": ["instance_key", "frame_index", "preprocessing"]},
                    "one row per image frame and preprocessing"),
        Expectation("ExpectColumnUniqueValueCountToBeBetween",
                    {"column": "instance_key", "min_value": instances_in - quarantined,
                     "max_value": instances_in - quarantined},
                    f"counts reconcile: {instances_in} curated images - {quarantined} quarantined"),
        Expectation("ExpectColumnValuesToBeInSet",
                    {"column": "dtype", "value_set": ["int16", "uint8", "uint16", "int8", "int32", "uint32",
                                                      "float32", "float64"]}),
        Expectation("ExpectColumnValuesToBeBetween", {"column": "rows", "min_value": 1}),
        Expectation("ExpectColumnValuesToBeBetween", {"column": "columns", "min_value": 1}),
    )
    ct = Expectation("ExpectColumnValuesToBeInSet", {"column": "dtype", "value_set": ["int16"]},
                     "CT pixels are Hounsfield units as int16")
    return suites + [
        TableSuite("images.images", "curated/images", expectations),
        TableSuite("images.ct_in_hu", "curated/images", (ct,), where=("modality", "CT")),
    ]


def splits_suites(out_dir, inputs: Mapping[str, Any], result: Mapping[str, Any]) -> list[TableSuite]:
    """No patient, study or image in two splits; every image has a split; folds in range."""
    out = Path(out_dir)
    folds = int(result.get("folds", 5))
    images = read_images(out / "curated", columns=["instance_key"])["instance_key"].unique()
    per_image = pq.read_table(out / "curated/image_splits.parquet",
                              columns=["study_key", "patient_key", "split"]).to_pandas()
    study_pairs = len(per_image.drop_duplicates(["study_key", "split"]))
    patient_pairs = len(per_image.drop_duplicates(["patient_key", "split"]))
    return [
        TableSuite("splits.patients", "curated/splits.parquet",
                   not_null("patient_key", "split") + (
                       Expectation("ExpectColumnValuesToBeUnique", {"column": "patient_key"},
                                   "no patient in two splits"),
                       Expectation("ExpectColumnValuesToBeInSet",
                                   {"column": "split", "value_set": ["train", "val", "test"]}),
                       Expectation("ExpectColumnValuesToBeBetween",
                                   {"column": "fold", "min_value": 0, "max_value": folds - 1}))),
        TableSuite("splits.images", "curated/image_splits.parquet",
                   (Expectation("ExpectColumnValuesToNotBeNull", {"column": "split"}, "every image has a split"),
                    Expectation("ExpectColumnValuesToBeUnique", {"column": "instance_key"},
                                "no image in two splits"),
                    row_count(len(images), "every image of curated/images is assigned"),
                    Expectation("ExpectColumnUniqueValueCountToBeBetween",
                                {"column": "study_key", "min_value": study_pairs, "max_value": study_pairs},
                                "no study in two splits (distinct studies = distinct study/split pairs)"),
                    Expectation("ExpectColumnUniqueValueCountToBeBetween",
                                {"column": "patient_key", "min_value": patient_pairs,
                                 "max_value": patient_pairs},
                                "no patient's images in two splits"))),
    ]
