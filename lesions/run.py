"""The lesions stage: curated annotation objects + report measurements -> ``curated/lesions.parquet``.

Reads only the curated zone (de-identified GSPS/SR objects, their image references, the curated
images' geometry and pixels, the mined measurements) and writes the lesion table, the RECIST table
computed from annotation diameters (``curated/recist_images.parquet``) and a quarantine row for
every cross whose image is not in the dataset. Crosses in = lesion rows from annotations +
quarantined crosses.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pydicom

from radcurate.modality_lut import modality_values
from radcurate.tables import append_quarantine, read_table, write_table

from .config import NAME, LesionsConfig
from .masks import box_of, ellipse_mask, grabcut_mask, window
from .read import read_crosses
from .recist import RECIST_IMAGES_SCHEMA, recist_from_annotations
from .table import LESIONS_SCHEMA, LinkConfig, axis_mm, lesion_key, link, to_table


def slice_hu(path: Path) -> np.ndarray:
    """The stored slice in modality units (HU for CT)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
        return modality_values(ds.pixel_array, ds)


def _current_measurements(curated: Path) -> pd.DataFrame:
    cols = ["report_key", "finding", "location", "long_axis_mm", "short_axis_mm", "timepoint", "kind", "series",
            "image", "lesion_label", "section", "sentence_index", "char_start", "char_end"]
    path = curated / "measurements.parquet"
    if not path.exists():
        return pd.DataFrame(columns=cols + ["study_key", "patient_key"])
    m = read_table(path)
    m = m[m["kind"].isin(["lesion", "lymph_node"]) & (m["timepoint"] == "current")]
    m = m[~m["section"].isin(["history", "comparison", "technique", "examination"])]  # not this study's sizes
    reports = read_table(curated / "reports.parquet", columns=["report_key", "study_key", "patient_key"])
    return m.merge(reports, on="report_key", how="inner")


def run_lesions(out_dir: str | os.PathLike, config: LesionsConfig = LesionsConfig()) -> dict[str, Any]:
    """Build ``curated/lesions.parquet`` and ``curated/recist_images.parquet``; returns counts."""
    out = Path(out_dir)
    curated = out / "curated"
    if (curated / "annotations.parquet").exists():
        ann = read_table(curated / "annotations.parquet")
        refs = read_table(curated / "annotation_references.parquet")
    else:
        ann, refs = pd.DataFrame(columns=["annotation_key", "kind", "path"]), pd.DataFrame(
            columns=["annotation_key", "referenced_uid", "instance_key"])
    inst = read_table(curated / "instances.parquet", columns=["instance_key", "series_key", "study_key", "patient_key",
                                                              "instance_number", "rows", "columns", "pixel_spacing",
                                                              "path"])
    series = read_table(curated / "series.parquet", columns=["series_key", "series_number"])
    inst = inst.merge(series, on="series_key", how="left").set_index("instance_key")
    ref_map = {(a, u): k for a, u, k in refs[["annotation_key", "referenced_uid", "instance_key"]].itertuples(index=False)}

    rows: list[dict] = []
    quarantine: list[dict] = []
    crosses_in = 0
    for a in ann.itertuples(index=False):
        try:
            crosses = read_crosses(str(curated / a.path), a.kind)
        except Exception as exc:
            quarantine.append({"source": a.annotation_key, "reason": "unreadable_annotation",
                               "detail": f"{a.kind} content is not a readable measurement object "
                                         f"({type(exc).__name__})"})
            continue
        for i, c in enumerate(crosses):
            crosses_in += 1
            key = ref_map.get((a.annotation_key, c.referenced_uid))
            if key is None or key not in inst.index:
                quarantine.append({"source": f"{a.annotation_key}#{i}", "reason": "unresolved_reference",
                                   "detail": f"{a.kind} cross references an image that is not in the curated dataset"})
                continue
            im = inst.loc[key]
            spacing = list(im["pixel_spacing"]) if im["pixel_spacing"] is not None else None
            short = c.short
            row = {"lesion_key": lesion_key(a.annotation_key, i), "patient_key": im["patient_key"],
                   "study_key": im["study_key"], "series_key": im["series_key"], "instance_key": key,
                   "series_number": _int(im["series_number"]), "instance_number": _int(im["instance_number"]),
                   "source": a.kind, "annotation_key": a.annotation_key, "annotation_label": c.label,
                   "long_x0": c.long[0, 0], "long_y0": c.long[0, 1], "long_x1": c.long[1, 0], "long_y1": c.long[1, 1],
                   "long_axis_mm": _round(axis_mm(c.long, spacing)), "short_axis_mm": _round(axis_mm(short, spacing)),
                   "_long": c.long, "_short": short, "_rows": int(im["rows"]), "_cols": int(im["columns"]),
                   "_path": im["path"]}
            if short is not None:
                row.update(short_x0=short[0, 0], short_y0=short[0, 1], short_x1=short[1, 0], short_y1=short[1, 1])
            if a.kind == "SR":
                row.update(finding=c.finding, location=c.location)
            rows.append(row)
    _add_masks(rows, curated, config)
    _flag_blanked(rows, curated)
    for r in rows:
        for k in [k for k in r if k.startswith("_")]:
            del r[k]
    measurements = _current_measurements(curated)
    sr_fields = {r["lesion_key"]: (r.pop("finding", None), r.pop("location", None)) for r in rows}
    rows = link(rows, measurements, LinkConfig(size_scale_mm=config.size_scale_mm))
    for r in rows:  # an SR's coded finding and site fill what no report measurement gave
        f, loc = sr_fields.get(r["lesion_key"], (None, None))
        if r.get("finding") is None:
            r["finding"] = f
        if r.get("location") is None:
            r["location"] = loc
    table = to_table(rows)
    write_table(table, curated / "lesions.parquet", LESIONS_SCHEMA)

    studies = read_table(curated / "studies.parquet", columns=["study_key", "patient_key", "study_date", "modality"])
    text = None
    if (curated / "recist.parquet").exists():
        text = read_table(curated / "recist.parquet")
        reports = read_table(curated / "reports.parquet", columns=["report_key", "study_key"])
        text = text.merge(reports, on="report_key", how="left")
    recist = recist_from_annotations(table.to_pandas(), studies, text)
    write_table(recist, curated / "recist_images.parquet", RECIST_IMAGES_SCHEMA)
    append_quarantine(out / "quarantine.parquet", NAME, quarantine)

    df = table.to_pandas()
    drawn = df[df["source"] != "report"]
    compared = recist[recist["response_agrees"].notna()] if len(recist) else recist
    return {
        "annotations_in": int(len(ann)), "crosses_in": crosses_in, "lesions": int(len(df)),
        "annotated": int(len(drawn)), "linked": int(drawn["report_key"].notna().sum()),
        "unlinked": int(drawn["report_key"].isna().sum()),
        "pixels_blanked": int(drawn["pixels_blanked"].fillna(False).astype(bool).sum()), "report_only": int((df["source"] == "report").sum()),
        "quarantined": len(quarantine),
        "crosses_quarantined": sum(1 for q in quarantine if q["reason"] == "unresolved_reference"),
        "quarantine_by_reason": dict(Counter(q["reason"] for q in quarantine)),
        "mask_method": config.mask_method, "recist_rows": int(len(recist)),
        "recist_compared": int(len(compared)),
        "recist_agree": int(compared["response_agrees"].sum()) if len(compared) else 0,
    }


