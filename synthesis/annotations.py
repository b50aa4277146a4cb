"""The radiologist's measurement objects of a synthetic CT study: GSPS or TID 1500 SR, with truth.

During a RECIST read a radiologist draws the long and the short axis of each target lesion (and of
some non-target lesions) on the slice where it is largest; the PACS keeps the drawing either as a
Grayscale Softcopy Presentation State (POLYLINE graphics plus a text label, referencing the CT
image) or, on newer workstations, as a TID 1500 measurement report (Comprehensive 3D SR). Both are
written here with highdicom, carry the PHI a real one carries (patient identity copied from the
image, content creator / observer names, login, institution, dates, a free-text description with
the reader's name), and follow the phantom lesion's true extent on the referenced slice with a
reader error of at most ``ExportConfig.reader_error_mm`` per endpoint (diameters then err by at
most twice that). Every cross drawn is one row of ``truth/annotations.parquet``.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

import highdicom as hd
import numpy as np
import pyarrow as pa
import pydicom
from pydicom.sr.coding import Code

from .config import ExportConfig
from .dicom_writer import dicom_phi
from .people import Person
from .plan import PatientPlan, StudyPlan, uid
from .recist_truth import Measure, select_targets

GSPS_SERIES, SR_SERIES = 90, 91
LONG_AXIS = Code("103339001", "SCT", "Long Axis")
SHORT_AXIS = Code("103340004", "SCT", "Short Axis")
MM = Code("mm", "UCUM", "millimeter")
FINDING_CODES = {"nodule": Code("27925004", "SCT", "Nodule"), "mass": Code("4147007", "SCT", "Mass"),
                 "lymph node": Code("59441001", "SCT", "Lymph node")}
SITE_SCHEME = "99RADCURATE"  # local codes for the phantom's lobes and nodal stations

ANNOTATION_SCHEMA = pa.schema([
    ("path", pa.string()), ("sop_instance_uid", pa.string()), ("source", pa.string()),
    ("patient_id", pa.string()), ("accession", pa.string()), ("lesion_id", pa.string()),
    ("lesion_label", pa.string()), ("finding", pa.string()), ("kind", pa.string()), ("location", pa.string()),
    ("target", pa.bool_()), ("series_number", pa.int32()), ("instance_number", pa.int32()),
    ("referenced_sop_instance_uid", pa.string()), ("stated_in_report", pa.bool_()),
    ("true_long_mm", pa.float64()), ("true_short_mm", pa.float64()),
    ("annotated_long_mm", pa.float64()), ("annotated_short_mm", pa.float64()),
    ("long_x0", pa.float64()), ("long_y0", pa.float64()), ("long_x1", pa.float64()), ("long_y1", pa.float64()),
    ("short_x0", pa.float64()), ("short_y0", pa.float64()), ("short_x1", pa.float64()), ("short_y1", pa.float64()),
    ("center_col", pa.float64()), ("center_row", pa.float64()), ("semi_long_px", pa.float64()),
    ("semi_short_px", pa.float64()), ("angle_rad", pa.float64()), ("pixel_mm", pa.float64()),
    ("max_endpoint_error_mm", pa.float64()),
])


@dataclass
class AnnotationOutput:
    """What one patient's measurement objects produced (paths relative to ``pacs/``)."""

    files: list[tuple[str, str, str]] = field(default_factory=list)  # (path, accession, sop uid)
    rows: list[dict] = field(default_factory=list)  # truth/annotations rows
    phi: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Cross:
    """One lesion's drawn RECIST cross on one slice, in pixel coordinates (column, row)."""

    lesion_id: str
    label: str
    finding: str
    kind: str
    location: str
    target: bool
    long: np.ndarray  # 2 x 2: endpoints (col, row)
    short: np.ndarray
    pixel_mm: float

    @property
    def long_mm(self) -> float:
        return float(np.linalg.norm(self.long[1] - self.long[0]) * self.pixel_mm)

    @property
    def short_mm(self) -> float:
        return float(np.linalg.norm(self.short[1] - self.short[0]) * self.pixel_mm)

    def text(self) -> str:
        return f"{self.label}: {self.finding}, {self.location} {self.long_mm:.1f} x {self.short_mm:.1f} mm"


def _jitter(rng: np.random.Generator, max_mm: float, pix: float) -> np.ndarray:
    """A reader's endpoint error: random direction, length up to ``max_mm`` (in pixels)."""
    a = float(rng.uniform(0, 2 * math.pi))
    r = float(rng.uniform(0.3, 1.0)) * max_mm / pix
    return np.array([r * math.cos(a), r * math.sin(a)])


