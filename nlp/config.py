"""Settings of the nlp stage in the pipeline (config file section ``nlp``)."""

from __future__ import annotations

import dataclasses
from typing import Any

NAME = "nlp"  # the stage's name: its config section and its quarantine rows' stage


@dataclasses.dataclass(frozen=True)
class NlpStageConfig:
    """The nlp stage's settings: Dask partitions of the report table, LDA topics on/off, extra lexicons."""

    reports_per_partition: int = 20_000
    topics: bool = True
    lexicons: tuple[str, ...] = dataclasses.field(default=(), metadata={"path": True})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
