"""The deid stage: PHI-zone manifests in, curated DICOM, tables, audit and reports out.

It reads ``OUT/phi/instances.parquet`` and ``OUT/phi/reports.parquet`` written by ingest (the
``radcurate deid --dicom`` command runs ingest first, from ``dags``: stages never run each other), or a
report extract alone. DICOM files are de-identified in slices of ingest's manifest parts (Dask
tasks when a client is given), each task writing its own part of ``curated/instances.parquet``,
``curated/deid_audit.parquet`` and the crosswalk: the driver merges only quarantine rows,
per-series roll-ups and per-patient header PHI, so its memory does not grow with the images.
Reports go through
:func:`radcurate.deid.reports.deidentify_reports` with the PHI each patient's DICOM headers hold.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

import pyarrow.parquet as pq

from radcurate.cluster import run_tasks, worker_count
from radcurate.tables import (append_quarantine, commit_table, read_table, staging_folder, table_parts, table_rows,
                              write_part, write_table)

from .config import NAME, DeidConfig
from .files import deid_batch
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
REPORT_FIELDS = {  # declared so keys are plain `string` (joinable with studies) and self-described
    "report_key": (pa.string(), "report pseudonym"),
    "study_key": (pa.string(), "pseudonym of the imaging study the report describes"),
    "patient_key": (pa.string(), "patient pseudonym"),
    "study_date": (pa.date32(), "study date, shifted per patient"),
    "text": (pa.string(), "report text with PHI removed or replaced"),
}


def reports_schema(df: pd.DataFrame) -> pa.Schema:
    """Schema of ``curated/reports.parquet``: the declared fields; kept columns as inferred (large
    strings made plain strings)."""
    inferred = pa.Schema.from_pandas(df, preserve_index=False)
    fields = []
    for f in inferred:
        kind, doc = REPORT_FIELDS.get(f.name, (f.type, "column kept from the RIS extract (--keep-column)"))
        kind = pa.string() if kind == pa.large_string() else kind
        fields.append(pa.field(f.name, kind, metadata={"description": doc}))
    return pa.schema(fields)


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


SERIES_VALUES = ("series_number", "modality", "series_description", "body_part")  # first non-null per series
STUDY_VALUES = ("modality", "body_part", "study_date", "accession_key", "study_description")  # ... per study
_VALUES = tuple(dict.fromkeys(SERIES_VALUES + STUDY_VALUES))
_ORDER = ["study_key", "series_key", "instance_number", "instance_key"]


def plan_tasks(instances_table: Path, batch_size: int, workers: int) -> list[tuple[str, int, int]]:
    """``(part file, first row, end row)`` slices of ingest's ``phi/instances`` parts: at most
    ``batch_size`` rows, and at least one slice per worker when there are enough files. Only
    the part footers are read here."""
    parts = [(str(p), pq.read_metadata(p).num_rows) for p in table_parts(instances_table)]
    total = sum(n for _, n in parts)
    if not total:
        return []
    size = max(1, min(batch_size, -(-total // max(1, workers))))
    return [(p, i, min(i + size, n)) for p, n in parts for i in range(0, n, size)]


def deid_part(index: int, task: tuple[str, int, int], out_root: str, folders: dict[str, str], keyer: Keyer,
              config: DeidConfig) -> dict[str, Any]:
    """De-identify one slice of ingest's manifest and write its parts of ``instances``,
    ``deid_audit`` (and the crosswalk); return only what the driver merges: quarantine rows,
    per-series roll-ups, the header PHI per patient (for report scrubbing, in memory) and counts."""
    part, start, stop = task
    files = pq.read_table(part, columns=["path", "relpath"]).slice(start, stop - start).to_pylist()
    results = deid_batch([(f["path"], f["relpath"]) for f in files], out_root, keyer, config)
    rows = [r["instance"] for r in results if "instance" in r]
    inst = pd.DataFrame(rows, columns=list(INSTANCES_SCHEMA.names) + [c for c in _VALUES if c not in INSTANCES_SCHEMA.names])
    inst = inst.sort_values(_ORDER, na_position="last", kind="stable")
    write_part(pa.Table.from_pandas(inst[INSTANCES_SCHEMA.names], schema=INSTANCES_SCHEMA, preserve_index=False),
               folders["instances"], index)
    audit = pd.DataFrame([a for r in results for a in r.get("audit", ())], columns=AUDIT_SCHEMA.names)
    for c in ("x0", "y0", "x1", "y1"):
        audit[c] = audit[c].astype("Int32")
    write_part(pa.Table.from_pandas(audit, schema=AUDIT_SCHEMA, preserve_index=False), folders["deid_audit"], index)
    if "crosswalk" in folders:
        crosswalk = pd.DataFrame([r["crosswalk"] for r in results if "crosswalk" in r], columns=CROSSWALK_SCHEMA.names)
        write_part(pa.Table.from_pandas(crosswalk, schema=CROSSWALK_SCHEMA, preserve_index=False),
                   folders["crosswalk"], index)
    return {"quarantine": [r["quarantine"] for r in results if "quarantine" in r],
            # Arrow, not pandas: hundreds of small DataFrames held on the driver cost far more than their rows
            "rollup": _rollup_table(series_rollup(inst)),
            "known": _header_known(results),
            "files": len(files), "instances": len(inst),
            "files_with_text": int((inst["text_regions_blanked"] > 0).sum()),
            "text_regions_blanked": int(inst["text_regions_blanked"].sum())}


def _header_known(results: list[dict]) -> dict[str, list[list]]:
    """Per original patient ID: names, ids, dates, other, birth dates from its files' headers."""
    acc: dict[str, list[list]] = {}
    for r in results:
        if "known" not in r:
            continue
        pid, *parts = r["known"]
        if pid:
            _merge_known(acc.setdefault(pid, [[], [], [], [], []]), parts)
    return acc


