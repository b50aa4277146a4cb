"""RECIST 1.1 over true lesion sizes: target selection, sums, nadir and response per follow-up.

Written here (not imported from ``nlp``) because the synthetic truth must not depend on the code it
is used to test. Rules (Eisenhauer et al., Eur J Cancer 2009): measurable lesions have a long axis
≥ 10 mm, lymph nodes a short axis ≥ 15 mm; at most 5 targets, at most 2 per organ; the sum adds long
axes of lesions and short axes of nodes. PD: sum ≥ 120 % of the nadir and ≥ 5 mm above it, or a new
lesion; CR: every target lesion gone and every target node < 10 mm short axis (non-targets likewise);
PR: sum ≤ 70 % of baseline; SD otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Measure:
    """One lesion measured at one time point (size 0 = no longer visible)."""

    lesion_id: str
    kind: str  # "lesion" or "lymph_node"
    organ: str  # "lung", "lymph node", ...
    long_mm: float
    short_mm: float


@dataclass(frozen=True)
class Response:
    timepoint: int
    sum_mm: float
    nadir_mm: float
    response: str  # BASELINE, CR, PR, SD, PD
    targets: tuple[str, ...]
    new_lesions: tuple[str, ...]


def _size(m: Measure) -> float:
    return m.short_mm if m.kind == "lymph_node" else m.long_mm


def measurable(m: Measure) -> bool:
    return m.short_mm >= 15.0 if m.kind == "lymph_node" else m.long_mm >= 10.0


def select_targets(baseline: list[Measure], max_total: int = 5, max_per_organ: int = 2) -> list[str]:
    """The largest measurable lesions, at most ``max_per_organ`` per organ and ``max_total`` overall."""
    chosen: list[str] = []
    per_organ: dict[str, int] = {}
    for m in sorted((m for m in baseline if measurable(m)), key=lambda m: (-_size(m), m.lesion_id)):
        if len(chosen) < max_total and per_organ.get(m.organ, 0) < max_per_organ:
            chosen.append(m.lesion_id)
            per_organ[m.organ] = per_organ.get(m.organ, 0) + 1
    return chosen


def recist_responses(timepoints: list[list[Measure]]) -> list[Response]:
    """Responses for a patient's CT time points in order (index 0 is the baseline).

    Returns nothing if the baseline has no measurable lesion. ``nadir_mm`` is the smallest sum before
    the time point (the baseline sum at baseline).
    """
    if not timepoints:
        return []
    base = timepoints[0]
    targets = select_targets(base)
    if not targets:
        return []
    seen = {m.lesion_id for m in base if _size(m) > 0 or m.long_mm > 0}
    sums: list[float] = []
    out: list[Response] = []
    for t, meas in enumerate(timepoints):
        by_id = {m.lesion_id: m for m in meas}
        s = round(sum(_size(by_id[i]) for i in targets if i in by_id), 1)
        if t == 0:
            out.append(Response(0, s, s, "BASELINE", tuple(targets), ()))
            sums.append(s)
            continue
        nadir = min(sums)
        new = tuple(sorted(m.lesion_id for m in meas if m.lesion_id not in seen and m.long_mm > 0))
        nodes_ok = all(m.short_mm < 10.0 for m in meas if m.kind == "lymph_node")
        lesions_gone = all(m.long_mm == 0.0 for m in meas if m.kind != "lymph_node")
        if new or (s >= 1.2 * nadir and s - nadir >= 5.0):
            resp = "PD"
        elif nodes_ok and lesions_gone:
            resp = "CR"
        elif s <= 0.7 * sums[0]:
            resp = "PR"
        else:
            resp = "SD"
        out.append(Response(t, s, nadir, resp, tuple(targets), new))
        sums.append(s)
        seen |= {m.lesion_id for m in meas if m.long_mm > 0}
    return out
