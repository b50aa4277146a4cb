"""The synthetic PACS export: DICOM tree, RIS report extract and ground truth, from one seed."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import shutil
from pathlib import Path

import pyarrow as pa
from pydicom.fileset import FileSet

from radcurate.tables import write_table

from .annotations import ANNOTATION_SCHEMA, AnnotationOutput, write_annotations
from .config import ExportConfig
from .corrupt import add_corruptions
from .dicom_writer import Written, write_patient
from .plan import PatientPlan, ct_responses, plan_export, uid
from .reports import CHEXPERT, CXR14, present_findings, write_report

TRUTH_SCHEMAS = {
    "studies": pa.schema([("patient_id", pa.string()), ("patient_name", pa.string()),
                          ("birth_date", pa.date32()), ("accession", pa.string()), ("study_uid", pa.string()),
                          ("study_date", pa.date32()), ("modality", pa.string()), ("timepoint", pa.int32()),
                          ("n_instances", pa.int32())]),
    "findings": pa.schema([("accession", pa.string()), ("finding", pa.string()), ("present", pa.bool_()),
                           ("assertion", pa.string()), ("chexpert", pa.string())]),
    "lesions": pa.schema([("patient_id", pa.string()), ("accession", pa.string()), ("lesion_id", pa.string()),
                          ("lesion_label", pa.string()), ("finding", pa.string()), ("kind", pa.string()),
                          ("location", pa.string()), ("long_axis_mm", pa.float64()), ("short_axis_mm", pa.float64()),
                          ("craniocaudal_mm", pa.float64()),
                          ("center_x_mm", pa.float64()), ("center_y_mm", pa.float64()), ("center_z_mm", pa.float64()),
                          ("series_number", pa.int32()), ("instance_number", pa.int32()),
                          ("stated_in_report", pa.bool_()), ("stated_long_mm", pa.float64()),
                          ("stated_short_mm", pa.float64()), ("prior_long_mm", pa.float64()),
                          ("prior_short_mm", pa.float64())]),
    "measurements": pa.schema([("accession", pa.string()), ("kind", pa.string()), ("long_axis_mm", pa.float64()),
                               ("short_axis_mm", pa.float64()), ("third_axis_mm", pa.float64()),
                               ("timepoint", pa.string()), ("series", pa.int32()), ("image", pa.int32()),
                               ("lesion_label", pa.string()), ("text", pa.string())]),
    "recist": pa.schema([("patient_id", pa.string()), ("accession", pa.string()), ("timepoint", pa.int32()),
                         ("sum_mm", pa.float64()), ("nadir_mm", pa.float64()), ("response", pa.string())]),
    "phi": pa.schema([("value", pa.string()), ("kind", pa.string()), ("where", pa.string()),
                      ("location", pa.string()), ("source", pa.string())]),
    "burned_in": pa.schema([("path", pa.string()), ("x0", pa.int32()), ("y0", pa.int32()), ("x1", pa.int32()),
                            ("y1", pa.int32()), ("text", pa.string()), ("flag", pa.string())]),
    "corrupt": pa.schema([("source", pa.string()), ("kind", pa.string()), ("expected_reason", pa.string()),
                          ("detail", pa.string())]),
}


def _table(rows: list[dict], name: str) -> pa.Table:
    schema = TRUTH_SCHEMAS[name]
    return pa.table({f.name: [r.get(f.name) for r in rows] for f in schema}, schema=schema)


def _as_cd_import(pp: PatientPlan, seed: int, pacs: Path, staged: str, w: Written,
                  ann: AnnotationOutput | None = None) -> None:
    """Move a patient's staged files into a DICOM File-set (DICOMDIR) as a CD import would hold it."""
    fs = FileSet()
    fs.ID = f"CD{pp.index:04d}"
    fs.UID = uid(seed, "fileset", pp.index)
    extra = ann.files if ann is not None else []
    for rel, _, _ in w.files + extra:
        fs.add(pacs / rel)
    dest = pacs / f"CD_IMPORT_{pp.index:03d}"
    fs.write(dest)
    written = FileSet(dest / "DICOMDIR")  # re-read: the in-memory set's records are not reliable here
    by_sop = {inst.SOPInstanceUID: Path(inst.path).relative_to(pacs).as_posix() for inst in written}
    mapping = {rel: by_sop[sop] for rel, _, sop in w.files + extra}
    shutil.rmtree(pacs / staged)
    w.files = [(mapping[r], a, s) for r, a, s in w.files]
    for row in w.phi:
        row["source"] = mapping.get(row["source"], row["source"])
    if ann is not None:
        ann.files = [(mapping[r], a, s) for r, a, s in ann.files]
        for row in ann.phi:
            row["source"] = mapping.get(row["source"], row["source"])
        for row in ann.rows:
            row["path"] = mapping.get(row["path"], row["path"])
    for row in w.burned:
        row["path"] = mapping.get(row["path"], row["path"])


