"""DICOM files as a hospital PACS would send them, written with pydicom.

CT Image Storage series of axial slices with real geometry and HU rescale, Digital X-Ray / CR
radiographs, several transfer syntaxes (explicit and implicit VR little endian, RLE Lossless via
pydicom's numpy encoder), and PHI everywhere a real export carries it: identity and visit
attributes, physicians and operators, institution and device, nested sequences, a private vendor
block, free-text descriptions and burned-in text. Every PHI value is logged for the truth tables.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless, UID

from .burned_in import burn_text, fit_name
from .config import ExportConfig
from .people import age_on, email
from .phantom import render
from .plan import PatientPlan, StudyPlan, slice_grid, uid
from .projection import project

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
DX_PRESENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"
CR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
STUDY_COMPONENT_CLASS = "1.2.840.10008.3.1.2.3.1"  # Detached Study Management (as PACS still send)
PRIVATE_CREATOR = "ACME MEDICAL 1.1"
HU_OFFSET = 1024

# Standard attributes that carry PHI, and the kind of value they hold (searched at any depth).
PHI_KEYWORDS = {
    "PatientName": "patient_name", "OtherPatientNames": "patient_name", "PatientID": "patient_id", "OtherPatientIDs": "patient_id",
    "PatientBirthDate": "birth_date", "PatientAge": "age", "AccessionNumber": "accession",
    "StudyDate": "date", "SeriesDate": "date", "AcquisitionDate": "date", "ContentDate": "date",
    "InstanceCreationDate": "date", "StudyTime": "time", "SeriesTime": "time",
    "AcquisitionTime": "time", "ContentTime": "time", "InstanceCreationTime": "time",
    "AcquisitionDateTime": "datetime", "ReferringPhysicianName": "physician_name",
    "PerformingPhysicianName": "physician_name", "NameOfPhysiciansReadingStudy": "physician_name",
    "RequestingPhysician": "physician_name", "OperatorsName": "operator_name",
    "InstitutionName": "institution", "InstitutionAddress": "address",
    "InstitutionalDepartmentName": "institution", "StationName": "station_name",
    "DeviceSerialNumber": "device_serial", "PatientAddress": "address",
    "PatientTelephoneNumbers": "phone", "PersonTelephoneNumbers": "phone", "PersonAddress": "address",
    "StudyID": "study_id", "RequestedProcedureID": "request_id", "ScheduledProcedureStepID": "request_id",
    "StudyInstanceUID": "uid", "SeriesInstanceUID": "uid", "SOPInstanceUID": "uid",
    "FrameOfReferenceUID": "uid", "ReferencedSOPInstanceUID": "uid",
    "MediaStorageSOPInstanceUID": "uid", "CodeMeaning": "physician_name",
}


@dataclass
class Written:
    """What writing one patient produced, before paths are final (paths relative to ``pacs/``)."""

    files: list[tuple[str, str, str]] = field(default_factory=list)  # (path, accession, sop uid)
    phi: list[dict] = field(default_factory=list)
    burned: list[dict] = field(default_factory=list)
    series: dict = field(default_factory=dict)  # accession -> (series number, {instance: z})


def dicom_phi(ds: Dataset, source: str) -> list[dict]:
    """Inventory of the standard PHI attributes in ``ds`` (file meta and nested sequences too)."""
    rows: list[dict] = []

    def walk(d: Dataset, prefix: str) -> None:
        for elem in d:
            if elem.VR == "SQ":
                for i, item in enumerate(elem.value):
                    walk(item, f"{prefix}{elem.keyword}[{i}].")
                continue
            kind = PHI_KEYWORDS.get(elem.keyword)
            if kind is None or elem.value in (None, ""):
                continue
            values = elem.value if elem.VM > 1 else [elem.value]
            for v in values:
                rows.append(dict(value=str(v), kind=kind, where="dicom", location=prefix + elem.keyword,
                                 source=source))

    if getattr(ds, "file_meta", None) is not None:
        walk(ds.file_meta, "")
    walk(ds, "")
    return rows


def _da(d: dt.date) -> str:
    return d.strftime("%Y%m%d")


def _tm(t: dt.time) -> str:
    return t.strftime("%H%M%S")


def _later(d: dt.date, t: dt.time, seconds: float) -> dt.datetime:
    return dt.datetime.combine(d, t) + dt.timedelta(seconds=seconds)


def _common(pp: PatientPlan, sp: StudyPlan, seed: int, si: int, rng: np.random.Generator,
            studies: tuple[StudyPlan, ...]) -> tuple[Dataset, list[tuple[str, str, str]]]:
    """Patient, study, equipment and request attributes shared by every file of a study.

    Returns the dataset and the PHI embedded in free text, as (value, kind, keyword).
    """
    p, inst = pp.patient, pp.institution
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = _da(sp.date)
    ds.InstanceCreationDate = _da(sp.date)
    ds.StudyTime = _tm(sp.time)
    ds.AccessionNumber = sp.accession
    ds.Manufacturer = "ACME Medical Systems"
    ds.InstitutionName = inst.name
    ds.InstitutionAddress = inst.address
    ds.ReferringPhysicianName = sp.referrer.dicom_name
    ds.StationName = f"{'CT' if sp.modality == 'CT' else 'XR'}{pp.index % 3 + 1:02d}_{inst.name.split()[0].upper()[:6]}"
    ds.InstitutionalDepartmentName = "Radiology"
    ds.PerformingPhysicianName = sp.radiologist.dicom_name
    ds.NameOfPhysiciansReadingStudy = sp.radiologist.dicom_name
    ds.OperatorsName = sp.technologist.dicom_name
    ds.ManufacturerModelName = "Visionary 64" if sp.modality == "CT" else "DigiRad 3000"
    ds.PatientName = p.person.dicom_name
    ds.PatientID = p.patient_id
    ds.IssuerOfPatientID = "HOSP_MRN"
    ds.OtherPatientIDs = [p.other_id]
    ds.PatientBirthDate = _da(p.birth_date)
    ds.PatientSex = p.person.sex
    ds.PatientAge = f"{age_on(p.birth_date, sp.date):03d}Y"
    ds.PatientWeight = round(float(rng.uniform(50, 110)), 1)
    embedded: list[tuple[str, str, str]] = []
    if p.person.sex == "F" and si % 2 == 0:  # a name from an earlier record
        ds.OtherPatientNames = f"{pp.institution.referrers[0].last.upper()}^{p.person.first.upper()}"
    if pp.index % 2 == 0:
        ds.PatientAddress = p.address
        ds.PatientTelephoneNumbers = p.phone
    ds.DeviceSerialNumber = f"SN{(pp.index % 3) * 7919 + (17 if sp.modality == 'CT' else 23):06d}"
    ds.SoftwareVersions = "VA20B"
    ds.StudyInstanceUID = sp.study_uid
    ds.StudyID = f"{si + 1}{sp.accession[-4:]}"
    desc = "CT CHEST W CONTRAST" if sp.modality == "CT" else "XR CHEST PA"
    if si % 3 == 1:  # free text with a date typed in by the technologist
        desc += f" {sp.date:%m/%d/%Y}"
        embedded.append((f"{sp.date:%m/%d/%Y}", "date", "StudyDescription"))
    ds.StudyDescription = desc
    if si % 2 == 0:
        hist = f"Hx lung nodule. Pt {p.person.first_last} states SOB since {sp.date - dt.timedelta(days=9):%m/%d/%Y}."
        embedded += [(p.person.first_last, "patient_name", "AdditionalPatientHistory"),
                     (f"{sp.date - dt.timedelta(days=9):%m/%d/%Y}", "date", "AdditionalPatientHistory")]
    else:
        hist = "Follow-up of known pulmonary findings."
    ds.AdditionalPatientHistory = hist
    req = Dataset()
    req.RequestedProcedureID = f"RP{sp.accession[-6:]}"
    req.ScheduledProcedureStepID = f"SPS{sp.accession[-6:]}"
    req.AccessionNumber = sp.accession
    req.StudyInstanceUID = sp.study_uid
    req.RequestedProcedureDescription = desc
    reason = "Evaluate lung nodule" if si % 2 else f"Follow-up per Dr. {sp.referrer.last}"
    if si % 2 == 0:
        embedded.append((sp.referrer.last, "physician_name", "RequestAttributesSequence[0].ReasonForTheRequestedProcedure"))
    req.ReasonForTheRequestedProcedure = reason
    ds.RequestAttributesSequence = Sequence([req])
    ds.RequestingPhysician = sp.referrer.dicom_name
    ref_phys = Dataset()
    code = Dataset()
    code.CodeValue = f"{sum(map(ord, sp.referrer.dicom_name)) * 37 % 10**6:06d}"
    code.CodingSchemeDesignator = "L"
    code.CodeMeaning = sp.referrer.dicom_name
    ref_phys.PersonIdentificationCodeSequence = Sequence([code])
    ref_phys.PersonTelephoneNumbers = inst.phone
    ref_phys.InstitutionName = inst.name
    ds.ReferringPhysicianIdentificationSequence = Sequence([ref_phys])
    if sp.prior_index is not None:
        ref = Dataset()
        ref.ReferencedSOPClassUID = STUDY_COMPONENT_CLASS
        ref.ReferencedSOPInstanceUID = studies[sp.prior_index].study_uid
        ds.ReferencedStudySequence = Sequence([ref])
    block = ds.private_block(0x0029, PRIVATE_CREATOR, create=True)
    block.add_new(0x10, "LO", "CHEST_ROUTINE_V2")
    block.add_new(0x11, "LO", p.person.dicom_name)  # vendor copy of the patient name
    block.add_new(0x12, "LO", f"{email(sp.technologist, inst)}")
    block.add_new(0x13, "DS", "1.25")
    embedded += [(p.person.dicom_name, "patient_name", "(0029,1011) private"),
                 (email(sp.technologist, inst), "email", "(0029,1012) private")]
    return ds, embedded


def _finish(ds: Dataset, sop_class: str, sop_uid: str, ts: str, pixels: np.ndarray) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = UID(ts) if ts != RLELossless else UID("1.2.840.10008.1.2.1")
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.SamplesPerPixel = 1
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = pixels.astype("<u2").tobytes()
    if ts == RLELossless:
        ds.compress(RLELossless, encoding_plugin="pydicom", generate_instance_uid=False)
    return ds


def _burn(ds_pixels: np.ndarray, pp: PatientPlan, sp: StudyPlan, font_px: int) -> list[tuple]:
    p = pp.patient
    max_chars = max(6, int(ds_pixels.shape[1] / (font_px * 0.62)) - 1)
    lines = [fit_name(p.person.last, p.person.first, max_chars), f"MRN {p.patient_id}",
             sp.date.strftime("%Y-%m-%d")]
    return burn_text(ds_pixels, lines, value=4095, font_px=font_px)


def _burn_rows(boxes, rel: str, flag: str, pp: PatientPlan) -> tuple[list[dict], list[dict]]:
    burned, phi = [], []
    kinds = ("patient_name", "patient_id", "date")
    for (x0, y0, x1, y1, text), kind in zip(boxes, kinds):
        burned.append(dict(path=rel, x0=x0, y0=y0, x1=x1, y1=y1, text=text, flag=flag))
        value = text[4:] if kind == "patient_id" else text
        phi.append(dict(value=value, kind=kind, where="pixels", location=f"{x0},{y0},{x1},{y1}", source=rel))
    return burned, phi


def write_ct(pp: PatientPlan, sp: StudyPlan, si: int, seed: int, cfg: ExportConfig, study_folder: Path,
             study_rel: str, ext: str, out: Written) -> None:
    """The study's axial CT series (thin slices, the one reports cite) and, on every other study,
    a thick-slab reconstruction as a second series with its own number and transfer syntax."""
    rng = np.random.default_rng([seed, pp.index, si, 2])
    _, spacing = slice_grid(cfg)
    n, fov = cfg.ct_size, cfg.ct_fov_mm
    pix = fov / n
    xs = (np.arange(n) - (n - 1) / 2) * pix
    zs = sp.z_top - np.arange(cfg.ct_slices) * spacing
    hu = render(sp.phantom, xs, xs, zs, supersample=2)
    hu += rng.normal(0.0, cfg.ct_noise_hu, hu.shape).astype(np.float32)
    frame_uid = uid(seed, "frame", pp.index, si)
    ds_common, embedded = _common(pp, sp, seed, si, rng, pp.studies)
    out.series[sp.accession] = (sp.series_number, {i + 1: float(z) for i, z in enumerate(zs)})
    series = [(sp.series_number, hu, zs, spacing, "AX CHEST W/ CONTRAST" if si % 2 == 0 else "Axial Lung",
               sp.transfer_syntax, True)]
    if (pp.index + si) % 2 == 0 and len(zs) >= 2:  # thick slabs: mean of slice pairs
        m = len(zs) // 2 * 2
        thick = hu[:m].reshape(m // 2, 2, n, n).mean(axis=1)
        tz = zs[:m].reshape(m // 2, 2).mean(axis=1)
        ts2 = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)[(pp.index + si // 2) % 2]
        series.append((sp.series_number + 1, thick, tz, 2 * spacing, "Thick MPR Soft Tissue", str(ts2), False))
    font_px = 16 if n <= 256 else 20
    for number, vol, szs, thick_mm, desc, ts, primary in series:
        stored = np.clip(np.rint(vol) + HU_OFFSET, 0, 4095).astype(np.uint16)
        series_uid = uid(seed, "series", pp.index, si, number)
        rel_folder = f"{study_rel}/SE{number:03d}"
        folder = study_folder / f"SE{number:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for i, z in enumerate(szs):
            ds = Dataset()
            ds.update(ds_common)
            ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"] if primary else ["DERIVED", "SECONDARY", "AXIAL"]
            t_acq = _later(sp.date, sp.time, 60 + i * 0.5)
            ds.InstanceCreationTime = ds.ContentTime = ds.AcquisitionTime = t_acq.strftime("%H%M%S.%f")
            ds.SeriesTime = _tm(sp.time)
            ds.AcquisitionDateTime = t_acq.strftime("%Y%m%d%H%M%S.%f")
            ds.Modality = "CT"
            ds.SeriesDescription = desc
            ds.BodyPartExamined = "CHEST"
            ds.ProtocolName = "Chest routine"
            ds.SliceThickness = f"{thick_mm:g}"
            ds.SpacingBetweenSlices = f"{thick_mm:g}"
            ds.KVP = "120"
            ds.ReconstructionDiameter = f"{fov:g}"
            ds.PatientPosition = "HFS"
            ds.SeriesInstanceUID = series_uid
            ds.SeriesNumber = number
            ds.AcquisitionNumber = 1
            ds.InstanceNumber = i + 1
            ds.ImagePositionPatient = [f"{xs[0]:.4f}", f"{xs[0]:.4f}", f"{z:.4f}"]
            ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
            ds.FrameOfReferenceUID = frame_uid
            ds.PositionReferenceIndicator = ""
            ds.SliceLocation = f"{z:.4f}"
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.PixelSpacing = [f"{pix:g}", f"{pix:g}"]
            ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = str(-HU_OFFSET), "1", "HU"
            ds.WindowCenter, ds.WindowWidth = ["-600", "40"], ["1500", "400"]
            name = f"IM{i + 1:04d}{ext}"
            rel = f"{rel_folder}/{name}"
            pixels = stored[i].copy()
            emb = list(embedded)
            if i == 0 and si % 2 == 1 and primary:
                comment = f"Scanned by {sp.technologist.first_last} on {sp.date:%B %d, %Y}"
                ds.ImageComments = comment
                emb += [(sp.technologist.first_last, "operator_name", "ImageComments"),
                        (f"{sp.date:%B %d, %Y}", "date", "ImageComments")]
            flag = "absent"
            if i == 0 and primary:
                flag = sp.burned_flag
                if sp.burned_in:
                    b, ph = _burn_rows(_burn(pixels, pp, sp, font_px), rel, flag, pp)
                    out.burned += b
                    out.phi += ph
            if flag != "absent":
                ds.BurnedInAnnotation = flag
            sop = uid(seed, "sop", pp.index, si, number, i + 1)
            ds = _finish(ds, CT_IMAGE_STORAGE, sop, ts, pixels)
            ds.save_as(folder / name, enforce_file_format=True)
            out.files.append((rel, sp.accession, sop))
            out.phi += dicom_phi(ds, rel)
            out.phi += [dict(value=v, kind=k, where="dicom", location=loc, source=rel) for v, k, loc in emb]


def write_radiograph(pp: PatientPlan, sp: StudyPlan, si: int, seed: int, cfg: ExportConfig,
                     study_folder: Path, study_rel: str, ext: str, out: Written) -> None:
    """One PA chest radiograph (DX for presentation, or CR stored MONOCHROME1)."""
    folder = study_folder / f"SE{sp.series_number:03d}"
    rel_folder = f"{study_rel}/SE{sp.series_number:03d}"
    rng = np.random.default_rng([seed, pp.index, si, 3])
    pixels = project(sp.phantom, cfg.dx_size, cfg.dx_pixel_mm, rng)
    ds, embedded = _common(pp, sp, seed, si, rng, pp.studies)
    folder.mkdir(parents=True, exist_ok=True)
    t_acq = _later(sp.date, sp.time, 30)
    ds.InstanceCreationTime = ds.ContentTime = ds.AcquisitionTime = t_acq.strftime("%H%M%S.%f")
    ds.SeriesTime = _tm(sp.time)
    ds.AcquisitionDateTime = t_acq.strftime("%Y%m%d%H%M%S.%f")
    ds.Modality = sp.modality
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.SeriesDescription = "CHEST PA" if si % 2 else "PA CHEST"
    if si % 3 == 2:  # typed at the console: the patient's surname in the series description
        ds.SeriesDescription = f"PA CHEST {pp.patient.person.last.upper()}"
        embedded.append((pp.patient.person.last.upper(), "patient_name", "SeriesDescription"))
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    ds.PatientOrientation = ["L", "F"]
    ds.KVP = "120"
    ds.ExposureTime = "12"
    ds.SeriesInstanceUID = uid(seed, "series", pp.index, si, sp.series_number)
    ds.SeriesNumber = sp.series_number
    ds.InstanceNumber = 1
    ds.ImagerPixelSpacing = [f"{cfg.dx_pixel_mm:g}", f"{cfg.dx_pixel_mm:g}"]
    ds.PixelSpacing = [f"{cfg.dx_pixel_mm:g}", f"{cfg.dx_pixel_mm:g}"]
    ds.RescaleIntercept, ds.RescaleSlope = "0", "1"
    if sp.modality == "DX":
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.RescaleType = "US"
        sop_class, ink = DX_PRESENTATION_STORAGE, 4095
    else:
        ds.PhotometricInterpretation = "MONOCHROME1"
        pixels = (4095 - pixels).astype(np.uint16)
        sop_class, ink = CR_IMAGE_STORAGE, 0
    ds.WindowCenter, ds.WindowWidth = "2048", "4096"
    name = f"IM0001{ext}"
    rel = f"{rel_folder}/{name}"
    if sp.burned_in:
        p = pp.patient
        lines = [fit_name(p.person.last, p.person.first, 40), f"MRN {p.patient_id}",
                 sp.date.strftime("%Y-%m-%d")]
        boxes = burn_text(pixels, lines, value=ink, font_px=18, background=4095 - ink)
        b, ph = _burn_rows(boxes, rel, sp.burned_flag, pp)
        out.burned += b
        out.phi += ph
    if sp.burned_flag != "absent":
        ds.BurnedInAnnotation = sp.burned_flag
    sop = uid(seed, "sop", pp.index, si, 1)
    ds = _finish(ds, sop_class, sop, sp.transfer_syntax, pixels)
    ds.save_as(folder / name, enforce_file_format=True)
    out.files.append((rel, sp.accession, sop))
    out.phi += dicom_phi(ds, rel)
    out.phi += [dict(value=v, kind=k, where="dicom", location=loc, source=rel) for v, k, loc in embedded]


def write_patient(pp: PatientPlan, seed: int, cfg: ExportConfig, pacs: Path, root_rel: str) -> Written:
    """All studies of a patient under ``pacs/root_rel`` in a PACS-like nested tree."""
    out = Written()
    for si, sp in enumerate(pp.studies):
        study_rel = f"{root_rel}/{sp.date:%Y%m%d}_{sp.accession}"
        ext = (".dcm", "", ".DCM")[(pp.index + si) % 3]
        writer = write_ct if sp.modality == "CT" else write_radiograph
        writer(pp, sp, si, seed, cfg, pacs / study_rel, study_rel, ext, out)
        if not pp.cd_import:  # PACS folder names carry the MRN, study date and accession
            out.phi += [dict(value=v, kind=k, where="path", location="folder name", source=study_rel)
                        for v, k in ((pp.patient.patient_id, "patient_id"), (_da(sp.date), "date"),
                                     (sp.accession, "accession"))]
    return out
