"""RECIST 1.1 response across a patient's studies, derived from sizes stated in report text.

This is NOT a radiologist's RECIST read: it follows the sizes a radiologist happened to dictate, so
lesions that were never measured in a report are invisible to it, and lesion identity across
studies is inferred from the text. Every row says so (`derived_from = 'report_text'`) and carries a
`match_confidence` for the lesion matching it rests on.

The RECIST 1.1 rules themselves (targets, sums, nadir, responses, lesion matching) are pure
functions over sizes in :mod:`radcurate.recist`, shared with the lesions stage; this module turns
report text into their input: the lesions each report states (:func:`observations`) and what the
report says beyond sizes (:class:`ReportEvidence`).

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
(`mine_report_tables` flags reports that state a lesion size or a lesion's resolution, see
`states_resolution`); else, with a `modality` column, cross-sectional studies (CT, MR, PT); else
studies whose report states at least one lesion or node size (current or prior).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

from radcurate.recist import CROSS_SECTIONAL, Observation, RecistConfig, timepoint_rows, timepoint_schema

DERIVED_FROM = "report_text"
NOT_THIS_STUDY = frozenset({"history", "comparison", "technique", "examination"})

RECIST_SCHEMA = timepoint_schema("patient_id", "report_id").append(
    pa.field("derived_from", pa.string(), nullable=False))

_RESOLUTION = re.compile(
    r"\b(?:(?:has|have)\s+resolved|resolution\s+of|no\s+longer\s+(?:seen|visible|identified|present)|"
    r"(?:has|have)\s+disappeared|no\s+(?:residual|measurable)\s+(?:disease|lesions?|nodules?|masses|tumou?r))\b",
    re.IGNORECASE)



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


@dataclass(frozen=True)
class ReportEvidence:
    """What one report says beyond its sizes (:class:`radcurate.recist.Evidence`), read from its
    text when the rules ask (no text: nothing said)."""

    text: str | None

    def too_small(self) -> list[tuple[str | None, str]]:
        return too_small_mentions(self.text)

    def resolved(self) -> bool:
        return states_resolution(self.text)

    def new_lesion(self) -> bool:
        return states_new_lesion(self.text)

    def non_target_progression(self) -> bool:
        return states_non_target_progression(self.text)


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
    evidence = ({rid: ReportEvidence(texts.get(rid)) for rid in studies["report_id"]}
                if texts is not None else None)
    rows = [{**r, "derived_from": DERIVED_FROM}
            for r in timepoint_rows(studies, "report_id", "patient_id", obs, config, evidence)]
    table = pa.Table.from_pylist(rows, schema=RECIST_SCHEMA)
    return table.to_pandas(types_mapper={pa.int32(): pd.Int32Dtype()}.get)