def _label(les, targets: list[str], nontarget_no: int) -> tuple[str, bool]:
    if les.lesion_id in targets:
        return f"Target lesion {targets.index(les.lesion_id) + 1}", True
    return f"Non-target lesion {nontarget_no}", False


def study_crosses(pp: PatientPlan, sp: StudyPlan, seed: int, si: int, cfg: ExportConfig,
                  z_of: dict[int, float]) -> list[tuple[object, int, Cross, dict]]:
    """(lesion, instance number, cross, truth geometry) for each lesion the reader measures.

    Targets (RECIST selection at baseline) are always measured, non-targets with probability
    ``cfg.nontarget_annotation_rate``; a lesion that is gone is not.
    """
    rng = np.random.default_rng([seed, pp.index, si, 12])
    baseline = next(s for s in pp.studies if s.modality == "CT").phantom.lesions
    targets = select_targets([Measure(l.lesion_id, l.kind, "lymph node" if l.kind == "lymph_node" else "lung",
                                      l.long_mm, l.short_mm) for l in baseline])
    n, pix = cfg.ct_size, cfg.ct_fov_mm / cfg.ct_size
    x0 = -(n - 1) / 2 * pix  # x (= y) of the centre of pixel 0
    out = []
    nontarget = 0
    for les in sorted(sp.phantom.lesions, key=lambda l: l.lesion_id):
        draw = rng.random()
        if not les.visible:
            continue
        if les.lesion_id not in targets:
            nontarget += 1
            if draw >= cfg.nontarget_annotation_rate:
                continue
        image = min(z_of, key=lambda i: abs(z_of[i] - les.center[2]))
        if rng.random() < cfg.adjacent_slice_rate:  # measured on the next slice, where it still looks large
            step = 1 if rng.random() < 0.5 else -1
            for nb in (image + step, image - step):
                if nb in z_of and ((z_of[nb] - les.center[2]) / (les.depth_mm / 2)) ** 2 <= 1 - 0.6 ** 2:
                    image = nb
                    break
        tz = ((z_of[image] - les.center[2]) / (les.depth_mm / 2)) ** 2
        if tz >= 1.0:
            continue
        k = math.sqrt(1.0 - tz)  # the ellipsoid's cross-section on this slice
        a, b = les.long_mm / 2 * k, les.short_mm / 2 * k
        ca, sa = math.cos(les.angle), math.sin(les.angle)
        # pixel coordinates: the TLHC of the TLHC pixel is (0, 0), so a pixel's centre is +0.5
        cc = (les.center[0] - x0) / pix + 0.5
        cr = (les.center[1] - x0) / pix + 0.5
        ends_long = np.array([[cc - a * ca / pix, cr - a * sa / pix], [cc + a * ca / pix, cr + a * sa / pix]])
        ends_short = np.array([[cc + b * sa / pix, cr - b * ca / pix], [cc - b * sa / pix, cr + b * ca / pix]])
        err = cfg.reader_error_mm
        long = ends_long + np.stack([_jitter(rng, err, pix), _jitter(rng, err, pix)])
        short = ends_short + np.stack([_jitter(rng, err, pix), _jitter(rng, err, pix)])
        label, is_target = _label(les, targets, nontarget)
        cross = Cross(les.lesion_id, label, les.finding, les.kind, les.location, is_target, long, short, pix)
        geom = dict(true_long_mm=2 * a, true_short_mm=2 * b, center_col=cc, center_row=cr,
                    semi_long_px=a / pix, semi_short_px=b / pix, angle_rad=les.angle, pixel_mm=pix)
        out.append((les, image, cross, geom))
    return out


def _read_time(sp: StudyPlan) -> dt.datetime:
    """When the reader measured: an hour or two after the scan."""
    return dt.datetime.combine(sp.date, sp.time) + dt.timedelta(minutes=75)


def _stamp_dates(ds: pydicom.Dataset, when: dt.datetime) -> None:
    """highdicom stamps the wall clock; a synthetic export must be the same for the same seed."""
    d, t = when.strftime("%Y%m%d"), when.strftime("%H%M%S")
    for kw in ("ContentDate", "SeriesDate", "InstanceCreationDate", "PresentationCreationDate"):
        if kw in ds:
            setattr(ds, kw, d)
    for kw in ("ContentTime", "SeriesTime", "InstanceCreationTime", "PresentationCreationTime"):
        if kw in ds:
            setattr(ds, kw, t)
    for item in ds.get("VerifyingObserverSequence", []):
        item.VerificationDateTime = when.strftime("%Y%m%d%H%M%S")
    for item in ds.get("ContributingEquipmentSequence", []):
        item.ContributionDateTime = when.strftime("%Y%m%d%H%M%S")


