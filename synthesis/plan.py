"""The clinical timeline of each synthetic patient: studies, dates, findings and lesion sizes.

A plan is pure data drawn from a seeded RNG; rendering, DICOM writing and report writing all read
the same plan, which is what keeps images, headers, reports and truth consistent.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace

import numpy as np
from pydicom.uid import (DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless,
                         generate_uid)

from .config import ExportConfig
from .people import Institution, Patient, Person, make_institution, make_patient
from .phantom import (LUNG, LUNG_AXES, LUNG_BOTTOM_Z, LUNG_CENTER_Z, LUNG_TOP_Z, LUNG_X,
                      MEDIAST, NODE_HU, NODE_SITES, Lesion, Phantom, lesion_fits, lung_location)
from .recist_truth import Measure, recist_responses

SCENARIOS = ("PR", "PD", "SD", "none", "PD_new", "CR")
FACTORS = {"PR": (1.0, 0.62, 0.5), "PD": (1.0, 1.35, 1.6), "SD": (1.0, 0.95, 1.04),
           "PD_new": (1.0, 0.93, 0.9), "CR": (1.0, 0.45, 0.0), "none": (1.0, 1.0, 1.0)}
CT_SYNTAXES = (ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless)
FLAGS = ("YES", "NO", "absent")


@dataclass(frozen=True)
class StudyPlan:
    """One imaging study of a patient."""

    accession: str
    study_uid: str
    modality: str  # CT, DX or CR
    timepoint: int  # 0 = baseline
    date: dt.date
    time: dt.time
    phantom: Phantom
    series_number: int
    z_top: float  # CT: z (mm) of slice 1
    transfer_syntax: str
    radiologist: Person
    referrer: Person
    technologist: Person
    prior_index: int | None  # index (in the patient's studies) of the comparison study
    burned_in: bool  # text burned into pixels (DX image, or slice 1 of the CT series)
    burned_flag: str  # what BurnedInAnnotation says: YES, NO or absent
    pneumonia: bool  # consolidation is infectious


@dataclass(frozen=True)
class PatientPlan:
    index: int
    patient: Patient
    institution: Institution
    scenario: str
    studies: tuple[StudyPlan, ...]
    cd_import: bool  # arrives as a CD import with a DICOMDIR


def uid(seed: int, *parts: object) -> str:
    """A DICOM UID derived from the seed and a path of names (same inputs, same UID)."""
    # pydicom joins the sources without a separator: join them ourselves so (1, 11) != (11, 1).
    return generate_uid(entropy_srcs=["/".join(["radcurate-synth", str(seed), *map(str, parts)])])


def slice_grid(cfg: ExportConfig) -> tuple[float, float]:
    """(z of slice 1 of the reference grid, slice spacing) for CT series."""
    spacing = cfg.ct_coverage_mm / cfg.ct_slices
    return LUNG_TOP_Z + 15.0 - spacing / 2, spacing


def _timepoint_phantoms(rng, seed: int, n_tp: int) -> list[Phantom]:
    heart = float(rng.uniform(1.4, 1.5)) if rng.random() < 0.3 else float(rng.uniform(0.95, 1.05))
    emphysema = bool(rng.random() < 0.25)
    fibrosis = bool(rng.random() < 0.15)  # chronic findings stay from study to study
    thickening = ("right", "left")[int(rng.integers(2))] if rng.random() < 0.15 else None
    hernia = bool(rng.random() < 0.15)
    out = []
    for t in range(n_tp):
        eff = ()
        if rng.random() < 0.3:
            eff = (("right",), ("left",), ("right", "left"))[int(rng.integers(3))]
        cons = None
        if rng.random() < 0.25:
            side = -1 if rng.random() < 0.5 else 1
            cons = (side * LUNG_X + float(rng.uniform(-10, 10)), float(rng.uniform(-10, 30)),
                    float(rng.uniform(-130, -90)), float(rng.uniform(18, 28)))
        ptx = ("right", "left")[int(rng.integers(2))] if rng.random() < 0.12 else None
        atel = None
        if rng.random() < 0.3:
            atel = (("right", "left")[int(rng.integers(2))], float(rng.uniform(-165, -140)))
        edema = (not emphysema) and rng.random() < 0.1
        ett = float(rng.uniform(30, 60)) if rng.random() < 0.15 else None
        out.append(Phantom(seed=seed, heart_scale=heart, effusion=eff,
                           effusion_depth_mm=float(rng.uniform(25, 45)), consolidation=cons,
                           pneumothorax=ptx, atelectasis=atel, emphysema=emphysema, edema=edema,
                           ett_tip_z=ett, fibrosis=fibrosis, pleural_thickening=thickening, hernia=hernia))
    return out


def _place(rng, proto: Lesion, phantoms: list[Phantom], zs: np.ndarray, allowed, tries=300,
           others: tuple[Lesion, ...] = ()):
    """Move ``proto`` to a random spot where it fits in every phantom, clear of ``others``."""
    for _ in range(tries):
        if proto.kind == "lymph_node":
            site = list(NODE_SITES)[int(rng.integers(len(NODE_SITES)))]
            cx, cy, cz = NODE_SITES[site]
            cz = float(zs[np.argmin(np.abs(zs - cz))])
            cand = replace(proto, center=(cx, cy, cz), location=site)
        else:
            side = -1 if rng.random() < 0.5 else 1
            z = float(rng.choice(zs))
            if not (LUNG_BOTTOM_Z + 40 < z < LUNG_TOP_Z - 30):
                continue
            k = math.sqrt(max(0.0, 1 - ((z - LUNG_CENTER_Z) / LUNG_AXES[2]) ** 2))
            x = side * LUNG_X + float(rng.uniform(-0.6, 0.6)) * LUNG_AXES[0] * k
            y = float(rng.uniform(-0.6, 0.6)) * LUNG_AXES[1] * k
            cand = replace(proto, center=(x, y, z), location=lung_location(x, z))
        clear = all(
            math.dist(cand.center, o.center) > (cand.long_mm + o.long_mm) / 2 + 8.0 for o in others)
        if clear and all(lesion_fits(p, cand, allowed) for p in phantoms):
            return cand
    return None


def _stated(v: float) -> float:
    return float(math.floor(v + 0.5))


def _measures(lesions: list[Lesion], stated: bool) -> list[Measure]:
    f = _stated if stated else (lambda v: v)
    return [Measure(l.lesion_id, l.kind, "lymph node" if l.kind == "lymph_node" else "lung",
                    f(l.long_mm), f(l.short_mm)) for l in lesions]


def _lesion_course(rng, scenario: str, n_tp: int, phantoms: list[Phantom], zs: np.ndarray):
    """Per time point, the lesions present (size 0 once resolved); None if placement failed."""
    if scenario == "none":
        return [[] for _ in range(n_tp)]
    n_lung = int(rng.integers(1, 4))
    n_node = int(rng.integers(0, 3))
    protos: list[Lesion] = []
    for i in range(n_lung):
        long = float(rng.uniform(12, 42))
        short = long * float(rng.uniform(0.65, 0.9))
        protos.append(Lesion(f"L{i + 1}", "lesion", "", (0, 0, 0), long, short,
                             float(rng.uniform(short, long)), float(rng.uniform(0, math.pi))))
    for i in range(n_node):
        short = float(rng.uniform(15.5, 21))
        protos.append(Lesion(f"N{i + 1}", "lymph_node", "", (0, 0, 0), short * float(rng.uniform(1.15, 1.35)),
                             short, short * 1.2, math.pi / 2 + float(rng.uniform(-0.3, 0.3)), NODE_HU))
    if scenario not in ("CR",) and rng.random() < 0.4:
        d = float(rng.uniform(4, 8))
        protos.append(Lesion("S1", "lesion", "", (0, 0, 0), d, d * 0.85, d, 0.0))
    grow = max(FACTORS[scenario][:n_tp]) * 1.1
    placed: list[Lesion] = []
    for p in protos:
        big = replace(p, long_mm=p.long_mm * grow, short_mm=p.short_mm * grow, depth_mm=p.depth_mm * grow)
        allowed = (MEDIAST,) if p.kind == "lymph_node" else (LUNG,)
        spot = _place(rng, big, phantoms, zs, allowed,
                      others=tuple(replace(o, long_mm=o.long_mm * grow) for o in placed))
        if spot is None:
            continue
        placed.append(replace(p, center=spot.center, location=spot.location))
    if not any(l.kind == "lesion" and l.long_mm >= 10 for l in placed):
        return None
    course = []
    for t in range(n_tp):
        f = FACTORS[scenario][t]
        row = []
        for l in placed:
            if l.lesion_id.startswith("S") or t == 0:
                row.append(l)
                continue
            j = float(rng.uniform(0.96, 1.04))
            if f == 0.0 and l.kind == "lymph_node":
                short = float(rng.uniform(6, 9))
                row.append(l.scaled(short * 1.2, short))
            else:
                row.append(l.scaled(l.long_mm * f * j, l.short_mm * f * j))
        course.append(row)
    if scenario == "PD_new" and n_tp > 1:
        d = float(rng.uniform(7, 12))
        proto = Lesion("L9", "lesion", "", (0, 0, 0), d, d * 0.85, d, float(rng.uniform(0, math.pi)))
        spot = _place(rng, proto, phantoms, zs, (LUNG,),
                      others=tuple(replace(o, long_mm=o.long_mm * grow) for o in placed))
        if spot is not None:
            for t in range(1, n_tp):
                course[t].append(spot)
    return course


def _consistent(course) -> bool:
    """True if RECIST gives the same answer on true and on stated (rounded) sizes."""
    a = recist_responses([_measures(c, False) for c in course])
    b = recist_responses([_measures(c, True) for c in course])
    if [r.response for r in a] != [r.response for r in b]:
        return False
    for r in a[1:]:  # stay clear of the thresholds so readers of rounded reports agree
        if r.nadir_mm and abs(r.sum_mm / r.nadir_mm - 1.2) < 0.04:
            return False
        if a[0].sum_mm and abs(r.sum_mm / a[0].sum_mm - 0.7) < 0.04:
            return False
    return True


def plan_patient(seed: int, index: int, cfg: ExportConfig, inst: Institution, base: dt.date) -> PatientPlan:
    """Draw one patient's identity, studies, findings and lesion course."""
    rng = np.random.default_rng([seed, index, 1])
    scenario = SCENARIOS[index % len(SCENARIOS)]
    n_tp = 1 if scenario == "none" and index % 2 else min(cfg.max_timepoints, 2 + int(rng.random() < 0.5))
    if scenario == "CR":  # complete response needs two follow-ups (shrinking, then gone)
        n_tp = cfg.max_timepoints
    first = base + dt.timedelta(days=int(rng.integers(0, 400)))
    age = 91 if index == 1 else int(rng.integers(38, 86))
    patient = make_patient(rng, index, first, age)
    z0, spacing = slice_grid(cfg)
    zs = z0 - np.arange(2, cfg.ct_slices - 2) * spacing
    course = None
    for _ in range(20):
        phantoms = _timepoint_phantoms(rng, seed * 1000 + index, n_tp)
        course = _lesion_course(rng, scenario, n_tp, phantoms, zs)
        if course is not None and _consistent(course):
            break
    assert course is not None, "phantom lesion placement failed"
    dates = [first]
    for _ in range(1, n_tp):
        dates.append(dates[-1] + dt.timedelta(days=int(rng.integers(56, 120))))
    studies: list[dict] = []
    for t in range(n_tp):
        ph = replace(phantoms[t], lesions=tuple(course[t]))
        pneumonia = ph.consolidation is not None and rng.random() < 0.6
        studies.append(dict(modality="CT", timepoint=t, date=dates[t], phantom=ph, pneumonia=pneumonia))
        if rng.random() < cfg.dx_rate or (index == 0 and t == 0):
            dx_date = dates[t] + dt.timedelta(days=int(rng.integers(-3, 1)))
            studies.append(dict(modality="DX" if rng.random() < 0.6 else "CR", timepoint=t,
                                date=dx_date, phantom=ph, pneumonia=pneumonia))
    studies.sort(key=lambda s: (s["date"], s["modality"] != "CT"))
    plans: list[StudyPlan] = []
    last_of: dict[str, int] = {}
    n_burned = 0
    for si, s in enumerate(studies):
        kind = "CT" if s["modality"] == "CT" else "XR"
        t = s["timepoint"]
        if s["modality"] == "CT":
            z_top = z0 + float(rng.integers(-1, 2)) * spacing
            series = int(rng.integers(2, 6))
            ts = CT_SYNTAXES[(index + t) % 3]
            burned = rng.random() < cfg.burned_in_ct_series_rate or si == 0
        else:
            z_top, series = 0.0, int(rng.integers(1, 3))
            ts = CT_SYNTAXES[(index + t + 2) % 3] if (index + si) % 4 != 3 else DeflatedExplicitVRLittleEndian
            burned = rng.random() < cfg.burned_in_dx_rate or si == 0
        # Flags cycle so every export has truthful YES, lying NO and missing flags on burned images.
        flag = FLAGS[(index + n_burned) % 3] if burned else FLAGS[1 + (index + si) % 2]
        n_burned += bool(burned)
        acc = f"{'CT' if kind == 'CT' else 'XR'}{s['date']:%y}{index % 100000:05d}{si:02d}{int(rng.integers(10, 99))}"
        hh, mm, ss = int(rng.integers(7, 20)), int(rng.integers(0, 60)), int(rng.integers(0, 60))
        plans.append(StudyPlan(
            accession=acc, study_uid=uid(seed, "study", index, si), modality=s["modality"],
            timepoint=t, date=s["date"], time=dt.time(hh, mm, ss), phantom=s["phantom"],
            series_number=series, z_top=z_top, transfer_syntax=str(ts),
            radiologist=inst.radiologists[int(rng.integers(len(inst.radiologists)))],
            referrer=inst.referrers[int(rng.integers(len(inst.referrers)))],
            technologist=inst.technologists[int(rng.integers(len(inst.technologists)))],
            prior_index=last_of.get(kind), burned_in=bool(burned), burned_flag=flag,
            pneumonia=s["pneumonia"]))
        last_of[kind] = si
    return PatientPlan(index=index, patient=patient, institution=inst, scenario=scenario,
                       studies=tuple(plans), cd_import=cfg.dicomdir_every > 0 and index % cfg.dicomdir_every == 1)


def ct_responses(pp: PatientPlan) -> list[tuple[StudyPlan, object]]:
    """(CT study, RECIST response over true sizes) for each CT time point of a patient."""
    cts = [s for s in pp.studies if s.modality == "CT"]
    return list(zip(cts, recist_responses([_measures(list(s.phantom.lesions), False) for s in cts])))


def plan_export(seed: int, patients: int, cfg: ExportConfig) -> list[PatientPlan]:
    """Plans for ``patients`` patients of one hospital, fixed by ``seed``."""
    rng = np.random.default_rng([seed, 0])
    inst = make_institution(rng)
    base = dt.date(2017, 1, 1) + dt.timedelta(days=int(rng.integers(0, 1500)))
    return [plan_patient(seed, i, cfg, inst, base) for i in range(patients)]