def _merge_known(slot: list[list], parts) -> None:
    for i, vals in enumerate(parts):
        for v in vals:
            if v not in slot[i]:
                slot[i].append(v)


def _header_phi(known_parts: list[dict[str, list[list]]]):
    """KnownPHI per original patient ID, merged over that patient's files (in memory only)."""
    from .text_scrub import KnownPHI

    acc: dict[str, list[list]] = {}
    for known in known_parts:
        for pid, parts in known.items():
            _merge_known(acc.setdefault(pid, [[], [], [], [], []]), parts)
    return {pid: KnownPHI(names=s[0], ids=s[1], dates=s[2], other=s[3], birth_dates=s[4])
            for pid, s in acc.items()}


def series_rollup(inst: pd.DataFrame) -> pd.DataFrame:
    """One row per (study, series) of these instances: keys, count, and for each value column its
    first non-null value with that row's (instance_number, instance_key), so roll-ups of one
    series from several tasks merge to what one pass over all its instances gives. (A series UID
    reused across studies, as in some real exports, stays counted in each study.)"""
    keys = ["study_key", "series_key"]
    inst = inst.sort_values(_ORDER, na_position="last", kind="stable")
    base = inst.groupby(keys, sort=True).agg(patient_key=("patient_key", "first"),
                                             n_instances=("instance_key", "size")).reset_index()
    for col in _VALUES:
        first = inst[inst[col].notna()].drop_duplicates(keys)[[*keys, col, "instance_number", "instance_key"]]
        first = first.rename(columns={"instance_number": f"{col}__n", "instance_key": f"{col}__k"})
        base = base.merge(first, on=keys, how="left")
    return base


_VALUE_TYPES = {"series_number": pa.float64(), "study_date": pa.date32()}  # the rest are strings
ROLLUP_SCHEMA = pa.schema(
    [("study_key", pa.string()), ("series_key", pa.string()), ("patient_key", pa.string()), ("n_instances", pa.int64())]
    + [f for col in _VALUES for f in (pa.field(col, _VALUE_TYPES.get(col, pa.string())),
                                      pa.field(f"{col}__n", pa.float64()), pa.field(f"{col}__k", pa.string()))])


def _rollup_table(rollup: pd.DataFrame) -> pa.Table:
    """A task's roll-up as Arrow of one fixed schema (an all-null column of one task must not
    take another type than the same column of the next)."""
    rollup = rollup.astype({f"{c}__n": "float64" for c in _VALUES} | {"series_number": "float64"})
    return pa.Table.from_pandas(rollup[ROLLUP_SCHEMA.names], schema=ROLLUP_SCHEMA, preserve_index=False)