def _login(p: Person) -> str:
    return (p.first[:1] + p.last.replace(" ", "").replace("'", "")).lower()


def write_gsps(pp: PatientPlan, sp: StudyPlan, seed: int, si: int, images: dict[int, pydicom.Dataset],
               crosses: list, inst_name: str) -> pydicom.Dataset:
    """One presentation state: a graphic annotation per measured lesion on its CT slice."""
    layer = hd.pr.GraphicLayer(layer_name="RECIST", order=1, description="lesion measurements")
    annotations = []
    for les, image, cross, _ in crosses:
        objs = [hd.pr.GraphicObject(graphic_type="POLYLINE", graphic_data=pts.astype(np.float64), units="PIXEL",
                                    tracking_id=f"{cross.label} {name}", tracking_uid=uid(seed, "track", pp.index,
                                                                                           les.lesion_id, name))
                for name, pts in (("long axis", cross.long), ("short axis", cross.short))]
        anchor = tuple(float(v) for v in cross.long[1])
        text = hd.pr.TextObject(text_value=cross.text(), units="PIXEL", anchor_point=anchor)
        annotations.append(hd.pr.GraphicAnnotation(referenced_images=[images[image]], graphic_layer=layer,
                                                   graphic_objects=objs, text_objects=[text]))
    r = sp.radiologist
    when = _read_time(sp)
    ds = hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=[images[i] for i in sorted({c[1] for c in crosses})],
        series_instance_uid=uid(seed, "series", pp.index, si, GSPS_SERIES), series_number=GSPS_SERIES,
        sop_instance_uid=uid(seed, "pr", pp.index, si), instance_number=1,
        manufacturer="ACME Medical Systems", manufacturer_model_name="ACME PACS Workstation",
        software_versions="7.2", device_serial_number=f"WS{pp.index % 7:04d}", content_label="RECIST",
        content_description=f"Measurements {when:%m/%d/%Y} {r.first_last}"[:64],
        graphic_annotations=annotations, graphic_layers=[layer], institution_name=inst_name,
        institutional_department_name="Radiology", content_creator_name=r.dicom_name)
    _stamp_dates(ds, when)
    return ds


def _site(location: str) -> hd.sr.FindingSite:
    code = "".join(w[0] for w in location.split()).upper()
    return hd.sr.FindingSite(anatomic_location=hd.sr.CodedConcept(code, SITE_SCHEME, location))


def write_sr(pp: PatientPlan, sp: StudyPlan, seed: int, si: int, images: dict[int, pydicom.Dataset],
             crosses: list, inst_name: str) -> pydicom.Dataset:
    """One TID 1500 measurement report: a planar ROI group (RECIST cross) per measured lesion."""
    r = sp.radiologist
    observer = hd.sr.ObserverContext(
        observer_type=hd.sr.CodedConcept("121006", "DCM", "Person"),
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
            name=r.dicom_name, login_name=_login(r), organization_name=inst_name))
    groups = []
    for les, image, cross, _ in crosses:
        src = hd.sr.SourceImageForRegion.from_source_image(images[image])
        region = hd.sr.ImageRegion(graphic_type="ELLIPSE", source_image=src,
                                   graphic_data=np.concatenate([cross.long, cross.short]).astype(np.float64))
        # The ELLIPSE region's four points are the long axis' endpoints, then the short axis' (the
        # cross as drawn); the measurements state the diameters the workstation computed from them.
        meas = [hd.sr.Measurement(name=code, value=round(value, 1), unit=MM)
                for code, value in ((LONG_AXIS, cross.long_mm), (SHORT_AXIS, cross.short_mm))]
        groups.append(hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=uid(seed, "track", pp.index, les.lesion_id),
                                                         identifier=cross.label),
            referenced_region=region, finding_type=FINDING_CODES[cross.finding],
            finding_sites=[_site(cross.location)],
            time_point_context=hd.sr.TimePointContext(time_point="baseline" if sp.timepoint == 0
                                                      else f"follow-up {sp.timepoint}"),
            measurements=meas))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=observer),
        procedure_reported=Code("25045-6", "LN", "CT unspecified body region"),
        imaging_measurements=groups)
    ds = hd.sr.Comprehensive3DSR(
        evidence=[images[i] for i in sorted({c[1] for c in crosses})], content=report,
        series_instance_uid=uid(seed, "series", pp.index, si, SR_SERIES), series_number=SR_SERIES,
        sop_instance_uid=uid(seed, "sr", pp.index, si), instance_number=1,
        manufacturer="ACME Medical Systems", is_complete=True, is_final=True, is_verified=True,
        institution_name=inst_name, institutional_department_name="Radiology",
        verifying_observer_name=r.dicom_name, verifying_organization=inst_name)
    _stamp_dates(ds, _read_time(sp))
    return ds


