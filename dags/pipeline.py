"""The stage graph: which stages a run executes, in which order.

Each stage package exports its ``STAGE`` (:class:`radcurate.stage.Stage`: its function, inputs,
outputs, checks, config and summary line). Adding a stage means one new package and one line in
:data:`PIPELINE`; optional stages (synthesis) run when the run's config names them. Only this
module knows the order of stages.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from radcurate import deid, images, ingest, labeling, lesions, nlp, synthesis
from radcurate.stage import INPUT_PREFIX, Stage, StageContext  # noqa: F401  (the graph's vocabulary)

PIPELINE: tuple[Stage, ...] = (
    ingest.STAGE,
    deid.STAGE,
    nlp.STAGE,
    labeling.STAGE,
    lesions.STAGE,
    images.STAGE,
    images.SPLITS_STAGE,
)

# Off by default; a section in the run's config switches one on (e.g. `synthesize_lowdose: {}`).
OPTIONAL_STAGES: tuple[Stage, ...] = synthesis.OPTIONAL_STAGES


def active(stages: Sequence[Stage], config: Mapping[str, Any] | None) -> list[Stage]:
    """The stages a run executes: ``stages`` plus the optional stages named in ``config``."""
    names = {s.name for s in stages}
    return list(stages) + [s for s in OPTIONAL_STAGES if s.name in (config or {}) and s.name not in names]


def ordered(stages: Sequence[Stage]) -> list[Stage]:
    """Stages in dependency order (stable with respect to the listed order); rejects cycles and
    unknown dependencies with a clear error."""
    by_name = {s.name: s for s in stages}
    if len(by_name) != len(stages):
        raise ValueError("stage names must be unique")
    for s in stages:
        unknown = [d for d in s.depends_on if d not in by_name]
        if unknown:
            raise ValueError(f"stage {s.name} depends on unknown stage(s): {', '.join(unknown)}")
    done: list[Stage] = []
    placed: set[str] = set()
    pending = list(stages)
    while pending:
        ready = [s for s in pending if all(d in placed for d in s.depends_on)]
        if not ready:
            raise ValueError(f"dependency cycle among: {', '.join(s.name for s in pending)}")
        for s in ready:
            done.append(s)
            placed.add(s.name)
        pending = [s for s in pending if s.name not in placed]
    return done


def dependants(stages: Sequence[Stage], name: str) -> set[str]:
    """Every stage that depends on ``name``, directly or through others."""
    found: set[str] = set()
    frontier = {name}
    while frontier:
        nxt = {s.name for s in stages if set(s.depends_on) & frontier} - found
        found |= nxt
        frontier = nxt
    return found
