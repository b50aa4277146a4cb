"""Settings of the lesions stage (config file section ``lesions``)."""

from __future__ import annotations

from dataclasses import dataclass, field

NAME = "lesions"  # the stage's name: its config section and its quarantine rows' stage
MASK_METHODS = ("ellipse", "grabcut")


@dataclass(frozen=True)
class LesionsConfig:
    """``mask_method``: ``ellipse`` (through the RECIST endpoints) or ``grabcut`` (refined in the box)."""

    mask_method: str = field(default="ellipse", metadata={"choices": MASK_METHODS})
    size_scale_mm: float = 4.0

    def __post_init__(self):
        if self.mask_method not in MASK_METHODS:
            raise ValueError(f"mask_method must be one of {', '.join(MASK_METHODS)}, not {self.mask_method!r}")
