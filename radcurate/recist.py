"""RECIST 1.1 rules over lesion sizes: targets, sum of diameters, nadir and response.

Pure functions over sizes, shared by the two stages that measure lesions: ``nlp`` (sizes stated
in report text) and ``lesions`` (diameters readers drew on the images). Neither knows the other;
both build :class:`Observation` lists per time point and call :func:`timepoint_rows`.

Rules (Eisenhauer et al., Eur J Cancer 2009): measurable lesions have a long axis >= 10 mm, lymph
nodes a short axis >= 15 mm; at most 5 targets at baseline, at most 2 per organ (all lymph nodes
count as one organ); the sum of diameters adds long axes of lesions and short axes of nodes. At
each follow-up: PD when the sum is >= 120 % of the nadir (smallest earlier sum) and >= 5 mm above
it, when a new lesion appears, or when the report states unequivocal progression of non-target
disease; CR when no non-nodal lesion is measured and every node is < 10 mm short axis; PR when the
sum is <= 70 % of the baseline sum; SD otherwise. A target a follow-up does not measure makes the
time point NE (not evaluable; no sum) unless what the report says (:class:`Evidence`) settles it:
a target called too small to measure counts as 5 mm, resolved lesions measure 0 mm. NE time points
do not set the nadir.

Lesions are matched across time points by lesion label ("Target lesion 1"), location, kind and size
history (a prior size quoted beside a measurement that equals the earlier measurement is strong
evidence); each follow-up row carries the weakest target match as ``match_confidence`` (1.0 at
baseline, 0 when a target was not found).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Protocol, Sequence

import pandas as pd
import pyarrow as pa

# Which studies are time points when nothing else says so: cross-sectional imaging.
CROSS_SECTIONAL = frozenset({"CT", "MR", "PT", "PET"})
TOO_SMALL_MM = 5.0  # RECIST guidance: present but too small to measure counts as 5 mm


def timepoint_schema(patient: str, key: str) -> pa.Schema:
    """The fields of one :func:`timepoint_rows` row: ``patient`` and ``key`` columns, the study
    date, then what the rules decide."""
    return pa.schema([
        pa.field(patient, pa.string(), nullable=False),
        pa.field(key, pa.string(), nullable=False),
        pa.field("study_date", pa.date32()),
        pa.field("timepoint", pa.int32(), nullable=False),
        pa.field("n_targets", pa.int32(), nullable=False),
        pa.field("sum_mm", pa.float64()),  # null when NE (a target was not measured)
        pa.field("nadir_mm", pa.float64(), nullable=False),
        pa.field("change_from_baseline_pct", pa.float64()),
        pa.field("change_from_nadir_pct", pa.float64()),
        pa.field("new_lesion", pa.bool_(), nullable=False),
        pa.field("response", pa.string(), nullable=False),
        pa.field("match_confidence", pa.float64(), nullable=False),
    ])

_ORGANS = (("lymph node", ("node", "paratracheal", "subcarinal", "prevascular", "hilar", "axill",
                           "mediastin", "supraclavicular", "retroperitoneal", "mesenteric", "inguinal")),
           ("liver", ("liver", "hepatic", "segment")), ("kidney", ("kidney", "renal")),
           ("adrenal", ("adrenal",)), ("bone", ("bone", "rib", "spine", "vertebra", "humer")),
           ("spleen", ("spleen",)), ("pancreas", ("pancrea",)), ("pleura", ("pleura",)),
           ("lung", ("lobe", "lung", "lingula", "apex", "base", "hemithorax", "zone", "chest")))


@dataclass(frozen=True)
class RecistConfig:
    """Thresholds of RECIST 1.1 and of lesion matching."""

    measurable_mm: float = 10.0
    measurable_node_short_mm: float = 15.0
    normal_node_short_mm: float = 10.0
    max_targets: int = 5
    max_per_organ: int = 2
    pr_fraction: float = 0.7
    pd_fraction: float = 1.2
    pd_absolute_mm: float = 5.0
    min_match_score: float = 0.3
    size_tolerance_mm: float = 0.5


@dataclass
class Observation:
    """One lesion as stated in one report (duplicates within the report merged)."""

    kind: str
    location: str | None
    label: str | None
    long_mm: float
    short_mm: float | None
    prior_size_mm: float | None = None  # the RECIST size quoted as prior in the same sentence
    section: str | None = None
    new: bool | None = None  # the report calls it new (None: no text to tell)

    @property
    def size(self) -> float:
        if self.kind == "lymph_node":
            return self.short_mm if self.short_mm is not None else self.long_mm
        return self.long_mm


@dataclass
class Track:
    """A lesion followed across time points."""

    kind: str
    location: str | None
    label: str | None
    sizes: dict[int, float] = field(default_factory=dict)  # RECIST size (node: short axis) by time point
    confidence: dict[int, float] = field(default_factory=dict)

    @property
    def organ(self) -> str:
        return organ_of(self.kind, self.location)


class Evidence(Protocol):
    """What one time point's report says beyond its sizes (the ``nlp`` stage reads it from text)."""

    def too_small(self) -> list[tuple[str | None, str]]:
        """(target label, lower-case sentence) for each lesion called too small to measure."""

    def resolved(self) -> bool:
        """The report says a lesion is gone ("has resolved", "no longer seen")."""

    def new_lesion(self) -> bool:
        """The report calls a lesion new (not negated or hedged)."""

    def non_target_progression(self) -> bool:
        """The report states unequivocal progression of non-target disease."""


