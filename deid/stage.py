"""The deid stage: PHI-zone manifests in, curated DICOM, tables, audit and reports out.

It reads ``OUT/phi/instances.parquet`` and ``OUT/phi/reports.parquet`` written by ingest (the
``radcurate deid --dicom`` command runs ingest first, from ``dags``: stages never run each other), or a
report extract alone. DICOM files are de-identified in batches (Dask
tasks when a client is given); reports go through
:func:`radcurate.deid.reports.deidentify_reports` with the PHI each patient's DICOM headers hold.
"""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from radcurate.tables import append_quarantine, read_table, write_table

from .config import DeidConfig
from .files import STAGE, deid_batch
from .keys import Keyer

AUDIT_SCHEMA = pa.schema([
    pa.field("instance_key", pa.string(), nullable=False),
    pa.field("path", pa.string()),  # attribute path, e.g. ReferencedImageSequence[0].ReferencedSOPInstanceUID
    pa.field("tag", pa.string()),
    pa.field("keyword", pa.string()),
    pa.field("vr", pa.string()),
    pa.field("action", pa.string()),  # removed, emptied, replaced*, kept, shifted, cleaned, checked, capped, recursed, blanked
    pa.field("rule", pa.string()),  # E.1-1:<action>, option:<name>, private, curve, overlay, unlisted:<VR>, ...
    pa.field("x0", pa.int32()), pa.field("y0", pa.int32()), pa.field("x1", pa.int32()), pa.field("y1", pa.int32()),
])
STUDIES_SCHEMA = pa.schema([
    ("patient_key", pa.string()), ("study_key", pa.string()), ("modality", pa.string()),
    ("body_part", pa.string()), ("study_date", pa.date32()), ("accession_key", pa.string()),
    ("description", pa.string()), ("n_series", pa.int64()), ("n_instances", pa.int64()),
])
SERIES_SCHEMA = pa.schema([
    ("study_key", pa.string()), ("series_key", pa.string()), ("series_number", pa.int64()),
    ("modality", pa.string()), ("description", pa.string()), ("body_part", pa.string()),
    ("n_instances", pa.int64()),
])
INSTANCES_SCHEMA = pa.schema([
    ("series_key", pa.string()), ("instance_key", pa.string()), ("instance_number", pa.int64()),
    ("path", pa.string()), ("rows", pa.int64()), ("columns", pa.int64()), ("number_of_frames", pa.int64()),
    ("pixel_spacing", pa.list_(pa.float64())), ("slice_thickness", pa.float64()),
    ("image_position", pa.list_(pa.float64())), ("slice_position", pa.float64()),
    ("study_key", pa.string()), ("patient_key", pa.string()), ("modality", pa.string()),
    ("transfer_syntax", pa.string()), ("text_regions_blanked", pa.int64()),
])
CROSSWALK_SCHEMA = pa.schema([
    ("source", pa.string()), ("patient_id", pa.string()), ("accession", pa.string()),
    ("study_uid", pa.string()), ("series_uid", pa.string()), ("sop_instance_uid", pa.string()),
    ("patient_key", pa.string()), ("study_key", pa.string()), ("series_key", pa.string()),
    ("instance_key", pa.string()), ("accession_key", pa.string()), ("date_shift_days", pa.int64()),
])


