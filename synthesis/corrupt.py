"""Bad inputs a real export contains, planted on purpose with the reason a reader should give.

Kinds cycle in a fixed order so any K >= 8 covers every reason: zero-byte file, truncated DICOM
(cut inside the pixel data), non-DICOM file (PNG or text), DICOM image without pixel
data, duplicate SOP instance under another name, empty report, undecodable (Latin-1) report text,
report whose accession matches no study.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image

from .config import ExportConfig
from .dicom_writer import dicom_phi
from .plan import PatientPlan, uid

KINDS = ("empty_file", "truncated", "not_dicom", "no_pixel_data", "duplicate_sop_instance",
         "empty_report", "undecodable_text", "unmatched_accession")


def _sibling(rel: str, name: str) -> str:
    return f"{rel.rsplit('/', 1)[0]}/{name}"


def add_corruptions(k: int, seed: int, pacs: Path, files: list[tuple[str, str, str]], reports: list[dict],
                    plans: list[PatientPlan], cfg: ExportConfig, phi: list[dict], findings: list[dict],
                    lesions: list[dict], meas: list[dict]) -> list[dict]:
    """Plant ``k`` bad inputs (files under ``pacs``, rows in ``reports``); fix truth; return corrupt rows."""
    if k <= 0 or not files:
        return []
    rng = np.random.default_rng([seed, 99])
    rows: list[dict] = []
    used_reports: set[str] = set()
    planted: set[str] = set()  # accessions of report rows added here (they match no study)
    for j in range(k):
        kind = KINDS[j % len(KINDS)]
        rel, acc, sop = files[int(rng.integers(len(files)))]
        src = pacs / rel
        if kind == "empty_file":
            new = _sibling(rel, f"IM9{j:03d}.dcm")
            (pacs / new).write_bytes(b"")
            rows.append(dict(source=new, kind="zero_byte_file", expected_reason="empty_file", detail="0 bytes"))
        elif kind == "truncated":
            ds = pydicom.dcmread(src)
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid(seed, "corrupt", j)
            ds.InstanceNumber = 900 + j
            buf = io.BytesIO()
            ds.save_as(buf, enforce_file_format=True)
            data = buf.getvalue()
            # Cut inside the pixel data (an interrupted transfer): the header still parses, but the
            # Pixel Data element declares more bytes than the file holds.
            pix_at = data.rfind(b"\xe0\x7f\x10\x00")
            frac = (0.5, 0.97)[(j // len(KINDS)) % 2]
            cut = pix_at + 12 + int((len(data) - pix_at - 12) * frac)
            new = _sibling(rel, f"IM8{j:03d}.dcm")
            (pacs / new).write_bytes(data[:cut])
            phi += dicom_phi(ds, new)
            rows.append(dict(source=new, kind="truncated_in_pixel_data", expected_reason="truncated",
                             detail=f"{cut} of {len(data)} bytes"))
        elif kind == "not_dicom":
            if (j // len(KINDS)) % 2 == 0:
                new = _sibling(rel, f"IM7{j:03d}")
                img = Image.fromarray(rng.integers(0, 255, (32, 32), dtype=np.uint8))
                buf = io.BytesIO()
                img.save(buf, format="PNG")
                (pacs / new).write_bytes(buf.getvalue())
                rows.append(dict(source=new, kind="png_file", expected_reason="not_dicom", detail="PNG image"))
            else:
                new = _sibling(rel, f"export_log_{j:03d}.dcm")
                (pacs / new).write_text("EXPORT LOG\nbatch complete\nfiles: 128\n", encoding="ascii")
                rows.append(dict(source=new, kind="text_file", expected_reason="not_dicom", detail="plain text"))
        elif kind == "no_pixel_data":
            ds = pydicom.dcmread(src)
            del ds.PixelData
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid(seed, "corrupt", j)
            ds.InstanceNumber = 800 + j
            new = _sibling(rel, f"IM6{j:03d}.dcm")
            ds.save_as(pacs / new, enforce_file_format=True)
            phi += dicom_phi(ds, new)
            rows.append(dict(source=new, kind="image_without_pixel_data", expected_reason="no_pixel_data",
                             detail="CT/DX image SOP class, PixelData removed"))
        elif kind == "duplicate_sop_instance":
            name = rel.rsplit("/", 1)[1]
            stem, dot, ext = name.partition(".")
            n = 1
            while (pacs / _sibling(rel, f"{stem}_{n}{dot}{ext}")).exists():
                n += 1
            new = _sibling(rel, f"{stem}_{n}{dot}{ext}")
            (pacs / new).write_bytes(src.read_bytes())
            phi += [dict(r, source=new) for r in phi if r["source"] == rel]
            rows.append(dict(source=new, kind="duplicate_file", expected_reason="duplicate_sop_instance",
                             detail=f"copy of {rel}"))
        elif kind in ("empty_report", "undecodable_text"):
            cand = [r for r in reports if r["accession"] not in used_reports and r["report_text"]
                    and r["accession"] not in planted]
            cand = [r for r in cand if not r["accession"].startswith("CT")] or cand  # keep CT chains
            if not cand:
                continue
            rep = cand[int(rng.integers(len(cand)))]
            used_reports.add(rep["accession"])
            if kind == "empty_report":
                _blank(rep, phi, findings, lesions, meas)
                rows.append(dict(source=rep["accession"], kind="empty_report_text", expected_reason="empty_report",
                                 detail="report_text is empty"))
            else:
                rep["report_text"] += "\nCopy sent to Clinique Saint-Andr\ue000."
                rows.append(dict(source=rep["accession"], kind="latin1_byte", expected_reason="undecodable_text",
                                 detail="one Latin-1 byte (0xE9) in UTF-8 text"))
        else:
            pp = plans[int(rng.integers(len(plans)))]
            acc = f"ZZ{seed % 100:02d}{j:05d}"
            planted.add(acc)
            text = ("EXAM: XR CHEST 1 VIEW\nFINDINGS: Lines and tubes unchanged.\n"
                    "IMPRESSION: No acute change.")
            reports.append(dict(accession=acc, patient_id=pp.patient.patient_id,
                                patient_name=pp.patient.person.last_first,
                                exam_date=pp.studies[-1].date.isoformat(), report_text=text))
            phi += [dict(value=pp.patient.person.last_first, kind="patient_name", where="report",
                         location="patient_name", source=acc),
                    dict(value=pp.patient.patient_id, kind="patient_id", where="report", location="patient_id",
                         source=acc),
                    dict(value=acc, kind="accession", where="report", location="accession", source=acc),
                    dict(value=pp.studies[-1].date.isoformat(), kind="date", where="report", location="exam_date",
                         source=acc)]
            rows.append(dict(source=acc, kind="unknown_accession", expected_reason="unmatched_accession",
                             detail="no study in the DICOM tree has this accession"))
    return rows


def _blank(rep: dict, phi: list[dict], findings: list[dict], lesions: list[dict], meas: list[dict]) -> None:
    """Empty a report's text and make the truth say nothing was asserted, measured or written."""
    acc = rep["accession"]
    rep["report_text"] = ""
    phi[:] = [r for r in phi if not (r["source"] == acc and r["location"] == "report_text")]
    for f in findings:
        if f["accession"] == acc:
            f["assertion"] = "not_mentioned"
    meas[:] = [m for m in meas if m["accession"] != acc]
    for l in lesions:
        if l["accession"] == acc:
            l.update(stated_in_report=False, stated_long_mm=None, stated_short_mm=None,
                     prior_long_mm=None, prior_short_mm=None)
