"""Ingest settings: defaults in code, overridable by the pipeline config file and by flags."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from typing import Any, Mapping

from radcurate.settings import dataclass_from

NAME = "ingest"  # the stage's name: its config section and its quarantine rows' stage
REPORT_COLUMNS = ("accession", "patient_id", "patient_name", "exam_date", "report_text")


@dataclass(frozen=True)
class IngestConfig:
    """How to read a PACS export and a RIS extract.

    ``batch_size`` caps the files per Dask task (tasks of a few ms gain nothing on few cores);
    ``report_columns`` maps the five expected columns to the extract's own header names.
    """

    batch_size: int = 256
    report_encoding: str = "utf-8"
    report_columns: Mapping[str, str] = field(default_factory=lambda: {c: c for c in REPORT_COLUMNS})
    show_progress: bool = False
    max_report_bytes: int = 1_000_000  # larger reports are quarantined (report_too_large)

    def __post_init__(self) -> None:
        if not isinstance(self.batch_size, int) or isinstance(self.batch_size, bool) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, not {self.batch_size!r}")
        try:
            codecs.lookup(self.report_encoding)
        except (LookupError, TypeError):
            raise ValueError(f"unknown report_encoding {self.report_encoding!r}") from None
        if not isinstance(self.report_columns, Mapping):
            raise ValueError("report_columns must map column roles to the extract's header names")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> "IngestConfig":
        """Build from a config-file section, rejecting unknown keys with a clear message."""
        values = dict(values or {})
        if "report_columns" in values:
            columns = values["report_columns"]
            if not isinstance(columns, Mapping):
                raise ValueError("report_columns must map column roles to the extract's header names")
            values["report_columns"] = {**{c: c for c in REPORT_COLUMNS}, **columns}
        return dataclass_from(cls, values, "ingest")

    def to_dict(self) -> dict[str, Any]:
        """Plain values for hashing and for ``manifest.json`` (progress display excluded)."""
        return {
            "batch_size": self.batch_size,
            "report_encoding": self.report_encoding,
            "report_columns": dict(sorted(self.report_columns.items())),
            "max_report_bytes": self.max_report_bytes,
        }