def write_annotations(pp: PatientPlan, seed: int, cfg: ExportConfig, pacs: Path, root_rel: str,
                      series_info: dict, ct_files: list[tuple[str, str, str]],
                      report_lesions: dict[str, set[str]]) -> AnnotationOutput:
    """Measurement objects for every CT study of a patient with a measured lesion.

    ``series_info`` is the writer's accession -> (series number, {instance: z}); ``ct_files`` its
    (path, accession, sop uid) list; ``report_lesions`` the lesion ids each accession's report
    states with a series/image reference.
    """
    out = AnnotationOutput()
    inst_name = pp.institution.name
    for si, sp in enumerate(pp.studies):
        if sp.modality != "CT" or sp.accession not in series_info:
            continue
        number, z_of = series_info[sp.accession]
        crosses = study_crosses(pp, sp, seed, si, cfg, z_of)
        if not crosses:
            continue
        folder = f"{root_rel}/{sp.date:%Y%m%d}_{sp.accession}/SE{number:03d}/"
        paths = {int(Path(rel).name[2:6]): rel for rel, acc, _ in ct_files
                 if acc == sp.accession and rel.startswith(folder)}
        images = {i: pydicom.dcmread(pacs / paths[i]) for i in sorted({c[1] for c in crosses})}
        use_sr = (pp.index + sp.timepoint) % cfg.sr_every == cfg.sr_every - 1
        kind = "SR" if use_sr else "GSPS"
        ds = (write_sr if use_sr else write_gsps)(pp, sp, seed, si, images, crosses, inst_name)
        series_no = SR_SERIES if use_sr else GSPS_SERIES
        rel = f"{root_rel}/{sp.date:%Y%m%d}_{sp.accession}/SE{series_no:03d}/IM0001.dcm"
        (pacs / rel).parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(pacs / rel, enforce_file_format=True)
        out.files.append((rel, sp.accession, str(ds.SOPInstanceUID)))
        # code meanings are PHI only where they name a person (the inventory lists every one)
        out.phi += [r for r in dicom_phi(ds, rel) if not r["location"].endswith("CodeMeaning")
                    or "PersonIdentificationCodeSequence" in r["location"]]
        out.phi += _content_phi(ds, rel, sp, kind)
        for les, image, cross, geom in crosses:
            out.rows.append(dict(
                path=rel, sop_instance_uid=str(ds.SOPInstanceUID), source=kind, patient_id=pp.patient.patient_id,
                accession=sp.accession, lesion_id=les.lesion_id, lesion_label=cross.label, finding=cross.finding,
                kind=cross.kind, location=cross.location, target=cross.target, series_number=number,
                instance_number=image, referenced_sop_instance_uid=str(images[image].SOPInstanceUID),
                stated_in_report=les.lesion_id in report_lesions.get(sp.accession, set()),
                annotated_long_mm=cross.long_mm, annotated_short_mm=cross.short_mm,
                long_x0=cross.long[0, 0], long_y0=cross.long[0, 1], long_x1=cross.long[1, 0], long_y1=cross.long[1, 1],
                short_x0=cross.short[0, 0], short_y0=cross.short[0, 1], short_x1=cross.short[1, 0],
                short_y1=cross.short[1, 1], max_endpoint_error_mm=cfg.reader_error_mm, **geom))
    return out


def _content_phi(ds: pydicom.Dataset, rel: str, sp: StudyPlan, kind: str) -> list[dict]:
    """PHI inside the annotation content that the standard-attribute inventory does not list."""
    r = sp.radiologist
    rows = [dict(value=r.dicom_name, kind="physician_name", where="dicom",
                 location="ContentCreatorName" if kind == "GSPS" else "VerifyingObserverSequence[0].VerifyingObserverName",
                 source=rel)]
    if kind == "GSPS":
        rows += [dict(value=r.first_last, kind="physician_name", where="dicom", location="ContentDescription", source=rel),
                 dict(value=_read_time(sp).strftime("%m/%d/%Y"), kind="date", where="dicom",
                      location="ContentDescription", source=rel)]
    else:
        rows += [dict(value=_login(r), kind="operator_name", where="dicom",
                      location="ContentSequence (Person Observer's Login Name)", source=rel),
                 dict(value=r.dicom_name, kind="physician_name", where="dicom",
                      location="ContentSequence (Person Observer Name)", source=rel)]
    return rows