def _reported(pp: PatientPlan, seed: int, w: Written) -> dict[str, set[str]]:
    """Lesion ids each CT report states with a series/image reference (reports are re-derived from
    the plan: writing them is deterministic and cheap)."""
    out: dict[str, set[str]] = {}
    prior_rows: dict = {}
    for si, sp in enumerate(pp.studies):
        rep = write_report(pp, si, seed, w.series, prior_rows)
        if sp.modality == "CT":
            prior_rows = {r["lesion_id"]: r for r in rep.lesions}
            out[sp.accession] = {r["lesion_id"] for r in rep.lesions if r.get("series_number") is not None}
    return out


def _reports_csv(rows: list[dict]) -> bytes:
    buf = io.StringIO()
    wr = csv.writer(buf, lineterminator="\n")
    wr.writerow(["accession", "patient_id", "patient_name", "exam_date", "report_text"])
    for r in rows:
        wr.writerow([r["accession"], r["patient_id"], r["patient_name"], r["exam_date"], r["report_text"]])
    data = buf.getvalue().encode("utf-8")
    # Rows marked undecodable carry Latin-1 bytes, as a mis-configured RIS interface sends them.
    return data.replace("\ue000".encode("utf-8"), b"\xe9")


def generate_export(out: str | Path, patients: int, seed: int, corrupt: int = 0,
                    config: ExportConfig = ExportConfig()) -> Path:
    """Write ``out/pacs``, ``out/ris/reports.csv`` and ``out/truth/*.parquet``; return ``out``.

    The same arguments give byte-identical files. Existing ``pacs``/``ris``/``truth`` under ``out``
    are replaced.
    """
    out = Path(out).resolve()  # absolute: file paths are made relative to it below
    pacs, ris, truth = out / "pacs", out / "ris", out / "truth"
    for d in (pacs, ris, truth):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    plans = plan_export(seed, patients, config)
    studies, findings, lesions, meas, recist, phi, burned, reports = [], [], [], [], [], [], [], []
    annotations: list[dict] = []
    files: list[tuple[str, str, str]] = []
    for pp in plans:
        staged = f"_staging_{pp.index:03d}" if pp.cd_import else pp.patient.patient_id
        w = write_patient(pp, seed, config, pacs, staged)
        ann = None
        if config.annotations:
            ann = write_annotations(pp, seed, config, pacs, staged, w.series, w.files, _reported(pp, seed, w))
            annotations += ann.rows
            phi += ann.phi
        if pp.cd_import:
            _as_cd_import(pp, seed, pacs, staged, w, ann)
        files += w.files
        phi += w.phi
        burned += w.burned
        prior_rows: dict = {}
        counts: dict[str, int] = {}
        for rel, acc, _ in w.files:
            counts[acc] = counts.get(acc, 0) + 1
        p = pp.patient
        for si, sp in enumerate(pp.studies):
            rep = write_report(pp, si, seed, w.series, prior_rows)
            if sp.modality == "CT":
                prior_rows = {r["lesion_id"]: r for r in rep.lesions}
            present = present_findings(sp)
            findings += [dict(accession=sp.accession, finding=f, present=present[f],
                              assertion=rep.assertions[f], chexpert=CHEXPERT[f]) for f in CXR14]
            lesions += rep.lesions
            meas += rep.measurements
            phi += rep.phi
            reports.append(dict(accession=sp.accession, patient_id=p.patient_id, patient_name=p.person.last_first,
                                exam_date=sp.date.isoformat(), report_text=rep.text))
            phi += [dict(value=p.person.last_first, kind="patient_name", where="report", location="patient_name",
                         source=sp.accession),
                    dict(value=p.patient_id, kind="patient_id", where="report", location="patient_id", source=sp.accession),
                    dict(value=sp.accession, kind="accession", where="report", location="accession", source=sp.accession),
                    dict(value=sp.date.isoformat(), kind="date", where="report", location="exam_date", source=sp.accession)]
            studies.append(dict(patient_id=p.patient_id, patient_name=p.person.dicom_name, birth_date=p.birth_date,
                                accession=sp.accession, study_uid=sp.study_uid, study_date=sp.date,
                                modality=sp.modality, timepoint=sp.timepoint, n_instances=counts.get(sp.accession, 0)))
        for s, r in ct_responses(pp):
            recist.append(dict(patient_id=p.patient_id, accession=s.accession, timepoint=r.timepoint,
                               sum_mm=r.sum_mm, nadir_mm=r.nadir_mm, response=r.response))
    corrupt_rows = add_corruptions(corrupt, seed, pacs, files, reports, plans, config, phi, findings, lesions, meas)
    (ris / "reports.csv").write_bytes(_reports_csv(reports))
    params = dict(seed=seed, patients=patients, corrupt=corrupt, config=dataclasses.asdict(config))
    (truth / "export.json").write_text(json.dumps(params, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    for name, rows in (("studies", studies), ("findings", findings), ("lesions", lesions),
                       ("measurements", meas), ("recist", recist), ("phi", phi), ("burned_in", burned),
                       ("corrupt", corrupt_rows)):
        write_table(_table(rows, name), truth / f"{name}.parquet")
    if config.annotations:
        schema = ANNOTATION_SCHEMA
        write_table(pa.table({f.name: [r.get(f.name) for r in annotations] for f in schema}, schema=schema),
                    truth / "annotations.parquet")
    return out
