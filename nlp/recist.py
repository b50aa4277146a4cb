"""RECIST 1.1 response across a patient's studies, derived from sizes stated in report text.

This is NOT a radiologist's RECIST read: it follows the sizes a radiologist happened to dictate, so
lesions that were never measured in a report are invisible to it, and lesion identity across
studies is inferred from the text. Every row says so (`derived_from = 'report_text'`) and carries a
`match_confidence` for the lesion matching it rests on.

Rules (Eisenhauer et al., Eur J Cancer 2009): measurable lesions have a long axis >= 10 mm, lymph
nodes a short axis >= 15 mm; at most 5 targets at baseline, at most 2 per organ (all lymph nodes
count as one organ); the sum of diameters adds long axes of lesions and short axes of nodes. At
each follow-up: PD when the sum is >= 120 % of the nadir (smallest earlier sum) and >= 5 mm above
it, when a new lesion appears, or when the report states unequivocal progression of non-target
disease; CR when no non-nodal lesion is measured and every node is < 10 mm short axis; PR when the
sum is <= 70 % of the baseline sum; SD otherwise.

Edge cases, as RECIST 1.1 and its guidance settle them (with the report text, `studies["text"]`):
- a new lesion is one the report *calls* new, in any phrasing ("new", "newly", "interval
  development/appearance of", "additional", "another", "de novo"; not "no new", not "possible new"):
  it makes PD, sized or not, and is never matched to a baseline target;
- a lesion too small to be measurable at baseline (< 10 mm; a node < 15 mm short axis) is non-target:
  when it grows it is still that lesion, never "new" (an unmatched lesion not called new is a
  non-target lesion);
- a target the report calls "too small to measure" counts as 5 mm;
- a target a follow-up does not measure, where the report neither states that lesions resolved nor
  calls it too small, makes the time point NE (not evaluable; no sum), unless a new lesion or
  non-target progression already makes it PD. NE time points do not set the nadir.

Lesions are matched across studies by lesion label ("Target lesion 1"), location, kind and size
history (a prior size quoted in the later report that equals the earlier measurement is strong
evidence); each follow-up row carries the weakest target match as `match_confidence` (1.0 at
baseline, 0 when a target was not found).

Which studies are time points: those flagged in an `evaluable` column when `studies` has one
(`mine_extras` flags reports that state a lesion size or a lesion's resolution, see
`states_resolution`); else, with a `modality` column, cross-sectional studies (CT, MR, PT); else
studies whose report states at least one lesion or node size (current or prior).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

DERIVED_FROM = "report_text"
CROSS_SECTIONAL = frozenset({"CT", "MR", "PT", "PET"})
NOT_THIS_STUDY = frozenset({"history", "comparison", "technique", "examination"})

RECIST_SCHEMA = pa.schema([
    pa.field("patient_id", pa.string(), nullable=False),
    pa.field("report_id", pa.string(), nullable=False),
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
    pa.field("derived_from", pa.string(), nullable=False),
])

_RESOLUTION = re.compile(
    r"\b(?:(?:has|have)\s+resolved|resolution\s+of|no\s+longer\s+(?:seen|visible|identified|present)|"
    r"(?:has|have)\s+disappeared|no\s+(?:residual|measurable)\s+(?:disease|lesions?|nodules?|masses|tumou?r))\b",
    re.IGNORECASE)

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


def states_resolution(text) -> bool:
    """Does a report say that a lesion is gone ("has resolved", "no longer seen")?

    Such a follow-up is evaluable (its lesions measure 0 mm) although it states no size.
    """
    return isinstance(text, str) and bool(_RESOLUTION.search(text))


_NEW = re.compile(r"\b(?:new|newly|interval(?:ly)?\s+(?:development|developed|appearance|appeared|emergence)"
                  r"|(?:has|have)\s+(?:developed|appeared)|additional|another|de\s+novo)\b", re.IGNORECASE)
_LESION = re.compile(r"\b(?:lesion|nodule|mass|metasta\w*|deposit|focus|foci|tumou?r|implant|adenopathy|"
                     r"lymphadenopathy|lymph\s+node|node)s?\b", re.IGNORECASE)
_NON_TARGET_PD = re.compile(
    r"\bunequivocal(?:ly)?\s+(?:progression|progressive|increase|growth|enlargement)"
    r"|\bprogression\s+of\s+(?:the\s+)?non-?\s?target"
    r"|\bnon-?\s?target\s+(?:lesions?|disease)\b[^.;]*?\b(?:progress\w*|increas\w*|enlarg\w*|grown|grew)",
    re.IGNORECASE)
_TOO_SMALL = re.compile(r"\btoo\s+small\s+to\s+(?:accurately\s+|reliably\s+|precisely\s+)?(?:be\s+)?measure",
                        re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<!\d)\.(?!\d)|[;!?\n]")
_LABEL = re.compile(r"\btarget\s+(?:lesion\s+)?(?:#|no\.?\s*|number\s+)?(\d+)", re.IGNORECASE)
TOO_SMALL_MM = 5.0  # RECIST guidance: present but too small to measure counts as 5 mm


def _sentences(text: str) -> list[tuple[int, int]]:
    out, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        out.append((start, m.end()))
        start = m.end()
    out.append((start, len(text)))
    return [(s, e) for s, e in out if text[s:e].strip()]


def _asserted(sentence: str, start: int, end: int) -> bool:
    """The phrase at [start, end) of the sentence is neither negated nor hedged ("no new", "possible new")."""
    from radcurate.nlp.assertion import assert_target, load_rules

    lower = sentence.lower()
    a = assert_target(lower, load_rules().find(lower), start, end)
    return not (a.negated or a.uncertain or a.hypothetical or a.historical)


def _calls_new(segment: str) -> bool:
    return any(_asserted(segment, m.start(), m.end()) for m in _NEW.finditer(segment))


def states_new_lesion(text) -> bool:
    """Does a report call a lesion new ("new liver lesions", "interval development of a nodule"),
    not negated or hedged? Sized or not, RECIST 1.1 makes that PD."""
    if not isinstance(text, str):
        return False
    for s, e in _sentences(text):
        sentence = text[s:e]
        if _LESION.search(sentence) and _calls_new(sentence):
            return True
    return False


def states_non_target_progression(text) -> bool:
    """Does a report state unequivocal progression of non-target disease (not negated or hedged)?"""
    if not isinstance(text, str):
        return False
    for s, e in _sentences(text):
        sentence = text[s:e]
        if any(_asserted(sentence, m.start(), m.end()) for m in _NON_TARGET_PD.finditer(sentence)):
            return True
    return False


def too_small_mentions(text) -> list[tuple[str | None, str]]:
    """(target label, sentence) for each lesion a report calls too small to measure."""
    if not isinstance(text, str):
        return []
    out = []
    for s, e in _sentences(text):
        sentence = text[s:e]
        if _TOO_SMALL.search(sentence) and _asserted(sentence, *_TOO_SMALL.search(sentence).span()):
            label = _LABEL.search(sentence)
            out.append((f"target lesion {label.group(1)}" if label else None, sentence.lower()))
    return out


def organ_of(kind: str, location: str | None) -> str:
    """Organ a lesion counts against for the two-per-organ rule (all nodes are one organ)."""
    if kind == "lymph_node":
        return "lymph node"
    loc = (location or "").lower()
    for organ, keys in _ORGANS[1:]:
        if any(k in loc for k in keys):
            return organ
    return loc or "unknown"


def _num(value) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return float(value)


def _str(value) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def observations(measurements: pd.DataFrame, texts=None) -> dict[str, list[Observation]]:
    """Current lesion/node sizes per report, with the prior size quoted beside each one.

    With ``texts`` (report id -> text), each lesion also says whether the report calls it new: a
    novelty cue in its own clause (from the sentence start, or the previous size in the sentence,
    up to its size)."""
    texts = texts or {}
    out: dict[str, list[Observation]] = {}
    wanted = measurements[measurements["kind"].isin(["lesion", "lymph_node"])]
    if "section" in wanted.columns:  # a size in the history ("nodule on outside CT") is not this study's
        wanted = wanted[~wanted["section"].isin(NOT_THIS_STUDY)]
    for report_id, rows in wanted.groupby("report_id", sort=False):
        obs: list[Observation] = []
        rows = rows.sort_values("char_start")
        current = rows[rows["timepoint"] == "current"]
        prior = rows[rows["timepoint"] == "prior"]
        text = texts.get(str(report_id))
        bounds = _sentences(text) if isinstance(text, str) and "char_end" in rows.columns else []
        ends = sorted(int(e) for e in rows["char_end"]) if bounds else []
        for _, r in current.iterrows():
            long_mm = _num(r["long_axis_mm"])
            short_mm = _num(r["short_axis_mm"])
            if long_mm is None:
                long_mm = short_mm
            if long_mm is None:
                continue
            same = prior[(prior["sentence_index"] == r["sentence_index"])]
            prior_size = None
            if len(same):
                p = same.iloc[0]
                p_long, p_short = _num(p["long_axis_mm"]), _num(p["short_axis_mm"])
                prior_size = Observation(r["kind"], None, None, p_long if p_long is not None else p_short,
                                         p_short).size
            new = None
            if bounds:
                start = int(r["char_start"])
                s0 = max((s for s, _ in bounds if s <= start), default=0)
                s0 = max([s0] + [e for e in ends if s0 <= e <= start])
                new = _calls_new(text[s0:int(r["char_end"])])
            o = Observation(r["kind"], _str(r["location"]), _str(r["lesion_label"]), long_mm, short_mm, prior_size,
                            _str(r["section"]) if "section" in r else None, new)
            if not any(_duplicate(o, p) for p in obs):
                obs.append(o)
        out[str(report_id)] = obs
    return out


def _duplicate(a: Observation, b: Observation) -> bool:
    """The same lesion restated in another section of one report (findings, then impression).

    Two lesions of one lobe may share a long axis, so within a section nothing is merged, and
    across sections the label, location and every stated axis must agree.
    """
    if a.kind != b.kind or (a.section is not None and a.section == b.section):
        return False
    if a.label and b.label and a.label != b.label:
        return False
    if a.location and b.location and a.location != b.location:
        return False
    if a.short_mm is not None and b.short_mm is not None and abs(a.short_mm - b.short_mm) >= 0.5:
        return False
    return abs(a.long_mm - b.long_mm) < 0.5


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
                      texts: list | None = None) -> list[dict]:
    """RECIST rows for one patient's time points (index 0 = baseline); empty without a target.

    ``texts`` (one report text per time point) settle the edge cases of the module docstring:
    unmeasured targets (resolved, too small, or NE), sizeless new lesions, non-target progression.
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
        text = texts[t] if texts is not None else None
        missing = [tr for tr in targets if t not in tr.sizes]
        evaluable = True
        if t and missing and texts is not None:
            small = _too_small_targets(too_small_mentions(text), missing)
            for i in small:
                missing[i].sizes[t], missing[i].confidence[t] = TOO_SMALL_MM, 0.5
            still = [tr for i, tr in enumerate(missing) if i not in small]
            evaluable = not still or states_resolution(text)  # resolved lesions measure 0 mm
        s = round(sum(tr.sizes.get(t, 0.0) for tr in targets), 1)
        if t == 0:
            rows.append({"timepoint": 0, "n_targets": len(targets), "sum_mm": s, "nadir_mm": s,
                         "change_from_baseline_pct": 0.0, "change_from_nadir_pct": 0.0,
                         "new_lesion": False, "response": "BASELINE", "match_confidence": 1.0})
            sums.append(s)
            continue
        nadir = min(sums)
        new = bool(new_at.get(t)) or (texts is not None and states_new_lesion(text))
        nodes_ok = all(o.size < cfg.normal_node_short_mm for o in obs if o.kind == "lymph_node")
        lesions_gone = not any(o.kind != "lymph_node" and o.long_mm > 0 for o in obs) and \
            all(tr.sizes.get(t, 0.0) == 0 for tr in targets if tr.kind != "lymph_node")
        non_target_pd = texts is not None and states_non_target_progression(text)
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


