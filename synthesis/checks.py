"""The synthesis stages' expectations: keys present, synthetic keys unique, and the rule of the
dataset contract: every synthetic row's patient is in the training split."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from radcurate.checks import Expectation, TableSuite, not_null, unique
from radcurate.splits import patients_in


def synthesis_suites(kind: str):
    """The suite builder of one kind: keys present, synthetic keys unique, parents in training."""

    def build(out_dir: str | Path, inputs: Mapping[str, Any], result: Mapping[str, Any]) -> list[TableSuite]:
        out_dir = Path(out_dir)
        train = sorted(patients_in(out_dir / "curated", ("train",)))
        folder = out_dir / "curated" / "synthetic" / kind
        suites = []
        for i, part in enumerate(sorted(folder.glob("part-*.parquet"))):
            exps = [
                *not_null("synthetic_key", "patient_key", "parent_instance_key", "generator", "parameters", "seed"),
                *unique("synthetic_key"),
                Expectation("ExpectColumnValuesToBeInSet", {"column": "patient_key", "value_set": train},
                            "synthetic samples come only from training-split patients"),
            ]
            if kind == "lowdose":
                exps.append(Expectation("ExpectColumnValuesToBeBetween",
                                        {"column": "dose_fraction", "min_value": 0.0, "max_value": 1.0,
                                         "strict_min": True}))
            if i == 0 and int(result.get("parents", 0)) > 0:
                exps.append(Expectation("ExpectTableRowCountToBeBetween", {"min_value": 1},
                                        "parents were selected but none gave a synthetic row"))
            suites.append(TableSuite(f"synthetic_{kind}", part.relative_to(out_dir).as_posix(), tuple(exps)))
        return suites

    return build
