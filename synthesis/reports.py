"""Radiology reports written from the same plan as the images, the way radiologists write them.

Varied section headers (case, colons, synonyms), templates and synonyms, negations, hedges, normal
statements, lesion measurements that match the phantom and the CT's series/instance numbers,
device and technique measurements that are not lesions, and PHI in the header, history and sign-off.
Every assertion, measurement and PHI value written is returned for the truth tables.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np

from .people import age_on, email
from .phantom import AORTA_R, Lesion, lung_location
from .plan import PatientPlan, StudyPlan, ct_responses
from .recist_truth import Measure, select_targets

CXR14 = ("Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
         "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia")
CHEXPERT = {"Atelectasis": "Atelectasis", "Cardiomegaly": "Cardiomegaly", "Effusion": "Pleural Effusion",
            "Infiltration": "Lung Opacity", "Mass": "Lung Lesion", "Nodule": "Lung Lesion",
            "Pneumonia": "Pneumonia", "Pneumothorax": "Pneumothorax", "Consolidation": "Consolidation",
            "Edema": "Edema", "Emphysema": None, "Fibrosis": None, "Pleural_Thickening": "Pleural Other",
            "Hernia": None}
DX_VISIBLE_MM = 20.0  # lung lesions a radiograph report mentions
_RANK = {"positive": 3, "uncertain": 2, "negative": 1, "not_mentioned": 0}


def stated_mm(v: float) -> float:
    """A size as a radiologist writes it: whole millimetres (= one decimal in cm), half up."""
    return float(math.floor(v + 0.5))


def present_findings(sp: StudyPlan) -> dict[str, bool]:
    """Which ChestX-ray14 findings the study's phantom holds."""
    ph = sp.phantom
    lung = [l for l in ph.lesions if l.kind == "lesion" and l.visible]
    return {
        "Atelectasis": ph.atelectasis is not None, "Cardiomegaly": ph.heart_scale > 1.25,
        "Effusion": bool(ph.effusion), "Infiltration": ph.consolidation is not None and sp.pneumonia,
        "Mass": any(l.long_mm >= 30 for l in lung), "Nodule": any(l.long_mm < 30 for l in lung),
        "Pneumonia": sp.pneumonia, "Pneumothorax": ph.pneumothorax is not None,
        "Consolidation": ph.consolidation is not None, "Edema": ph.edema, "Emphysema": ph.emphysema,
        "Fibrosis": ph.fibrosis, "Pleural_Thickening": ph.pleural_thickening is not None, "Hernia": ph.hernia,
    }


@dataclass
class Report:
    text: str
    assertions: dict[str, str]
    measurements: list[dict] = field(default_factory=list)
    lesions: list[dict] = field(default_factory=list)
    phi: list[dict] = field(default_factory=list)


class _Writer:
    """Accumulates sentences with the assertions, measurements and PHI they carry."""

    def __init__(self, accession: str):
        self.acc = accession
        self.assertions = {f: "not_mentioned" for f in CXR14}
        self.phi: list[dict] = []
        self.meas: list[dict] = []

    def mark(self, **found: str) -> None:
        for f, a in found.items():
            if _RANK[a] > _RANK[self.assertions[f]]:
                self.assertions[f] = a

    def p(self, value: str, kind: str) -> str:
        self.phi.append(dict(value=value, kind=kind, where="report", location="report_text", source=self.acc))
        return value

    def m(self, text: str, kind: str, long=None, short=None, third=None, timepoint="current",
          series=None, image=None, label=None) -> str:
        self.meas.append(dict(accession=self.acc, kind=kind, long_axis_mm=long, short_axis_mm=short,
                              third_axis_mm=third, timepoint=timepoint, series=series, image=image,
                              lesion_label=label, text=text))
        return text


def _size(long: float, short: float | None, cm: bool) -> str:
    if cm:
        return f"{long / 10:.1f} x {short / 10:.1f} cm" if short is not None else f"{long / 10:.1f} cm"
    return f"{long:.0f} x {short:.0f} mm" if short is not None else f"{long:.0f} mm"