def organ_of(kind: str, location: str | None) -> str:
    """Organ a lesion counts against for the two-per-organ rule (all nodes are one organ)."""
    if kind == "lymph_node":
        return "lymph node"
    loc = (location or "").lower()
    for organ, keys in _ORGANS[1:]:
        if any(k in loc for k in keys):
            return organ
    return loc or "unknown"


def _match_score(o: Observation, t: Track, last_t: int, cfg: RecistConfig) -> float:
    if o.kind != t.kind:
        return 0.0
    score = 0.0
    if o.label and t.label:
        if o.label != t.label:
            return 0.0
        score += 0.6
    if o.location and t.location:
        if o.location == t.location:
            score += 0.3
        elif organ_of(o.kind, o.location) == t.organ:
            score += 0.1
        elif not (o.label and t.label):
            return 0.0
    last = t.sizes.get(last_t)
    if o.prior_size_mm is not None and last is not None:
        score += 0.3 if abs(o.prior_size_mm - last) <= cfg.size_tolerance_mm else -0.2
    elif last:
        score += 0.1 * max(0.0, 1.0 - abs(math.log(max(o.size, 0.1) / last)))
    return min(score, 1.0)


def follow_lesions(per_timepoint: list[list[Observation]], cfg: RecistConfig = RecistConfig()):
    """Tracks over time points, and for each follow-up the tracks that are new lesions."""
    tracks: list[Track] = []
    new_at: dict[int, list[Track]] = {}
    for t, obs in enumerate(per_timepoint):
        if t == 0:
            for o in obs:
                tracks.append(Track(o.kind, o.location, o.label, {0: o.size}, {0: 1.0}))
            continue
        pairs = []
        for i, o in enumerate(obs):
            if o.new:  # called new: never one of the lesions followed so far
                continue
            for j, tr in enumerate(tracks):
                last_t = max(tr.sizes)
                pairs.append((_match_score(o, tr, last_t, cfg), i, j))
        pairs = _with_uniqueness_bonus(pairs)
        used_o, used_t = set(), set()
        for score, i, j in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
            if score < cfg.min_match_score or i in used_o or j in used_t:
                continue
            used_o.add(i)
            used_t.add(j)
            o, tr = obs[i], tracks[j]
            tr.sizes[t], tr.confidence[t] = o.size, score
            tr.label = tr.label or o.label
            tr.location = tr.location or o.location
        for i, o in enumerate(obs):
            if i not in used_o:
                # Unmatched and not called new: a lesion followed all along, too small at baseline
                # to be a target, or one the text cannot link — non-target, never "new". Without
                # text, unmatched counts as new unless quoted with a prior size or a baseline
                # lesion of its kind and organ is left unaccounted for.
                if o.new is None:
                    spare = any(tr.kind == o.kind and organ_of(o.kind, o.location) == tr.organ
                                and 0 in tr.sizes and t not in tr.sizes for tr in tracks)
                    is_new = o.prior_size_mm is None and not spare
                else:
                    is_new = o.new
                tr = Track(o.kind, o.location, o.label, {t: o.size}, {t: 0.0})
                tracks.append(tr)
                if is_new:
                    new_at.setdefault(t, []).append(tr)
    return tracks, new_at


