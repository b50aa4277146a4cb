"""Stated sizes in report text: lesion measurements, with what and where they measure.

Radiologists dictate sizes in many shapes ("8mm", "1.9 x 1.8 cm", "5.8 cm x 6.0 cm",
"15 x 11 x 9 mm", "eighteen millimeters", "13 - 14 mm"). Each one becomes a row in millimetres,
in-plane axes longest first (a third written dimension, usually cranio-caudal, stays the third
axis), linked to the finding it measures (nodule, mass, lymph node, ...), its location,
the image reference ("series 3, image 45", "(4/112)", "[Se 4, Im 130]"), a lesion label
("Target lesion 1"), and whether it is the current size or a prior one quoted for comparison
("now 2.3 cm, previously 2.9 cm"). Sizes that are not findings -- tube and catheter tip distances,
distances to landmarks, slice thickness, thresholds such as "no nodule larger than 5 mm" -- are kept
with `kind` = `device` or `other` so they are never mistaken for lesions.

Why regular expressions over sentences rather than a spaCy token Matcher: a size is a character
pattern (digits, decimal points, "x", glued units as in "8mm" or "2.5-cm") that spaCy's blank
English tokenizer splits inconsistently ("2.5x1.8cm" is one token, "2.5 x 1.8 cm" five), so a token
pattern needs the same regexes inside it; and the linking rules look at character windows around
the size. Working on sentence strings is about 20x faster than building a Doc per report, and the
sentence boundaries come from `radcurate.nlp.sentences` so sentence indices agree with the finding
miner's mentions.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

from radcurate.nlp.numbers import WORD_NUMBER, parse_word_number
from radcurate.nlp.sections import compose_report, section_spans
from radcurate.nlp.sentences import sentence_spans

MAX_MM = 1000.0  # larger "sizes" are typos or not sizes (a metre-long lesion is not dictated)
KINDS = ("lesion", "lymph_node", "organ", "device", "other")

MEASUREMENTS_SCHEMA = pa.schema([
    pa.field("report_id", pa.string(), nullable=False),
    pa.field("finding", pa.string()),
    pa.field("location", pa.string()),
    pa.field("long_axis_mm", pa.float64()),
    pa.field("short_axis_mm", pa.float64()),
    pa.field("third_axis_mm", pa.float64()),
    pa.field("timepoint", pa.string(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("series", pa.int32()),
    pa.field("image", pa.int32()),
    pa.field("lesion_label", pa.string()),
    pa.field("section", pa.string()),
    pa.field("sentence_index", pa.int32(), nullable=False),
    pa.field("char_start", pa.int32(), nullable=False),
    pa.field("char_end", pa.int32(), nullable=False),
    pa.field("text", pa.string(), nullable=False),
])

# --- sizes --------------------------------------------------------------------------------------
_NUM = rf"(?:(?<![\w./])(?:\d+(?:\.\d+)?|\.\d+)(?![\d/])|\b{WORD_NUMBER}\b)"
_UNIT = (r"(?:mm|millimet(?:er|re)s?|cm|centimet(?:er|re)s?)"
         r"(?![a-z0-9\u00b2\u00b3^]|\s*(?:hg|h2o)\b|\s*/\s*s\b)")
_UNIT_OPT = rf"(?:\s*-?\s*(?P<u{{i}}>{_UNIT}))?"
_SEP = r"(?:\s*[x\u00d7*]\s*|\s+by\s+)"
_SIZE_RE = re.compile(
    rf"(?P<d1>{_NUM}){_UNIT_OPT.format(i=1)}"
    rf"(?:{_SEP}(?P<d2>{_NUM}){_UNIT_OPT.format(i=2)})?"
    rf"(?:{_SEP}(?P<d3>{_NUM}){_UNIT_OPT.format(i=3)})?",
    re.IGNORECASE,
)
_RANGE_RE = re.compile(rf"(?P<lo>{_NUM})\s*(?:-|\u2013)\s*(?P<hi>{_NUM})\s*(?P<unit>{_UNIT})", re.IGNORECASE)
_BARE_RE = re.compile(rf"(?P<d1>{_NUM})(?:{_SEP}(?P<d2>{_NUM}))?(?:{_SEP}(?P<d3>{_NUM}))?", re.IGNORECASE)
_AXIS_BEFORE = re.compile(r"\b(short|long)[- ]axis(?:\s+(?:diameter|dimension|measurement))?"
                          r"(?:\s+(?:of|is|measures|measuring|=|:))?\s*(?:approximately\s+|about\s+)?$", re.I)
_AXIS_AFTER = re.compile(r"^\s*(?:in\s+(?:the\s+)?)?(short|long)[- ]axis\b", re.I)

# --- context ------------------------------------------------------------------------------------
_TERMS: dict[str, tuple[str, str]] = {}


def _add(kind: str, canonical: str, *patterns: str) -> None:
    for pattern in patterns:
        _TERMS[pattern] = (kind, canonical)


_add("lymph_node", "lymph node", r"lymph\s+nodes?", r"nodes?", r"lymphadenopathy", r"adenopathy", r"LNs?")
_add("lesion", "nodule", r"nodules?", r"nodular\s+(?:densit(?:y|ies)|opacit(?:y|ies)|lesions?|foc(?:us|i))",
     r"micronodules?")
_add("lesion", "mass", r"masses", r"mass(?:-?like)?(?:\s+(?:lesions?|densit(?:y|ies)|opacit(?:y|ies)))?", r"mass")
_add("lesion", "lesion", r"lesions?")
_add("lesion", "cyst", r"cysts?", r"cystic\s+lesions?")
_add("lesion", "metastasis", r"metastas[ie]s", r"metastatic\s+(?:deposits?|foc(?:us|i))", r"mets?")
_add("lesion", "tumor", r"tumou?rs?", r"neoplasms?", r"carcinomas?", r"malignanc(?:y|ies)", r"cancers?")
_add("lesion", "granuloma", r"granulomas?", r"granulomata")
_add("lesion", "opacity", r"opacit(?:y|ies)", r"densit(?:y|ies)", r"infiltrates?", r"consolidations?",
     r"ground[- ]glass", r"foc(?:us|i)")
_add("lesion", "lucency", r"lucenc(?:y|ies)", r"cavit(?:y|ies)", r"bullae?", r"blebs?")
_add("lesion", "calcification", r"calcifications?")
_add("lesion", "lesion", r"hemangiomas?", r"adenomas?", r"abscess(?:es)?", r"hematomas?", r"polyps?",
     r"implants?", r"deposits?", r"collections?", r"plaques?")
_add("device", "tube", r"(?:endotracheal|ET|tracheostomy|trach|enteric|feeding|nasogastric|NG|OG|chest|"
     r"orogastric|dobhoff|gastrostomy)?\s*tubes?(?:\s+tips?)?")
_add("device", "tip", r"tips?")
_add("device", "catheter", r"catheters?(?:\s+tips?)?", r"PICC(?:\s+line)?(?:\s+tips?)?", r"(?:central|venous|arterial|jugular|"
     r"subclavian|midline|swan[- ]ganz)\s+(?:venous\s+)?lines?", r"ports?", r"port-a-cath")
_add("device", "device", r"pacemakers?", r"pacers?", r"(?:pacer|pacing|ICD|cardiac)\s+leads?", r"leads",
     r"wires?", r"stents?", r"clips?", r"drains?", r"sheaths?", r"filters?", r"coils?", r"devices?",
     r"prosthes[ie]s", r"hardware", r"screws?", r"plates?")
_add("other", "pneumothorax", r"pneumothora(?:x|ces)")
_add("other", "effusion", r"effusions?", r"fluid")
_add("other", "fracture", r"fractures?", r"displacement", r"diastasis", r"step-?off")
_add("other", "thickening", r"thickening", r"thickness")
_add("organ", "aorta", r"aorta", r"aortic", r"aneurysm")
_add("organ", "organ", r"spleen", r"liver", r"kidneys?", r"heart", r"thyroid", r"prostate", r"uterus",
     r"ovar(?:y|ies)", r"gallbladder", r"pancreas", r"bowel", r"colon", r"ducts?", r"CBD", r"ventricles?",
     r"trachea", r"esophagus", r"bladder", r"loops?", r"dilated", r"hemidiaphragm")

_TERM_RE = re.compile(
    r"\b(?:" + "|".join(f"(?:{p})" for p in sorted(_TERMS, key=len, reverse=True)) + r")\b", re.IGNORECASE)
_TERM_LOOKUP = [(re.compile(rf"^(?:{p})$", re.IGNORECASE), v) for p, v in
                sorted(_TERMS.items(), key=lambda kv: len(kv[0]), reverse=True)]

_SIDE = r"(?:(?:right|left|bilateral|both)\s+)"
_QUAL = r"(?:(?:upper|middle|lower|mid|apical|basal|basilar|posterior|anterior|medial|lateral|superior|inferior|"\
        r"hepatic|renal|lung)\s+)"
_HEAD = (r"(?:lobes?|lungs?|midlung|mid\s+lung|mid\s+chest|apex|apices|base|bases|hilum|hila|hilar|lingula|lingular|"
         r"hemithorax|zone|liver|hepatic\s+lobe|kidneys?|adrenals?(?:\s+gland)?|spleen|pancreas|pancreatic\s+"
         r"(?:head|body|tail)|breast|axilla|axillary|mediastinum|mediastinal|paratracheal|subcarinal|"
         r"precarinal|prevascular|supraclavicular|retroperitoneal|retroperitoneum|mesenteric|mesentery|"
         r"periportal|portocaval|para-?aortic|inguinal|iliac|pelvic|pelvis|peritoneum|peritoneal|omentum|"
         r"pleura|pleural|bone|humeral\s+head|rib|spine|vertebral\s+body|brain|thyroid|neck|abdomen|chest)")
_LOC_RE = re.compile(
    rf"\b(?:(?:(?:liver|hepatic)\s+)?segment\s+(?:[1-8]|I{{1,3}}|IV[ab]?|VI{{0,3}})"
    rf"|(?:{_SIDE}?{_QUAL}{{0,2}}{_HEAD}(?:\s+(?:lobe|gland|lymph\s+node|node|region|lung))?))\b",
    re.IGNORECASE)
_LABEL_RE = re.compile(r"\b(?:(?P<kind>target|non-?target)\s+)?lesion\s*(?:#|no\.?|number)?\s*(?P<n>\d{1,2})\b"
                       r"|\b(?P<tl>T|NT)L\s*#?(?P<tn>\d{1,2})\b", re.IGNORECASE)
_IMAGE_RES = [
    re.compile(r"\b(?:series|ser|se|sr)\.?\s*(?:#|no\.?|:)?\s*(?P<s>\d{1,4})\s*[,;/]?\s*(?:and\s+)?"
               r"(?:images?|img|im|ima)\.?\s*(?:#|no\.?|:)?\s*(?P<i>\d{1,5})\b", re.I),
    re.compile(r"\b(?:images?|img|im)\.?\s*(?:#|no\.?|:)?\s*(?P<i>\d{1,5})\s*,?\s*(?:of|on|in)?\s*"
               r"(?:series|ser|se)\.?\s*(?:#|:)?\s*(?P<s>\d{1,4})\b", re.I),
    re.compile(r"\b(?:series\s*/\s*image|se\s*/\s*im|s\s*/\s*i)\s*:?\s*(?P<s>\d{1,4})\s*/\s*(?P<i>\d{1,5})\b", re.I),
    re.compile(r"[(\[]\s*(?P<s>\d{1,3})\s*[/:]\s*(?P<i>\d{1,4})\s*[)\]]"),
    re.compile(r"\b(?:images?|img|im)\.?\s*(?:#|no\.?|:)?\s*(?P<i>\d{1,5})\b", re.I),
]
_PRIOR_BEFORE = re.compile(
    r"\b(?:previously|prior|previous|before|baseline|earlier|formerly|compared\s+(?:with|to)|"
    r"versus|vs\.?|had\s+measured|was\s+previously|measured\s+previously)\b[^,;()\d]{0,30}$"
    r"|\bfrom\s+(?:approximately\s+|about\s+)?$|\(\s*(?:prior|previously|previous|baseline)[:\s]+$",
    re.IGNORECASE)
_CURRENT_BEFORE = re.compile(r"\b(?:now|currently|today|presently|current)\b[^,;()\d]{0,30}$", re.IGNORECASE)
_PRIOR_AFTER = re.compile(
    r"^\s*\)?\s*,?\s*(?:(?:previously|before|earlier)(?!\s*(?:(?:measur\w*|at|of|was|:)\s*)?"
    r"(?:approximately\s+|about\s+)?[\d.])|at\s+baseline|on\s+(?:the\s+)?(?:prior|previous|baseline|"
    r"comparison|earlier|last)\b|(?:on|in|at|from)\s+(?:the\s+)?(?:prior|previous|baseline|\d{1,2}/\d{1,2}/\d{2,4}|"
    r"\d{1,2}/\d{4}|\d{4}-\d{2}(?:-\d{2})?|(?:19|20)\d{2}|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w*"
    r"\.?\s+\d))", re.IGNORECASE)
_LANDMARK_AFTER = re.compile(
    r"^\s*(?:\w+ly\s+)?(?:above|below|from|proximal\s+to|distal\s+to|beyond|superior\s+to|inferior\s+to|"
    r"into|past)\s+(?:the\s+)?(?:level\s+of\s+(?:the\s+)?)?(?:carina|cavoatrial|cavo-atrial|atri|svc|"
    r"superior\s+vena|right\s+atrium|ge\s+junction|gastroesophageal|diaphragm|hemidiaphragm|thoracic\s+inlet|"
    r"clavicle|pleura|pleural|costophrenic|skin|surface|apex|hilum|anal\s+verge|dentate|pylorus|"
    r"junction|t\d|l\d|c\d|margin|edge|origin|bifurcation|vocal|glottis|\w+\s+(?:border|wall))",
    re.IGNORECASE)
_TECH_BEFORE = re.compile(r"(?:slice|section)\s+thickness|collimation|reconstructed\s+at|reformat\w*\s+at|"
                          r"(?:sections|slices|images|cuts)\s+(?:of|at)|increments?\s+of|intervals?\s+of"
                          r"[^.,;]{0,10}$", re.IGNORECASE)
_TECH_AFTER = re.compile(r"^\s*(?:axial|coronal|sagittal|thin|thick|contiguous|helical|overlapping|\-)?\s*"
                         r"(?:slices?|sections?|images?|cuts|collimation|intervals?|increments?|reconstructions?"
                         r"|reformats?|thickness)\b", re.IGNORECASE)
_THRESHOLD_BEFORE = re.compile(r"(?:(?P<up>larger|greater|bigger|more|over|exceeding)|(?P<down>less|smaller|under))"
                               r"(?:\s+than)?\s*(?:or\s+equal\s+to\s*)?$|(?P<sym>[<>\u2264\u2265]=?)\s*$", re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:no|without|negative\s+for|not|none|nor|absent)\b", re.IGNORECASE)
_ANAPHOR = re.compile(r"^\s*(?:this|it|these|they|which|the\s+(?:largest|larger|dominant|biggest|smaller|"
                      r"index|latter|former)|each|both)\b", re.IGNORECASE)
_POST_STOP = re.compile(r"[,;.:]|\band\b|\bwhich\b|\bmeasur\w*|\bwith\b|\bvs\b|\bversus\b", re.IGNORECASE)


@dataclass
class Measurement:
    """One stated size with its context (offsets into the report text)."""

    dims_mm: list[float]
    axis: str | None
    start: int
    end: int
    text: str
    timepoint: str = "current"
    kind: str = "lesion"
    finding: str | None = None
    location: str | None = None
    series: int | None = None
    image: int | None = None
    lesion_label: str | None = None
    section: str | None = None
    sentence_index: int = 0

    def row(self, report_id: str) -> dict:
        # in-plane axes longest first; a third written dimension (cranio-caudal) stays third
        dims = sorted(self.dims_mm[:2], reverse=True) + self.dims_mm[2:3]
        long_, short, third = (dims + [None, None, None])[:3]
        if self.axis == "short" and len(dims) == 1:
            long_, short = None, dims[0]
        return {"report_id": report_id, "finding": self.finding, "location": self.location,
                "long_axis_mm": long_, "short_axis_mm": short, "third_axis_mm": third,
                "timepoint": self.timepoint, "kind": self.kind, "series": self.series,
                "image": self.image, "lesion_label": self.lesion_label, "section": self.section,
                "sentence_index": self.sentence_index, "char_start": self.start, "char_end": self.end,
                "text": self.text}


def _number(token: str) -> float | None:
    token = token.strip()
    if token[:1].isdigit() or token[:1] == ".":
        return float(token)
    return parse_word_number(token)


def _to_mm(value: float, unit: str) -> float:
    factor = 10.0 if unit.lower().startswith("c") else 1.0
    return round(value * factor, 2)


def find_sizes(text: str, start: int = 0, end: int | None = None) -> list[Measurement]:
    """Every size with a unit in `text[start:end]`, in mm (ranges "13 - 14 mm" give the upper bound).

    A bare number borrows the unit of a neighbouring size when it is a quoted prior or the start of
    a change ("previously 2.9 x 2.2", "from 2.9 to 2.3 cm").
    """
    end = len(text) if end is None else end
    found: list[Measurement] = []
    taken: list[tuple[int, int]] = []
    for m in _RANGE_RE.finditer(text, start, end):
        lo, hi = _number(m["lo"]), _number(m["hi"])
        if lo is None or hi is None or lo >= hi:
            continue
        if _to_mm(hi, m["unit"]) > MAX_MM:
            continue
        found.append(Measurement([_to_mm(hi, m["unit"])], None, m.start(), m.end(), m.group(0)))
        taken.append(m.span())
    for m in _SIZE_RE.finditer(text, start, end):
        if any(s < m.end() and m.start() < e for s, e in taken):
            continue
        dims = [(m[f"d{i}"], m[f"u{i}"], m.end(f"u{i}") if m[f"u{i}"] else m.end(f"d{i}"))
                for i in (1, 2, 3) if m[f"d{i}"]]
        last_unit = max((i for i, (_, u, _) in enumerate(dims) if u), default=None)
        if last_unit is None:
            continue
        dims = dims[:last_unit + 1]
        values: list[float] = []
        for i, (num, unit, _) in enumerate(dims):
            unit = unit or next(u for _, u, _ in dims[i:] if u)
            value = _number(num)
            if value is None or not 0 < value * (10 if unit.lower().startswith("c") else 1) <= MAX_MM:
                break
            values.append(_to_mm(value, unit))
        if len(values) != len(dims):
            continue
        span_end = dims[-1][2]
        found.append(Measurement(values, None, m.start(), span_end, text[m.start():span_end]))
        taken.append((m.start(), span_end))
    found.sort(key=lambda x: x.start)
    found.extend(_borrowed_unit_sizes(text, start, end, found, taken))
    found.sort(key=lambda x: x.start)
    for meas in found:
        before = _AXIS_BEFORE.search(text[max(start, meas.start - 40):meas.start])
        after = _AXIS_AFTER.match(text[meas.end:min(end, meas.end + 25)])
        axis = (before or after)
        meas.axis = axis.group(1).lower() if axis else None
    return found


def _borrowed_unit_sizes(text, start, end, sized, taken):
    out = []
    for m in _BARE_RE.finditer(text, start, end):
        if any(s < m.end() and m.start() < e for s, e in taken) or not m["d1"][:1].isdigit():
            continue
        before = text[max(start, m.start() - 25):m.start()]
        after = text[m.end():min(end, m.end() + 40)]
        if re.match(r"\s*(?:[/:]|%|\w)", after) and not re.match(r"\s*(?:to|and)\b", after, re.I):
            continue
        nxt = next((s for s in sized if s.start >= m.end()), None)
        prv = next((s for s in reversed(sized) if s.end <= m.start()), None)
        unit = None
        if nxt and re.fullmatch(r"\s*(?:to|->|\u2192)\s*", text[m.end():nxt.start]) and \
                re.search(r"\bfrom\s*$", before, re.I):
            unit = _unit_of(nxt.text)
        elif prv and re.search(r"(?:previously|prior|previous|baseline|from|compared\s+(?:with|to)|versus|vs\.?)"
                               r"[\s:]*$", before, re.I) and m.start() - prv.end < 40:
            unit = _unit_of(prv.text)
        if not unit:
            continue
        values = [_to_mm(float(m[f"d{i}"]), unit) for i in (1, 2, 3) if m[f"d{i}"] and m[f"d{i}"][:1].isdigit()]
        if values and all(0 < v <= MAX_MM for v in values):
            out.append(Measurement(values, None, m.start(), m.end(), m.group(0)))
    return out


def _unit_of(size_text: str) -> str | None:
    units = re.findall(_UNIT, size_text, re.IGNORECASE)
    return units[-1] if units else None


def _terms(text: str, start: int, end: int) -> list[tuple[int, int, str, str]]:
    """(start, end, kind, canonical) for each finding/device/organ term in the span."""
    out = []
    for m in _TERM_RE.finditer(text, start, end):
        word = m.group(0)
        for pattern, (kind, canonical) in _TERM_LOOKUP:
            if pattern.match(word):
                out.append((m.start(), m.end(), kind, canonical))
                break
    return out


def _pick_term(terms, meas: Measurement, others: list[Measurement], s_end: int, text: str):
    """The term a size measures: right after it ("8 mm nodule"), else nearest before, else later."""
    nxt = next((o.start for o in others if o.start >= meas.end), s_end)
    stop = _POST_STOP.search(text, meas.end, min(nxt, meas.end + 70))
    post_end = stop.start() if stop else min(nxt, meas.end + 70)
    for group in (("lesion", "lymph_node", "device", "other"), ("organ",)):
        cands = [t for t in terms if t[2] in group]
        after = [t for t in cands if meas.end <= t[0] < post_end]
        if after:
            return after[0]
        before = [t for t in cands if t[1] <= meas.start]
        if before:
            return before[-1]
        later = [t for t in cands if t[0] >= meas.end]
        if later:
            return later[0]
    return None


def _classify(meas: Measurement, term, text: str, s_start: int, device_in_sentence: bool) -> str:
    """Kind of a size: the measured term's kind unless the context says device, distance,
    technique or threshold."""
    before = text[max(s_start, meas.start - 40):meas.start]
    after = text[meas.end:meas.end + 60]
    kind = term[2] if term else "lesion"
    if kind == "device":
        return "device"
    if _LANDMARK_AFTER.match(after):  # a distance to a landmark, not a size
        return "device" if device_in_sentence else "other"
    if _TECH_AFTER.match(after) or _TECH_BEFORE.search(text[max(s_start, meas.start - 30):meas.start]):
        return "other"
    thr = _THRESHOLD_BEFORE.search(before)
    if thr:
        negated = _NEGATION.search(text[s_start:meas.start])
        if thr["up"] or (thr["sym"] and ">" in thr["sym"] or "\u2265" in (thr["sym"] or "")) or negated:
            return "other"
    return kind


def _timepoint(meas: Measurement, text: str, lo: int, s_end: int) -> str:
    before = text[max(lo, meas.start - 45):meas.start]
    after = text[meas.end:min(s_end, meas.end + 40)]
    prior = _PRIOR_BEFORE.search(before)
    current = _CURRENT_BEFORE.search(before)
    if prior and (not current or prior.start() > current.start()):
        return "prior"
    if current:
        return "current"
    if _PRIOR_AFTER.match(after):
        return "prior"
    return "current"


def _image_refs(text: str, start: int, end: int) -> list[tuple[int, int, int | None, int]]:
    refs: list[tuple[int, int, int | None, int]] = []
    for pattern in _IMAGE_RES:
        for m in pattern.finditer(text, start, end):
            if any(s < m.end() and m.start() < e for s, e, _, _ in refs):
                continue
            series = int(m["s"]) if "s" in pattern.groupindex and m["s"] else None
            image = int(m["i"])
            if pattern is _IMAGE_RES[3] and (series <= 12 and 1900 <= image <= 2100 or series == 0):
                continue  # a month/year date, not (series/image)
            refs.append((m.start(), m.end(), series, image))
    return sorted(refs)


def _labels(text: str, start: int, end: int) -> list[tuple[int, int, str]]:
    out = []
    for m in _LABEL_RE.finditer(text, start, end):
        if m["n"]:
            prefix = (m["kind"] or "").lower().replace("nontarget", "non-target")
            label = f"{prefix.capitalize()} lesion {int(m['n'])}" if prefix else f"Lesion {int(m['n'])}"
        else:
            label = f"{'Target' if m['tl'].upper() == 'T' else 'Non-target'} lesion {int(m['tn'])}"
        out.append((m.start(), m.end(), label))
    return out


def _locations(text: str, start: int, end: int) -> list[tuple[int, int, str]]:
    out = []
    for m in _LOC_RE.finditer(text, start, end):
        out.append((m.start(), m.end(), re.sub(r"\s+", " ", m.group(0).lower())))
    return out


def report_sentences(text: str, sections: list[tuple[str, int, int]] | None = None) -> list[tuple[str, int, int]]:
    """(section, start, end) of every sentence, numbered as the finding miner numbers them.

    `sections` (name, start, end) are used when given (a report composed from several columns),
    else found from the headers in `text`.
    """
    out = []
    for name, s, e in (section_spans(text) if sections is None else sections):
        out.extend((name, a, b) for a, b in sentence_spans(text, s, e))
    return out


_MAY_HAVE_SIZE = re.compile(r"\d|millim|centim|\bmm\b|\bcm\b", re.IGNORECASE)


def extract_measurements(text: str, sections: list[tuple[str, int, int]] | None = None) -> list[Measurement]:
    """All stated sizes of one report, with finding, location, image, label, timepoint and kind."""
    if not isinstance(text, str) or not text.strip():
        return []
    results: list[Measurement] = []
    last_finding: tuple | None = None
    pending: list[tuple[int, int]] = []  # sentences without a size since the last one read for terms
    for index, (section, s_start, s_end) in enumerate(report_sentences(text, sections)):
        # most sentences state no size: skip them cheaply, and read their finding terms only when
        # a later sentence refers back to them ("It measures 5 mm")
        sizes = find_sizes(text, s_start, s_end) if _MAY_HAVE_SIZE.search(text, s_start, s_end) else []
        if not sizes:
            pending.append((s_start, s_end))
            continue
        terms = _terms(text, s_start, s_end)
        refs = _image_refs(text, s_start, s_end)
        labels = _labels(text, s_start, s_end)
        locs = _locations(text, s_start, s_end)
        if any(t[2] == "lesion" and not _inside(t, labels) for t in terms):
            terms = [t for t in terms if not _inside(t, labels)]  # "Lesion 2" names, "nodule" measures
        device_in_sentence = any(t[2] == "device" for t in terms)
        sentence = text[s_start:s_end]
        for i, meas in enumerate(sizes):
            meas.section, meas.sentence_index = section, index
            prev_end = sizes[i - 1].end if i else s_start
            term = _pick_term(terms, meas, sizes, s_end, text)
            if term is None and _ANAPHOR.match(sentence):
                while pending:  # the last finding named before this sentence
                    earlier = _terms(text, *pending.pop())
                    if earlier:
                        last_finding = earlier[-1]
                        break
                pending.clear()
                term = last_finding
            meas.finding = term[3] if term else None
            meas.kind = _classify(meas, term, text, s_start, device_in_sentence)
            meas.timepoint = "current" if meas.kind == "device" else _timepoint(meas, text, prev_end, s_end)
            anchor = term[0] if term and s_start <= term[0] < s_end else meas.start
            if locs and meas.kind not in ("device",):
                meas.location = min(locs, key=lambda l: min(abs(l[0] - anchor), abs(l[0] - meas.start)))[2]
            before_labels = [lab for lab in labels if lab[1] <= meas.start]
            if before_labels:
                meas.lesion_label = before_labels[-1][2]
            elif len(labels) == 1:
                meas.lesion_label = labels[0][2]
        for prev, meas in zip(sizes, sizes[1:]):
            # "1.6 cm in short axis, previously 1.8 cm": the quoted prior is a short axis too; and
            # one number quoted for a node beside its two axes is its (RECIST) short axis
            if meas.axis is None and len(meas.dims_mm) == 1 and meas.timepoint == "prior" \
                    and prev.timepoint == "current" and meas.kind == prev.kind and \
                    ((prev.axis == "short" and len(prev.dims_mm) == 1) or
                     (meas.kind == "lymph_node" and len(prev.dims_mm) == 2)):
                meas.axis = "short"
        _link_images(sizes, refs)
        if terms:
            last_finding = terms[-1]
            pending.clear()
        results.extend(sizes)
    return results


def _inside(term, spans) -> bool:
    return any(s <= term[0] and term[1] <= e for s, e, *_ in spans)


def _link_images(sizes: list[Measurement], refs) -> None:
    """Each image reference goes to the nearest current size before it (else after it), one per size.

    A prior size quoted for comparison was measured on another study, so it gets an image
    reference only when no current size is there to take it.
    """
    for r_start, r_end, series, image in refs:
        free = [m for m in sizes if m.image is None and m.timepoint == "current"] or \
            [m for m in sizes if m.image is None]
        before = [m for m in free if m.end <= r_start]
        after = [m for m in free if m.start >= r_end]
        target = before[-1] if before else (after[0] if after else None)
        if target is not None:
            target.series, target.image = series, image


def measurements_table(reports: pd.DataFrame, id_column: str = "report_id",
                       text_column: str | Sequence[str] = "text") -> pd.DataFrame:
    """One row per stated size over a table of reports (schema `MEASUREMENTS_SCHEMA`).

    `text_column` may name several columns (e.g. findings, impression): they are composed as the
    finding miner composes them, so offsets and sentence indices agree with its mentions.
    Reports whose text is missing or empty give no rows; the report id is kept as a string.
    """
    columns = [text_column] if isinstance(text_column, str) else list(text_column)
    missing = [c for c in [id_column, *columns] if c not in reports.columns]
    if missing or not columns:
        raise ValueError(f"reports table lacks columns {missing or 'for the text'}")
    rows = []
    for report_id, *values in zip(reports[id_column], *(reports[c] for c in columns)):
        text, sections = compose_report(values, columns)
        rows.extend(m.row(str(report_id)) for m in extract_measurements(text, sections))
    table = pa.Table.from_pylist(rows, schema=MEASUREMENTS_SCHEMA)
    return table.to_pandas(types_mapper={pa.int32(): pd.Int32Dtype()}.get)


def match_counts(predicted: list[dict], expected: list[dict], tolerance_mm: float = 0.5) -> tuple[int, int, int]:
    """(true positives, predicted, expected) for one unit of text, matching sizes one to one.

    A prediction matches an expected size when all three axes agree within `tolerance_mm` (null
    with null) and `kind` and `timepoint` agree -- the keys a dataset user filters on.
    """
    def axes(row):
        return [row.get(k) if row.get(k) is not None and row.get(k) == row.get(k) else None
                for k in ("long_axis_mm", "short_axis_mm", "third_axis_mm")]

    def same(p, e):
        for a, b in zip(axes(p), axes(e)):
            if (a is None) != (b is None) or (a is not None and abs(a - b) > tolerance_mm):
                return False
        return p.get("kind") == e.get("kind") and p.get("timepoint") == e.get("timepoint")

    unused = list(expected)
    tp = 0
    for p in predicted:
        hit = next((e for e in unused if same(p, e)), None)
        if hit is not None:
            unused.remove(hit)
            tp += 1
    return tp, len(predicted), len(expected)