def _header(rng, w: _Writer, pp: PatientPlan, sp: StudyPlan, style: int) -> list[str]:
    p, pers = pp.patient, pp.patient.person
    def exam_dt() -> str:
        return f"{w.p(sp.date.strftime('%m/%d/%Y'), 'date')} {w.p(sp.time.strftime('%H:%M'), 'time')}"

    if style == 0:
        return [f"PATIENT: {w.p(pers.last_first, 'patient_name')}    MRN: {w.p(p.patient_id, 'patient_id')}",
                f"DOB: {w.p(p.birth_date.strftime('%m/%d/%Y'), 'birth_date')}    ACCESSION: {w.p(sp.accession, 'accession')}",
                f"EXAM DATE: {exam_dt()}",
                f"REFERRING: {w.p(sp.referrer.first_last, 'physician_name')}, MD", ""]
    if style == 1:
        return [f"Name: {w.p(pers.first_last, 'patient_name')}",
                f"Medical record #: {w.p(p.patient_id, 'patient_id')}",
                f"Date of birth: {w.p(p.birth_date.strftime('%B %d, %Y').replace(' 0', ' '), 'birth_date')}",
                f"Acc: {w.p(sp.accession, 'accession')}   Date of service: {exam_dt()}", ""]
    return [f"{w.p(pp.institution.name, 'institution')} - Department of Radiology",
            f"{w.p(pp.institution.address, 'address')}   Tel {w.p(pp.institution.phone, 'phone')}",
            f"Patient {w.p(pers.dicom_name, 'patient_name')} (ID {w.p(p.patient_id, 'patient_id')}), "
            f"born {w.p(p.birth_date.isoformat(), 'birth_date')}", ""]


def _heading(name: str, style: int) -> str:
    """A section header in one of three house styles: ``FINDINGS:``, ``Findings:``, ``FINDINGS``."""
    syn = {"EXAM": ("EXAM", "Examination", "PROCEDURE"), "HISTORY": ("CLINICAL HISTORY", "History", "INDICATION"),
           "COMPARISON": ("COMPARISON", "Comparison", "COMPARISON"),
           "TECHNIQUE": ("TECHNIQUE", "Technique", "TECHNIQUE"),
           "FINDINGS": ("FINDINGS", "Findings", "FINDINGS"), "IMPRESSION": ("IMPRESSION", "Impression", "IMPRESSION")}
    word = syn[name][style % 3]
    return word if style % 3 == 2 else f"{word}:"