@dataclass
class DeidSummary:
    """Counts that reconcile: ``files_in == instances + files_quarantined`` and
    ``reports_in == reports + reports_quarantined``."""

    files_in: int = 0
    instances: int = 0
    files_quarantined: int = 0
    studies: int = 0
    series: int = 0
    patients: int = 0
    files_with_text: int = 0
    text_regions_blanked: int = 0
    reports_in: int = 0
    reports: int = 0
    reports_quarantined: int = 0
    annotations_in: int = 0  # presentation states and SR documents
    annotations: int = 0
    annotations_quarantined: int = 0
    quarantine_by_reason: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    seconds: float = 0.0
    files_per_second: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _batches(files: list[tuple[str, str]], size: int, workers: int) -> list[list[tuple[str, str]]]:
    """Batches of at most ``size`` files, at least one per worker when there are enough files."""
    if not files:
        return []
    n = max(1, min(size, -(-len(files) // max(1, workers))))
    return [files[i:i + n] for i in range(0, len(files), n)]


def _run_batches(batches, out_root: str, keyer: Keyer, config: DeidConfig, client) -> list[dict]:
    if client is None:
        return [r for b in batches for r in deid_batch(b, out_root, keyer, config)]
    futures = client.map(deid_batch, batches, out_root=out_root, keyer=keyer, config=config, pure=False)
    return [r for rs in client.gather(futures) for r in rs]


def _header_phi(results: list[dict]):
    """KnownPHI per original patient ID, merged over that patient's files (in memory only)."""
    from .text_scrub import KnownPHI

    acc: dict[str, list[list]] = defaultdict(lambda: [[], [], [], [], []])
    for r in results:
        if "known" not in r:
            continue
        pid, *parts = r["known"]  # names, ids, dates, other, birth dates
        if not pid:
            continue
        slot = acc[pid]
        for i, vals in enumerate(parts):
            for v in vals:
                if v not in slot[i]:
                    slot[i].append(v)
    return {pid: KnownPHI(names=s[0], ids=s[1], dates=s[2], other=s[3], birth_dates=s[4])
            for pid, s in acc.items()}


def _first(series: pd.Series):
    s = series.dropna()
    return s.iloc[0] if len(s) else None


def curated_tables(rows: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """studies, series, instances tables from the per-file rows (keys and cleaned values only)."""
    inst = pd.DataFrame(rows)
    if inst.empty:
        return (pd.DataFrame(columns=STUDIES_SCHEMA.names), pd.DataFrame(columns=SERIES_SCHEMA.names),
                pd.DataFrame(columns=INSTANCES_SCHEMA.names))
    inst = inst.sort_values(["study_key", "series_key", "instance_number", "instance_key"], na_position="last")
    series = inst.groupby("series_key", sort=True).agg(
        study_key=("study_key", "first"), series_number=("series_number", _first), modality=("modality", _first),
        description=("series_description", _first), body_part=("body_part", _first),
        n_instances=("instance_key", "size")).reset_index()
    studies = inst.groupby("study_key", sort=True).agg(
        patient_key=("patient_key", "first"), modality=("modality", _first), body_part=("body_part", _first),
        study_date=("study_date", _first), accession_key=("accession_key", _first),
        description=("study_description", _first), n_series=("series_key", "nunique"),
        n_instances=("instance_key", "size")).reset_index()
    return (studies[STUDIES_SCHEMA.names], series[SERIES_SCHEMA.names], inst[INSTANCES_SCHEMA.names])


def _read_reports_extract(path: str | os.PathLike) -> pd.DataFrame:
    p = Path(path)
    if p.suffix.lower() == ".parquet":
        return read_table(p)
    return pd.read_csv(p, dtype=str, keep_default_na=False)


def run_deid(out_dir: str | os.PathLike, *, reports_file: str | os.PathLike | None = None,
             include_reports: bool = True, client: Any = None,
             config: DeidConfig = DeidConfig()) -> DeidSummary:
    """De-identify a PACS export's DICOM and reports into ``OUT/curated``.

    Without ``reports_file`` it reads ingest's manifests under ``OUT/phi`` (the reports manifest
    only when ``include_reports``). With ``reports_file`` it de-identifies that extract alone, each
    report with the PHI its own row carries.
    """
    started = time.perf_counter()
    if config.text_detector == "tesseract":
        from .textdetect import tesseract_available

        if not tesseract_available():
            raise ValueError("text detector 'tesseract' needs the tesseract binary and pytesseract (the ocr "
                             "extra: pip install 'radcurate[ocr]'); use 'numpy' (default) or 'auto'")
    out = Path(out_dir)
    curated = out / "curated"
    keyer = Keyer.from_secret_file(config.secret_file)
    phi = out / "phi"
    reports_df: pd.DataFrame | None = None
    files: list[tuple[str, str]] = []
    if reports_file is None and (phi / "instances.parquet").exists():
        inst = read_table(phi / "instances.parquet", columns=["path", "relpath"])
        files = list(zip(inst["path"], inst["relpath"]))
        if (phi / "reports.parquet").exists() and include_reports:
            reports_df = read_table(phi / "reports.parquet")
    elif reports_file is not None:
        reports_df = _read_reports_extract(reports_file)
    elif not (phi / "reports.parquet").exists() or not include_reports:
        raise FileNotFoundError(f"no input: give dicom_dir/reports_file or run ingest into {out} first")
    else:
        reports_df = read_table(phi / "reports.parquet")

    workers = len(getattr(client, "scheduler_info", lambda: {"workers": {0: 0}})()["workers"]) if client else 1
    batches = _batches(files, config.batch_size, workers)
    results = _run_batches(batches, str(curated), keyer, config, client)

    rows = [r["instance"] for r in results if "instance" in r]
    quarantine = [r["quarantine"] for r in results if "quarantine" in r]
    audit = [a for r in results for a in r.get("audit", ())]
    studies, series, instances = curated_tables(rows)
    if files:
        write_table(studies, curated / "studies.parquet", STUDIES_SCHEMA)
        write_table(series, curated / "series.parquet", SERIES_SCHEMA)
        write_table(instances, curated / "instances.parquet", INSTANCES_SCHEMA)
        audit_df = pd.DataFrame(audit, columns=AUDIT_SCHEMA.names)
        for c in ("x0", "y0", "x1", "y1"):
            audit_df[c] = audit_df[c].astype("Int32")
        write_table(audit_df, curated / "deid_audit.parquet", AUDIT_SCHEMA)
    if config.crosswalk and files:
        write_table(pd.DataFrame([r["crosswalk"] for r in results if "crosswalk" in r],
                                 columns=CROSSWALK_SCHEMA.names), phi / "crosswalk.parquet", CROSSWALK_SCHEMA)

    reports_in = reports_out = 0
    report_quarantine: list[dict] = []
    if reports_df is not None:
        from .reports import deidentify_reports

        reports_in = len(reports_df)
        from .reports import ReportDeidConfig
        from .text_scrub import ScrubConfig

        cleaned, report_quarantine = deidentify_reports(
            reports_df, keyer, header_phi=_header_phi(results) or None, keep_columns=config.keep_columns,
            config=ReportDeidConfig(scrub=ScrubConfig(style=config.surrogates)))
        reports_out = len(cleaned)
        write_table(cleaned, curated / "reports.parquet")
    from .annotations import run_annotation_deid  # presentation states and SR: same keyer, same shifts

    # A handful of small files per study: in this process (a cluster's scheduler may predate the module).
    annotations_in, annotations_out, ann_quarantine = run_annotation_deid(out, keyer, config)
    append_quarantine(out / "quarantine.parquet", STAGE, quarantine + list(report_quarantine) + ann_quarantine)

    seconds = time.perf_counter() - started
    return DeidSummary(
        files_in=len(files), instances=len(rows), files_quarantined=len(quarantine),
        studies=len(studies), series=len(series),
        patients=int(studies["patient_key"].nunique()) if len(studies) else 0,
        files_with_text=sum(1 for r in rows if r["text_regions_blanked"]),
        text_regions_blanked=sum(r["text_regions_blanked"] for r in rows),
        reports_in=reports_in, reports=reports_out, reports_quarantined=len(report_quarantine),
        annotations_in=annotations_in, annotations=annotations_out, annotations_quarantined=len(ann_quarantine),
        quarantine_by_reason=dict(sorted(Counter(
            q["reason"] for q in quarantine + list(report_quarantine) + ann_quarantine).items())),
        batches=len(batches), seconds=round(seconds, 3),
        files_per_second=round(len(files) / seconds, 2) if files and seconds > 0 else 0.0,
    )