def _add_masks(rows: list[dict], curated: Path, config: LesionsConfig) -> None:
    """Box and weak mask of every drawn row (each slice read once)."""
    by_path: dict[str, list[dict]] = {}
    for r in rows:
        by_path.setdefault(r["_path"], []).append(r)
    for path, group in by_path.items():
        image = window(slice_hu(curated / path)) if config.mask_method == "grabcut" else None
        for r in group:
            box = box_of(r["_long"], r["_short"], r["_rows"], r["_cols"])
            if image is not None:
                mask = grabcut_mask(image, r["_long"], r["_short"], box)
            else:
                mask = ellipse_mask(r["_long"], r["_short"], box)
            r.update(box_x0=box[0], box_y0=box[1], box_x1=box[2], box_y1=box[3],
                     mask=np.ascontiguousarray(mask, np.uint8).tobytes(), mask_method=config.mask_method)


def _flag_blanked(rows: list[dict], curated: Path) -> None:
    """``pixels_blanked``: de-id blanked a region (burned-in text, as it judged) overlapping the box."""
    path = curated / "deid_audit.parquet"
    blanked: dict[str, list[tuple]] = {}
    if path.exists():
        import pyarrow.parquet as pq

        audit = pq.read_table(path, columns=["instance_key", "action", "x0", "y0", "x1", "y1"],
                              filters=[("action", "==", "blanked")]).to_pylist()
        for a in audit:
            blanked.setdefault(a["instance_key"], []).append((a["x0"], a["y0"], a["x1"], a["y1"]))
    for r in rows:
        r["pixels_blanked"] = any(x0 < r["box_x1"] and r["box_x0"] < x1 and y0 < r["box_y1"] and r["box_y0"] < y1
                                  for x0, y0, x1, y1 in blanked.get(r["instance_key"], ()))


def _int(v) -> int | None:
    try:
        return None if v is None or pd.isna(v) else int(v)
    except (TypeError, ValueError):
        return None


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 2)