def _lesion_phrase(rng, w: _Writer, les: Lesion, prior: dict | None, series: int, image: int,
                   cm: bool, label: str | None, tp: int) -> tuple[str, dict]:
    """Sentence and truth row for one visible lesion."""
    sl, ss = stated_mm(les.long_mm), stated_mm(les.short_mm)
    node = les.kind == "lymph_node"
    kind = "lymph_node" if node else "lesion"
    cur = _size(sl, ss, cm)
    loc = f"(series {series}, image {image})" if rng.random() < 0.7 else f"(series {series} image {image})"
    name = les.finding if not node else "lymph node"
    if node and rng.random() < 0.5:  # short axis only
        cur = _size(ss, None, cm) + " in short axis"
        mtext = w.m(f"{cur} {loc}", kind, None, ss, None, "current", series, image, label)
        lrow = dict(stated_long_mm=None, stated_short_mm=ss)
    elif not node and prior is None and rng.random() < 0.3:  # three axes: long x short x craniocaudal
        sd = stated_mm(les.depth_mm)
        cur = (f"{sl / 10:.1f} x {ss / 10:.1f} x {sd / 10:.1f} cm" if cm else f"{sl:.0f} x {ss:.0f} x {sd:.0f} mm")
        mtext = w.m(f"{cur} {loc}", kind, sl, ss, sd, "current", series, image, label)
        lrow = dict(stated_long_mm=sl, stated_short_mm=ss)
    else:
        mtext = w.m(f"{cur} {loc}", kind, sl, ss, None, "current", series, image, label)
        lrow = dict(stated_long_mm=sl, stated_short_mm=ss)
    prior_txt, prior_long, prior_short = "", None, None
    if prior is not None and prior.get("stated_short_mm") is not None:
        prior_short = prior["stated_short_mm"]
        prior_long = prior.get("stated_long_mm") if lrow["stated_long_mm"] is not None else None
        pt = _size(prior_long, prior_short, cm) if prior_long is not None else _size(prior_short, None, cm)
        pm = w.m(pt, kind, prior_long, prior_short, None, 'prior', None, None, label)
        prior_txt = (f", previously {pm}", f" (previously {pm})", f", compared with {pm} on the prior exam")[
            int(rng.integers(3))]
    where = les.location
    prefix = f"{label}: " if label else ""
    trend = ""
    if prior_txt:
        before = prior_long if prior_long is not None else prior_short
        now = lrow["stated_long_mm"] if prior_long is not None else lrow["stated_short_mm"]
        trend = "Decreased " if now < before * 0.9 else ("Increased " if now > before * 1.1 else "Stable ")
    adj = "spiculated " if name == "mass" and rng.random() < 0.5 else ""
    pick = int(rng.integers(4))
    if node:
        site = where[0].upper() + where[1:]
        sent = (f"{prefix}{site} lymph node measures {mtext}{prior_txt}.",
                f"{prefix}Enlarged {where} lymph node, {mtext}{prior_txt}.",
                f"{prefix}{trend or 'Enlarged '}{where} lymph node, now {mtext}{prior_txt}.",
                f"{prefix}There is a {where} lymph node measuring {mtext}{prior_txt}.")[pick]
        if les.short_mm < 10:
            sent = f"{prefix}{site} lymph node is now normal in size, {mtext}{prior_txt}."
    elif prior is None and tp > 0:
        sent = f"{prefix}New {where} {name} measuring {mtext}."
    elif pick == 0:
        sent = f"{prefix}{where[0].upper() + where[1:]} {adj}{name} measures {mtext}{prior_txt}."
    elif pick == 1:
        sent = f"{prefix}There is a {adj}{name} in the {where} measuring {mtext}{prior_txt}."
    elif pick == 2 and trend:
        sent = f"{prefix}{trend}{where} {name}, now {mtext}{prior_txt}."
    else:
        noun = adj + name
        sent = f"{prefix}{noun[0].upper()}{noun[1:]} in the {where}, {mtext}{prior_txt}."
    lrow.update(prior_long_mm=prior_long, prior_short_mm=prior_short, stated_in_report=True)
    return sent, lrow