def recist_table(measurements: pd.DataFrame, studies: pd.DataFrame,
                 config: RecistConfig = RecistConfig()) -> pd.DataFrame:
    """Per patient and time point: targets, sum of diameters, nadir, response (schema `RECIST_SCHEMA`).

    `measurements` is `measurements_table` output; `studies` has `report_id`, `patient_id`,
    `study_date` and optionally `modality` and `text` (the report text: it decides the edge cases
    of the module docstring). Patients without a measurable baseline lesion give no rows.
    """
    missing = {"report_id", "patient_id", "study_date"} - set(studies.columns)
    if missing:
        raise ValueError(f"studies table lacks columns {sorted(missing)}")
    texts = dict(zip(studies["report_id"].astype(str), studies["text"])) if "text" in studies.columns else None
    obs = observations(measurements, texts) if len(measurements) else {}
    stated = set(measurements.loc[measurements["kind"].isin(["lesion", "lymph_node"]), "report_id"].astype(str)) \
        if len(measurements) else set()
    studies = studies.assign(report_id=studies["report_id"].astype(str),
                             study_date=pd.to_datetime(studies["study_date"], errors="coerce").dt.date)
    if "evaluable" in studies.columns:
        studies = studies[studies["evaluable"].fillna(False).astype(bool)]
    elif "modality" in studies.columns:
        studies = studies[studies["modality"].astype(str).str.upper().isin(CROSS_SECTIONAL)]
    else:
        studies = studies[studies["report_id"].isin(stated)]
    rows: list[dict] = []
    for patient, group in studies.dropna(subset=["study_date"]).groupby("patient_id", sort=True):
        group = group.sort_values(["study_date", "report_id"])
        per_tp = [obs.get(rid, []) for rid in group["report_id"]]
        tp_texts = [texts.get(rid) for rid in group["report_id"]] if texts is not None else None
        for r in patient_responses(per_tp, config, tp_texts):
            study = group.iloc[r["timepoint"]]
            rows.append({"patient_id": str(patient), "report_id": study["report_id"],
                         "study_date": study["study_date"], **r, "derived_from": DERIVED_FROM})
    table = pa.Table.from_pylist(rows, schema=RECIST_SCHEMA)
    return table.to_pandas(types_mapper={pa.int32(): pd.Int32Dtype()}.get)