def _with_uniqueness_bonus(pairs: list[tuple[float, int, int]]) -> list[tuple[float, int, int]]:
    """Raise a plausible pair's score by 0.3 when neither side has any other plausible partner."""
    plausible = [(i, j) for score, i, j in pairs if score > 0]
    per_o: dict[int, int] = {}
    per_t: dict[int, int] = {}
    for i, j in plausible:
        per_o[i] = per_o.get(i, 0) + 1
        per_t[j] = per_t.get(j, 0) + 1
    return [(min(1.0, score + 0.3) if score > 0 and per_o[i] == 1 and per_t[j] == 1 else score, i, j)
            for score, i, j in pairs]


def select_targets(tracks: list[Track], cfg: RecistConfig = RecistConfig()) -> list[Track]:
    """The largest measurable baseline lesions, at most 2 per organ and 5 overall."""
    def measurable(tr: Track) -> bool:
        size = tr.sizes.get(0)
        if size is None:
            return False
        return size >= (cfg.measurable_node_short_mm if tr.kind == "lymph_node" else cfg.measurable_mm)

    chosen: list[Track] = []
    per_organ: dict[str, int] = {}
    for tr in sorted((t for t in tracks if measurable(t)), key=lambda t: -t.sizes[0]):
        if len(chosen) < cfg.max_targets and per_organ.get(tr.organ, 0) < cfg.max_per_organ:
            chosen.append(tr)
            per_organ[tr.organ] = per_organ.get(tr.organ, 0) + 1
    return chosen


def _too_small_targets(mentions: list[tuple[str | None, str]], missing: list[Track]) -> set[int]:
    """Indices into ``missing`` of the targets a report calls too small to measure (by label, by
    location words, or the only unmeasured target)."""
    found: set[int] = set()
    for label, sentence in mentions:
        hits = [i for i, tr in enumerate(missing) if label and tr.label and tr.label.lower() == label]
        if not hits and not label:
            hits = [i for i, tr in enumerate(missing) if tr.location and tr.location.lower() in sentence]
        if not hits and len(missing) == 1:
            hits = [0]
        found.update(hits[:1])
    return found