def write_report(pp: PatientPlan, si: int, seed: int, series_info: dict, prior_rows: dict) -> Report:
    """The report of study ``si``; ``prior_rows`` holds the prior report's lesion rows by lesion id."""
    sp = pp.studies[si]
    rng = np.random.default_rng([seed, pp.index, si, 4])
    w = _Writer(sp.accession)
    pers = pp.patient.person
    style = int(rng.integers(3))
    present = present_findings(sp)
    ph = sp.phantom
    lines = _header(rng, w, pp, sp, style)
    ct = sp.modality == "CT"
    lines.append(f"{_heading('EXAM', style)} " + ("CT CHEST WITH IV CONTRAST" if ct else "XR CHEST, PA VIEW"))
    age = age_on(pp.patient.birth_date, sp.date)
    sexw = "male" if pers.sex == "M" else "female"
    hist = [f"{w.p(str(age), 'age')}-year-old {sexw}"]
    if pp.scenario != "none":
        hist.append("with lung cancer, restaging" if sp.timepoint else "with pulmonary nodule found on outside imaging")
    else:
        hist.append("with cough and shortness of breath")
    htxt = " ".join(hist) + "."
    if rng.random() < 0.6:
        htxt += f" {w.p(pers.honorific, 'patient_name')} reports symptoms since {w.p((sp.date - dt.timedelta(days=int(rng.integers(3, 20)))).strftime('%B %d, %Y').replace(' 0', ' '), 'date')}."
    if rng.random() < 0.3:
        htxt += f" Outside records (MRN {w.p(pp.patient.other_id, 'patient_id')}) reviewed."
    if rng.random() < 0.2:
        b = pp.patient.birth_date
        htxt += f" DOB {w.p(f'{b.month}/{b.day}/{b.year}', 'birth_date')}."
    lines.append(f"{_heading('HISTORY', style)} {htxt}")
    prior = pp.studies[sp.prior_index] if sp.prior_index is not None else None
    if prior is None:
        lines.append(f"{_heading('COMPARISON', style)} None.")
    else:
        pdate = prior.date.strftime("%m/%d/%Y") if rng.random() < 0.5 else prior.date.strftime("%B %d, %Y").replace(" 0", " ")
        what = "CT chest" if ct else "Chest radiograph"
        lines.append(f"{_heading('COMPARISON', style)} {what} dated {w.p(pdate, 'date')}.")
    if ct:
        sn, z_of = series_info[sp.accession]
        thick = list(z_of.values())[0] - list(z_of.values())[1]
        tt = f"{thick:.1f} mm"
        lines.append(f"{_heading('TECHNIQUE', style)} Axial images of the chest were obtained after intravenous "
                     f"contrast at {w.m(tt, 'other', round(thick, 1), None, None, 'current', sn, None, None)} slice thickness.")
    lines.append("")
    lines.append(_heading("FINDINGS", style))
    body: list[tuple[str, str]] = []

    def add(group: str, sentence: str) -> None:
        body.append((group, sentence))

    lesion_rows: list[dict] = []
    cm = bool(rng.random() < 0.6)
    if ct:
        sn, z_of = series_info[sp.accession]
        baseline = next(s for s in pp.studies if s.modality == "CT").phantom.lesions
        targets = select_targets([Measure(l.lesion_id, l.kind, "lymph node" if l.kind == "lymph_node" else "lung",
                                          l.long_mm, l.short_mm) for l in baseline])  # RECIST targets
        use_labels = pp.index % 2 == 0

        def order(l: Lesion):
            return (targets.index(l.lesion_id) if use_labels and l.lesion_id in targets else 9, l.kind, l.lesion_id)

        for les in sorted(ph.lesions, key=order):
            image = min(z_of, key=lambda i: abs(z_of[i] - les.center[2]))
            label = None
            if use_labels and les.lesion_id in targets:
                word = "Target lesion" if pp.index % 4 == 0 else "Lesion"
                label = f"{word} {targets.index(les.lesion_id) + 1}"
            base = dict(patient_id=pp.patient.patient_id, accession=sp.accession, lesion_id=les.lesion_id,
                        lesion_label=label, finding=les.finding, kind=les.kind, location=les.location,
                        long_axis_mm=round(les.long_mm, 3), short_axis_mm=round(les.short_mm, 3),
                        craniocaudal_mm=round(les.depth_mm, 3),
                        center_x_mm=les.center[0], center_y_mm=les.center[1], center_z_mm=les.center[2],
                        series_number=None, instance_number=None, stated_in_report=False,
                        stated_long_mm=None, stated_short_mm=None, prior_long_mm=None, prior_short_mm=None)
            if not les.visible:
                was = prior_rows.get(les.lesion_id, {}).get("stated_long_mm") or 99.0
                add("LUNGS", f"{label + ': ' if label else ''}Previously seen {les.location} "
                             f"{'nodule' if was < 30 else 'lesion'} has resolved.")
                lesion_rows.append(base)
                continue
            pr = prior_rows.get(les.lesion_id) if prior is not None else None
            sent, lrow = _lesion_phrase(rng, w, les, pr, sn, image, cm, label, sp.timepoint)
            base.update(lrow, series_number=sn, instance_number=image)
            lesion_rows.append(base)
            add("HEART AND MEDIASTINUM" if les.kind == "lymph_node" else "LUNGS", sent)
            if les.kind == "lesion":
                w.mark(**{"Mass" if les.long_mm >= 30 else "Nodule": "positive"})
    else:
        for les in ph.lesions:
            if les.kind == "lesion" and les.long_mm >= DX_VISIBLE_MM:  # smaller ones hide behind ribs
                zone = les.location.replace("lobe", "lung zone").replace("middle", "mid")
                word = "mass" if les.long_mm >= 30 else "nodule"
                add("LUNGS", f"{'Redemonstrated' if prior is not None else 'There is a'} {zone} {word}.")
                w.mark(**{"Mass" if les.long_mm >= 30 else "Nodule": "positive"})
            lesion_rows.append(dict(patient_id=pp.patient.patient_id, accession=sp.accession,
                                    lesion_id=les.lesion_id, lesion_label=None, finding=les.finding,
                                    kind=les.kind, location=les.location, long_axis_mm=round(les.long_mm, 3),
                                    short_axis_mm=round(les.short_mm, 3), craniocaudal_mm=round(les.depth_mm, 3),
                                    center_x_mm=les.center[0],
                                    center_y_mm=les.center[1], center_z_mm=les.center[2], series_number=None,
                                    instance_number=None, stated_in_report=False, stated_long_mm=None,
                                    stated_short_mm=None, prior_long_mm=None, prior_short_mm=None))
    # parenchyma
    if ph.consolidation is not None:
        x, _, z, _ = ph.consolidation
        where = lung_location(x, z)
        if sp.pneumonia:
            add("LUNGS", f"Consolidation with surrounding infiltrate in the {where}, "
                         f"{'consistent with' if rng.random() < 0.5 else 'compatible with'} pneumonia.")
            w.mark(Consolidation="positive", Pneumonia="positive", Infiltration="positive")
        else:
            add("LUNGS", f"Airspace consolidation in the {where}; superimposed pneumonia cannot be excluded.")
            w.mark(Consolidation="positive", Pneumonia="uncertain")
    if ph.atelectasis is not None:
        side = ph.atelectasis[0]
        if rng.random() < 0.5:
            add("LUNGS", f"Linear {side} basilar subsegmental atelectasis.")
            w.mark(Atelectasis="positive")
        else:
            add("LUNGS", f"Linear band at the {side} lung base may represent atelectasis.")
            w.mark(Atelectasis="uncertain")
        if not present["Pneumonia"] and ph.consolidation is None and rng.random() < 0.6:
            add("LUNGS", "Cannot exclude early pneumonia.")
            w.mark(Pneumonia="uncertain")
    if ph.consolidation is None and ph.atelectasis is None and rng.random() < 0.35:
        add("LUNGS", ("Cannot exclude early pneumonia in the appropriate clinical setting.",
                     "Early pneumonia cannot be excluded.")[int(rng.integers(2))])
        w.mark(Pneumonia="uncertain")
    if ph.emphysema:
        add("LUNGS", "Centrilobular emphysema, upper lobe predominant." if rng.random() < 0.5 else "Emphysematous changes.")
        w.mark(Emphysema="positive")
    if ph.edema:
        add("LUNGS", "Diffuse interstitial prominence compatible with pulmonary edema.")
        w.mark(Edema="positive")
    if ph.fibrosis:
        if rng.random() < 0.6:
            add("LUNGS", "Bibasilar subpleural reticulation compatible with pulmonary fibrosis.")
            w.mark(Fibrosis="positive")
        else:
            add("LUNGS", "Subpleural reticular changes at the lung bases may represent early fibrosis.")
            w.mark(Fibrosis="uncertain")
    lung_findings = any(present[f] for f in ("Atelectasis", "Infiltration", "Mass", "Nodule", "Consolidation",
                                             "Edema", "Emphysema", "Fibrosis"))
    if not any(l.visible and l.kind == "lesion" for l in ph.lesions) and rng.random() < 0.6:
        add("LUNGS", ("No suspicious pulmonary nodules or masses.", "No pulmonary nodule or mass.")[int(rng.integers(2))])
        w.mark(Nodule="negative", Mass="negative")
    if not lung_findings and not any(l.visible for l in ph.lesions):
        add("LUNGS", "Lungs are clear." if rng.random() < 0.5 else "The lungs are clear without focal consolidation.")
        w.mark(Consolidation="negative", Infiltration="negative")
    else:
        if ph.consolidation is None and rng.random() < 0.7:
            add("LUNGS", "No focal consolidation.")
            w.mark(Consolidation="negative")
        if not ph.edema and rng.random() < 0.5:
            add("LUNGS", "No pulmonary edema.")
            w.mark(Edema="negative")
    # pleura
    if ph.effusion:
        sides = " and ".join(ph.effusion) if len(ph.effusion) == 1 else "bilateral"
        size = "Small" if ph.effusion_depth_mm < 35 else "Moderate"
        add("PLEURA", f"{size} {sides} pleural effusion{'s' if len(ph.effusion) > 1 else ''}.")
        w.mark(Effusion="positive")
    if ph.pneumothorax:
        add("PLEURA", f"Small {ph.pneumothorax} apical pneumothorax.")
        w.mark(Pneumothorax="positive")
    if not ph.effusion and not ph.pneumothorax:
        add("PLEURA", ("No pneumothorax or pleural effusion.", "No pleural effusion or pneumothorax.",
                     "No effusion or pneumothorax.")[int(rng.integers(3))])
        w.mark(Effusion="negative", Pneumothorax="negative")
    elif not ph.effusion:
        add("PLEURA", "No pleural effusion.")
        w.mark(Effusion="negative")
    elif not ph.pneumothorax:
        add("PLEURA", "No pneumothorax.")
        w.mark(Pneumothorax="negative")
    if ph.pleural_thickening is not None:
        add("PLEURA", f"{ph.pleural_thickening.capitalize()} apical pleural thickening.")
        w.mark(Pleural_Thickening="positive")
    # heart, mediastinum, devices
    if present["Cardiomegaly"]:
        add("HEART AND MEDIASTINUM", "The heart is enlarged." if rng.random() < 0.5 else "Cardiomegaly.")
        w.mark(Cardiomegaly="positive")
    else:
        add("HEART AND MEDIASTINUM", "Heart size is normal." if rng.random() < 0.5 else "Normal cardiac silhouette.")
        w.mark(Cardiomegaly="negative")
    if ct and rng.random() < 0.5:
        d = AORTA_R * 2
        add("HEART AND MEDIASTINUM", f"The descending thoracic aorta measures {w.m(f'{d / 10:.1f} cm', 'other', float(d), None, None)}, normal in caliber.")
    if ph.ett_tip_z is not None:
        d = stated_mm(ph.ett_tip_z)
        add("LINES AND TUBES", f"Endotracheal tube tip is {w.m(f'{d / 10:.1f} cm', 'device', d, None, None)} above the carina.")
    if ph.hernia:
        add("UPPER ABDOMEN", "Small hiatal hernia." if rng.random() < 0.5 else "Moderate-sized hiatal hernia.")
        w.mark(Hernia="positive")
    elif rng.random() < 0.3:
        add("UPPER ABDOMEN", "No hiatal hernia.")
        w.mark(Hernia="negative")
    if rng.random() < 0.45:  # organ-system subheadings, as many templates have
        order = ("LUNGS", "PLEURA", "HEART AND MEDIASTINUM", "LINES AND TUBES", "UPPER ABDOMEN")
        for g in order:
            sents = [t for gg, t in body if gg == g]
            if sents:
                name = g if style != 1 else g.capitalize()
                lines.append(f"{name}: " + " ".join(sents))
    else:
        lines += [t for _, t in body]
    lines.append("")
    lines.append(_heading("IMPRESSION", style))
    imp = []
    resp = pp_responses(pp).get(sp.accession) if ct else None
    if resp == "PR":
        imp.append("Interval decrease in size of the measured lesions, consistent with partial response.")
    elif resp == "PD":
        imp.append("Interval increase in size of the measured lesions and/or new lesion, consistent with progression of disease.")
    elif resp == "SD":
        imp.append("Measured lesions are not significantly changed.")
    elif resp == "CR":
        imp.append("Resolution of the previously seen pulmonary lesions.")
    elif resp == "BASELINE":
        imp.append("Pulmonary lesions as described, suspicious for malignancy. Baseline measurements provided.")
    if not ct:
        lung = [l for l in ph.lesions if l.kind == "lesion" and l.long_mm >= DX_VISIBLE_MM]
        if lung:
            imp.append("Known pulmonary " + ("mass." if any(l.long_mm >= 30 for l in lung) else "nodule(s)."))
        if present["Cardiomegaly"]:
            imp.append("Cardiomegaly.")
    if ph.effusion:
        imp.append("Pleural effusion.")
    if ph.pneumothorax:
        imp.append(f"Small {ph.pneumothorax} pneumothorax.")
    if ph.consolidation is not None:
        imp.append("Pneumonia." if sp.pneumonia else f"{lung_location(ph.consolidation[0], ph.consolidation[2]).capitalize()} consolidation.")
    if not ph.pneumothorax and rng.random() < 0.5:
        imp.append("No pneumothorax.")
    if not imp or (imp == ["No pneumothorax."] and not any(present.values())):
        imp.append("No acute cardiopulmonary process.")
    lines += [f"{i + 1}. {t}" for i, t in enumerate(imp)]
    lines.append("")
    lines += _signoff(rng, w, pp, sp)
    return Report("\n".join(lines), dict(w.assertions), w.meas, lesion_rows, w.phi)


