"""The lesion table: annotation crosses on curated images, joined to the report's measurements.

One row per measured lesion on a slice. An annotation's cross gives the endpoints, both diameters
(pixel distance x Pixel Spacing) and a box; the report measurement that cites the same study,
series number and image number, with the closest size, gives the finding, location, lesion label
and timepoint (``link_confidence`` falls with the size disagreement and with an off-by-one image
number). Report measurements that no annotation claims become rows of their own (``source``
``report``, no endpoints); annotations no report cites keep an empty link. Nothing is dropped.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

LESIONS_SCHEMA = pa.schema([
    pa.field("lesion_key", pa.string(), nullable=False),
    pa.field("patient_key", pa.string(), nullable=False),
    pa.field("study_key", pa.string(), nullable=False),
    pa.field("series_key", pa.string()),
    pa.field("instance_key", pa.string()),
    pa.field("series_number", pa.int32()),
    pa.field("instance_number", pa.int32()),
    pa.field("source", pa.string(), nullable=False),  # GSPS, SR or report
    pa.field("annotation_key", pa.string()),
    pa.field("annotation_label", pa.string()),  # the reader's label / SR tracking identifier
    pa.field("long_x0", pa.float64()), pa.field("long_y0", pa.float64()),
    pa.field("long_x1", pa.float64()), pa.field("long_y1", pa.float64()),
    pa.field("short_x0", pa.float64()), pa.field("short_y0", pa.float64()),
    pa.field("short_x1", pa.float64()), pa.field("short_y1", pa.float64()),
    pa.field("long_axis_mm", pa.float64()),
    pa.field("short_axis_mm", pa.float64()),
    pa.field("box_x0", pa.int32()), pa.field("box_y0", pa.int32()),
    pa.field("box_x1", pa.int32()), pa.field("box_y1", pa.int32()),
    pa.field("mask", pa.binary()),  # uint8 0/1, C order, (box_y1-box_y0) x (box_x1-box_x0)
    pa.field("mask_method", pa.string()),
    # de-id blanked a (supposed burned-in text) region overlapping the box: the lesion may be erased
    pa.field("pixels_blanked", pa.bool_()),
    # the linked report measurement (null when none)
    pa.field("report_key", pa.string()),
    pa.field("sentence_index", pa.int32()),
    pa.field("char_start", pa.int32()),
    pa.field("char_end", pa.int32()),
    pa.field("finding", pa.string()),
    pa.field("kind", pa.string()),  # lesion / lymph_node
    pa.field("location", pa.string()),
    pa.field("lesion_label", pa.string()),
    pa.field("timepoint", pa.string()),
    pa.field("report_long_axis_mm", pa.float64()),
    pa.field("report_short_axis_mm", pa.float64()),
    pa.field("size_difference_mm", pa.float64()),
    pa.field("link_confidence", pa.float64()),
])


@dataclass(frozen=True)
class LinkConfig:
    """How report measurements are matched to annotation crosses."""

    size_scale_mm: float = 4.0  # confidence exp(-difference / scale)
    neighbour_penalty: float = 0.5  # image number off by one (reader measured the next slice)
    min_confidence: float = 0.05


def lesion_key(*parts: object) -> str:
    """A stable key from keys already pseudonymous (annotation key + index, report key + span)."""
    return "L-" + hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:16]


def axis_mm(points: np.ndarray | None, spacing: list[float] | None) -> float | None:
    """Length of a 2-point axis (col, row) in mm; Pixel Spacing is (row spacing, column spacing)."""
    if points is None or spacing is None or len(spacing) < 2:
        return None
    d = points[1] - points[0]
    return float(math.hypot(d[0] * spacing[1], d[1] * spacing[0]))


def _num(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def size_difference(row: dict, m: pd.Series, off_peak: bool = False) -> float:
    """Disagreement (mm) between a cross and a report measurement, over the axes both state.

    ``off_peak``: the cross is on the slice next to the cited one, where a lesion looks smaller than
    at its widest: a smaller cross counts a quarter, a larger one fully.
    """
    diffs = []
    for axis in ("long_axis_mm", "short_axis_mm"):
        stated, drawn = _num(m[axis]), row[axis]
        if stated is None or drawn is None:
            continue
        d = drawn - stated
        diffs.append(max(d, 0.0) + 0.25 * max(-d, 0.0) if off_peak else abs(d))
    return float(np.mean(diffs)) if diffs else float("inf")


def link(rows: list[dict], measurements: pd.DataFrame, config: LinkConfig = LinkConfig()) -> list[dict]:
    """Attach each cross its report measurement; add report-only rows for the unclaimed ones.

    ``rows``: annotation rows (need ``study_key``, ``series_number``, ``instance_number`` and the
    diameters); ``measurements``: current lesion/node sizes with ``study_key``, ``report_key``,
    ``series``, ``image``. Pairs are taken greedily from the most confident down, so two lesions on
    one slice each get the measurement whose size fits them.
    """
    m = measurements.reset_index(drop=True)
    candidates = []
    by_slice = {}
    for i, r in m.iterrows():
        if _num(r["series"]) is None or _num(r["image"]) is None:
            continue
        by_slice.setdefault((r["study_key"], int(r["series"])), []).append(i)
    for ri, row in enumerate(rows):
        if row["series_number"] is None or row["instance_number"] is None:
            continue
        for mi in by_slice.get((row["study_key"], int(row["series_number"])), []):
            gap = abs(int(m.at[mi, "image"]) - int(row["instance_number"]))
            if gap > 1:
                continue
            diff = size_difference(row, m.loc[mi], off_peak=gap > 0)
            conf = math.exp(-diff / config.size_scale_mm) * (1.0 if gap == 0 else config.neighbour_penalty)
            if conf >= config.min_confidence:
                candidates.append((conf, ri, mi, diff))
    used_rows, used_meas = set(), set()
    for conf, ri, mi, diff in sorted(candidates, key=lambda c: (-c[0], c[1], c[2])):
        if ri in used_rows or mi in used_meas:
            continue
        used_rows.add(ri)
        used_meas.add(mi)
        rows[ri].update(_measurement_fields(m.loc[mi]), size_difference_mm=round(diff, 2),
                        link_confidence=round(conf, 3))
    out = list(rows)
    for mi, r in m.iterrows():
        if mi in used_meas:
            continue
        out.append({"lesion_key": lesion_key(r["report_key"], r["char_start"]), "patient_key": r["patient_key"],
                    "study_key": r["study_key"], "series_number": _int(r["series"]),
                    "instance_number": _int(r["image"]), "source": "report",
                    "long_axis_mm": _num(r["long_axis_mm"]), "short_axis_mm": _num(r["short_axis_mm"]),
                    **_measurement_fields(r)})
    return out


def _int(v) -> int | None:
    f = _num(v)
    return None if f is None else int(f)


def _measurement_fields(r: pd.Series) -> dict:
    return {"report_key": r["report_key"], "sentence_index": _int(r["sentence_index"]),
            "char_start": _int(r["char_start"]), "char_end": _int(r["char_end"]),
            "finding": r["finding"] if isinstance(r["finding"], str) else None,
            "kind": r["kind"], "location": r["location"] if isinstance(r["location"], str) else None,
            "lesion_label": r["lesion_label"] if isinstance(r["lesion_label"], str) else None,
            "timepoint": r["timepoint"], "report_long_axis_mm": _num(r["long_axis_mm"]),
            "report_short_axis_mm": _num(r["short_axis_mm"])}


def to_table(rows: list[dict]) -> pa.Table:
    rows = sorted(rows, key=lambda r: (r["patient_key"], r["study_key"], r["source"] == "report",
                                       r.get("instance_number") or 0, r["lesion_key"]))
    return pa.table({f.name: [r.get(f.name) for r in rows] for f in LESIONS_SCHEMA}, schema=LESIONS_SCHEMA)