def merge_rollups(parts: list[pa.Table | pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``studies`` and ``series`` tables from the tasks' roll-ups: the first non-null value in
    (study, series, instance number, instance key) order, as one pass over every row gives."""
    parts = [p if isinstance(p, pa.Table) else _rollup_table(p) for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=STUDIES_SCHEMA.names), pd.DataFrame(columns=SERIES_SCHEMA.names)
    roll = pa.concat_tables(parts).to_pandas().sort_values(["study_key", "series_key"], kind="stable")
    series = roll.groupby("series_key", sort=True).agg(study_key=("study_key", "first"),
                                                       n_instances=("n_instances", "sum")).reset_index()
    studies = roll.groupby("study_key", sort=True).agg(
        patient_key=("patient_key", "first"), n_series=("series_key", "nunique"),
        n_instances=("n_instances", "sum")).reset_index()
    for col in SERIES_VALUES:
        first = (roll[roll[col].notna()].sort_values(["study_key", f"{col}__n", f"{col}__k"], na_position="last",
                                                     kind="stable")
                 .drop_duplicates("series_key")[["series_key", col]])
        series = series.merge(first, on="series_key", how="left")
    for col in STUDY_VALUES:
        first = (roll[roll[col].notna()].sort_values(["series_key", f"{col}__n", f"{col}__k"], na_position="last",
                                                     kind="stable")
                 .drop_duplicates("study_key")[["study_key", col]])
        studies = studies.merge(first, on="study_key", how="left")
    series = series.rename(columns={"series_description": "description"})
    studies = studies.rename(columns={"study_description": "description"})
    return studies[STUDIES_SCHEMA.names], series[SERIES_SCHEMA.names]


def _read_reports_extract(path: str | os.PathLike, keep_columns=()) -> tuple[pd.DataFrame, list[dict], int]:
    from .reports import read_reports_extract

    return read_reports_extract(path, keep_columns)


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
    from .keys import check_secret_outside

    check_secret_outside(config.secret_file, out)
    keyer = Keyer.from_secret_file(config.secret_file)
    phi = out / "phi"
    reports_df: pd.DataFrame | None = None
    read_quarantine: list[dict] = []
    files_in = 0
    tasks: list[tuple[str, int, int]] = []
    if reports_file is None and (phi / "instances.parquet").exists():
        tasks = plan_tasks(phi / "instances.parquet", config.batch_size, worker_count(client))
        files_in = table_rows(phi / "instances.parquet")
        if (phi / "reports.parquet").exists() and include_reports:
            reports_df = read_table(phi / "reports.parquet")
    elif reports_file is not None:
        reports_df, read_quarantine, _ = _read_reports_extract(reports_file, config.keep_columns)
    elif not (phi / "reports.parquet").exists() or not include_reports:
        raise FileNotFoundError(f"no input: give dicom_dir/reports_file or run ingest into {out} first")
    else:
        reports_df = read_table(phi / "reports.parquet")

    dicom_input = reports_file is None and (phi / "instances.parquet").exists()
    names = {"instances": curated / "instances.parquet", "deid_audit": curated / "deid_audit.parquet"}
    if config.crosswalk:
        names["crosswalk"] = phi / "crosswalk.parquet"
    folders = {name: staging_folder(path) for name, path in names.items()} if dicom_input else {}
    try:
        done = run_tasks(deid_part, range(len(tasks)), tasks, client=client, name="deid: batch",
                         out_root=str(curated), folders={k: str(v) for k, v in folders.items()},
                         keyer=keyer, config=config)
        schemas = {"instances": INSTANCES_SCHEMA, "deid_audit": AUDIT_SCHEMA, "crosswalk": CROSSWALK_SCHEMA}
        for name, folder in folders.items():
            commit_table(folder, names[name], schemas[name])
    except BaseException:
        for folder in folders.values():
            shutil.rmtree(folder, ignore_errors=True)
        raise
    quarantine = [q for d in done for q in d["quarantine"]]
    studies, series = merge_rollups([d["rollup"] for d in done])
    n_instances = sum(d["instances"] for d in done)
    if dicom_input:
        write_table(studies, curated / "studies.parquet", STUDIES_SCHEMA)
        write_table(series, curated / "series.parquet", SERIES_SCHEMA)

    reports_in = reports_out = 0
    report_quarantine: list[dict] = []
    if reports_df is not None:
        from .reports import deidentify_reports

        reports_in = len(reports_df) + len(read_quarantine)
        from .reports import ReportDeidConfig
        from .text_scrub import ScrubConfig

        cleaned, report_quarantine = deidentify_reports(
            reports_df, keyer, header_phi=_header_phi([d["known"] for d in done]) or None, keep_columns=config.keep_columns,
            config=ReportDeidConfig(scrub=ScrubConfig(style=config.surrogates)))
        reports_out = len(cleaned)
        report_quarantine = list(read_quarantine) + list(report_quarantine)
        write_table(cleaned, curated / "reports.parquet", reports_schema(cleaned))
    from .annotations import run_annotation_deid  # presentation states and SR: same keyer, same shifts

    # A handful of small files per study: in this process (a cluster's scheduler may predate the module).
    annotations_in, annotations_out, ann_quarantine = run_annotation_deid(out, keyer, config)
    append_quarantine(out / "quarantine.parquet", NAME, quarantine + list(report_quarantine) + ann_quarantine)

    seconds = time.perf_counter() - started
    return DeidSummary(
        files_in=files_in, instances=n_instances, files_quarantined=len(quarantine),
        studies=len(studies), series=len(series),
        patients=int(studies["patient_key"].nunique()) if len(studies) else 0,
        files_with_text=sum(d["files_with_text"] for d in done),
        text_regions_blanked=sum(d["text_regions_blanked"] for d in done),
        reports_in=reports_in, reports=reports_out, reports_quarantined=len(report_quarantine),
        annotations_in=annotations_in, annotations=annotations_out, annotations_quarantined=len(ann_quarantine),
        quarantine_by_reason=dict(sorted(Counter(
            q["reason"] for q in quarantine + list(report_quarantine) + ann_quarantine).items())),
        batches=len(tasks), seconds=round(seconds, 3),
        files_per_second=round(files_in / seconds, 2) if files_in and seconds > 0 else 0.0,
    )