def _signoff(rng, w: _Writer, pp: PatientPlan, sp: StudyPlan) -> list[str]:
    r, inst = sp.radiologist, pp.institution
    signed = dt.datetime.combine(sp.date, sp.time) + dt.timedelta(minutes=int(rng.integers(20, 600)))
    out = []
    if rng.random() < 0.5:
        call = dt.datetime.combine(sp.date, sp.time) + dt.timedelta(minutes=int(rng.integers(5, 90)))
        out.append(f"Findings discussed with Dr. {w.p(sp.referrer.last, 'physician_name')} by telephone at "
                   f"{w.p(call.strftime('%H:%M'), 'time')} on {w.p(call.strftime('%m/%d/%Y'), 'date')}.")
    full = f"{r.first} {r.middle}. {r.last}" if r.middle else r.first_last
    style = int(rng.integers(3))
    if style == 0:
        out.append(f"Dictated by: Dr. {w.p(r.first_last, 'physician_name')}")
        out.append(f"Signed by {w.p(full, 'physician_name')}, MD on {w.p(signed.strftime('%m/%d/%Y'), 'date')} "
                   f"at {w.p(signed.strftime('%H:%M'), 'time')}")
    elif style == 1:
        out.append(f"Electronically signed: {w.p(r.last_first, 'physician_name')} MD  "
                   f"{w.p(signed.strftime('%Y-%m-%d'), 'date')} {w.p(signed.strftime('%H:%M'), 'time')}")
        out.append(f"Pager {w.p(f'{int(rng.integers(200, 999))}-{int(rng.integers(1000, 9999))}', 'phone')}")
    else:
        out.append(f"{w.p(full, 'physician_name')}, MD, Radiology, {w.p(inst.name, 'institution')}")
        out.append(f"{w.p(inst.address, 'address')} | {w.p(email(r, inst), 'email')}")
    if rng.random() < 0.2:  # addenda come later, from someone else, with their own date and time
        other = next(x for x in inst.radiologists if x != r)
        later = signed + dt.timedelta(days=int(rng.integers(0, 3)), minutes=int(rng.integers(30, 300)))
        out += ["", f"ADDENDUM ({w.p(later.strftime('%m/%d/%Y'), 'date')} {w.p(later.strftime('%H:%M'), 'time')}): "
                    f"Results communicated to {w.p(sp.referrer.honorific.replace('Mr.', 'Dr.').replace('Ms.', 'Dr.'), 'physician_name')}"
                    f" via secure message. -- {w.p(other.last_first, 'physician_name')}"]
    return out


def pp_responses(pp: PatientPlan) -> dict[str, str]:
    """RECIST response per CT accession of a patient (over true sizes)."""
    return {s.accession: r.response for s, r in ct_responses(pp)}