def patient_responses(per_timepoint: list[list[Observation]], cfg: RecistConfig = RecistConfig(),
                      evidence: Sequence[Evidence | None] | None = None) -> list[dict]:
    """RECIST rows for one patient's time points (index 0 = baseline); empty without a target.

    ``evidence`` (one :class:`Evidence` per time point, from its report) settles the edge cases of
    the module docstring: unmeasured targets (resolved, too small, or NE), sizeless new lesions,
    non-target progression. Without it, only the sizes decide.
    """
    if not per_timepoint:
        return []
    tracks, new_at = follow_lesions(per_timepoint, cfg)
    targets = select_targets(tracks, cfg)
    if not targets:
        return []
    rows: list[dict] = []
    sums: list[float] = []
    for t, obs in enumerate(per_timepoint):
        said = evidence[t] if evidence is not None else None
        missing = [tr for tr in targets if t not in tr.sizes]
        evaluable = True
        if t and missing and said is not None:
            small = _too_small_targets(said.too_small(), missing)
            for i in small:
                missing[i].sizes[t], missing[i].confidence[t] = TOO_SMALL_MM, 0.5
            still = [tr for i, tr in enumerate(missing) if i not in small]
            evaluable = not still or said.resolved()  # resolved lesions measure 0 mm
        s = round(sum(tr.sizes.get(t, 0.0) for tr in targets), 1)
        if t == 0:
            rows.append({"timepoint": 0, "n_targets": len(targets), "sum_mm": s, "nadir_mm": s,
                         "change_from_baseline_pct": 0.0, "change_from_nadir_pct": 0.0,
                         "new_lesion": False, "response": "BASELINE", "match_confidence": 1.0})
            sums.append(s)
            continue
        nadir = min(sums)
        new = bool(new_at.get(t)) or (said is not None and said.new_lesion())
        nodes_ok = all(o.size < cfg.normal_node_short_mm for o in obs if o.kind == "lymph_node")
        lesions_gone = not any(o.kind != "lymph_node" and o.long_mm > 0 for o in obs) and \
            all(tr.sizes.get(t, 0.0) == 0 for tr in targets if tr.kind != "lymph_node")
        non_target_pd = said is not None and said.non_target_progression()
        if new or non_target_pd or (evaluable and s >= cfg.pd_fraction * nadir and s - nadir >= cfg.pd_absolute_mm):
            response = "PD"
        elif not evaluable:
            response = "NE"
        elif nodes_ok and lesions_gone:
            response = "CR"
        elif s <= cfg.pr_fraction * sums[0]:
            response = "PR"
        else:
            response = "SD"
        confidence = min(tr.confidence.get(t, 0.0) if t in tr.sizes else
                         (1.0 if response == "CR" else 0.0) for tr in targets)
        if not evaluable:  # no sum from a guess: NE rows carry none, and do not set the nadir
            rows.append({"timepoint": t, "n_targets": len(targets), "sum_mm": None, "nadir_mm": nadir,
                         "change_from_baseline_pct": None, "change_from_nadir_pct": None,
                         "new_lesion": new, "response": response, "match_confidence": round(confidence, 2)})
            continue
        rows.append({"timepoint": t, "n_targets": len(targets), "sum_mm": s, "nadir_mm": nadir,
                     "change_from_baseline_pct": round(100.0 * (s - sums[0]) / sums[0], 1),
                     "change_from_nadir_pct": round(100.0 * (s - nadir) / nadir, 1) if nadir else None,
                     "new_lesion": new, "response": response, "match_confidence": round(confidence, 2)})
        sums.append(s)
    return rows


def timepoint_rows(studies: pd.DataFrame, key: str, patient: str,
                   observations: Mapping[str, list[Observation]], config: RecistConfig = RecistConfig(),
                   evidence: Mapping[str, Evidence] | None = None) -> list[dict]:
    """RECIST rows of every patient: ``studies`` are the time points (``key``, ``patient`` and
    ``study_date`` as dates; rows without a date are left out), ``observations`` the lesions of
    each study by key, ``evidence`` what each study's report says (optional). Rows carry ``key``,
    ``patient``, ``study_date`` and the response fields; patients without a measurable baseline
    lesion give none."""
    rows: list[dict] = []
    for pid, group in studies.dropna(subset=["study_date"]).groupby(patient, sort=True):
        group = group.sort_values(["study_date", key])
        per_tp = [observations.get(k, []) for k in group[key]]
        said = [evidence.get(k) for k in group[key]] if evidence is not None else None
        for r in patient_responses(per_tp, config, said):
            study = group.iloc[r["timepoint"]]
            rows.append({patient: str(pid), key: study[key], "study_date": study["study_date"], **r})
    return rows
