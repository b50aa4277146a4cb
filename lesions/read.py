"""RECIST crosses out of de-identified annotation objects: GSPS graphics and TID 1500 SR groups.

A cross is the long axis and (when drawn) the short axis of one lesion on one image, as pixel
coordinates (column, row; the top-left corner of the top-left pixel is 0, 0, as in PS3.3
C.10.5.1.2), with the reader's label and, from an SR, the coded finding and site.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pydicom

LONG_AXIS, SHORT_AXIS = "103339001", "103340004"  # SCT codes of TID 1500 measurements


@dataclass
class Cross:
    """One measured lesion on one referenced image."""

    referenced_uid: str
    long: np.ndarray  # 2 x 2 (col, row) endpoints
    short: np.ndarray | None
    label: str | None = None
    finding: str | None = None
    location: str | None = None
    stated_long_mm: float | None = None  # what the workstation wrote (SR), for comparison only
    stated_short_mm: float | None = None


def _pairs(points: np.ndarray) -> np.ndarray:
    return np.asarray(points, dtype=np.float64).reshape(-1, 2)


def _length(p: np.ndarray) -> float:
    return float(np.linalg.norm(p[-1] - p[0]))


def gsps_crosses(ds: pydicom.Dataset) -> list[Cross]:
    """One cross per graphic annotation item: its two-point polylines, the longer one the long axis.

    Items with more than two lines are read as consecutive pairs; a single line is a long axis
    without a short one. Text objects of the item give the label.
    """
    out = []
    for item in ds.get("GraphicAnnotationSequence", []):
        refs = item.get("ReferencedImageSequence", [])
        if not refs:
            continue
        uid = str(refs[0].ReferencedSOPInstanceUID)
        lines = [_pairs(g.GraphicData) for g in item.get("GraphicObjectSequence", [])
                 if str(g.get("GraphicType", "")) == "POLYLINE" and str(g.get("GraphicAnnotationUnits", "")) == "PIXEL"
                 and len(g.GraphicData) >= 4]
        lines = [ln[[0, -1]] for ln in lines]
        texts = [str(t.get("UnformattedTextValue", "")) for t in item.get("TextObjectSequence", [])]
        label = texts[0] if texts else None
        for i in range(0, len(lines), 2):
            pair = sorted(lines[i:i + 2], key=_length, reverse=True)
            out.append(Cross(uid, pair[0], pair[1] if len(pair) > 1 else None, label=label))
    return out


def sr_crosses(path: str) -> list[Cross]:
    """One cross per planar ROI measurement group whose region is a four-point ELLIPSE (long axis
    endpoints, then short axis endpoints) or a two-point POLYLINE (long axis only)."""
    import highdicom as hd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr = hd.sr.srread(path)
    out = []
    for group in sr.content.get_planar_roi_measurement_groups():
        roi = group.roi
        if roi is None:
            continue
        pts = _pairs(roi.value)
        try:
            uid = str(roi.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID)
        except (AttributeError, IndexError):
            continue
        if str(roi.graphic_type.value) == "ELLIPSE" and len(pts) == 4:
            long, short = pts[:2], pts[2:]
        elif len(pts) >= 2:
            long, short = pts[[0, -1]], None
        else:
            continue
        stated = {}
        for m in group.get_measurements():
            stated[str(m.name.value)] = float(m.value)
        finding = group.finding_type.meaning if group.finding_type is not None else None
        sites = group.finding_sites
        out.append(Cross(uid, long, short, label=group.tracking_identifier, finding=finding,
                         location=str(sites[0].value.meaning) if sites else None,
                         stated_long_mm=stated.get(LONG_AXIS), stated_short_mm=stated.get(SHORT_AXIS)))
    return out


def read_crosses(path: str, kind: str) -> list[Cross]:
    """The crosses of one curated annotation object (``kind`` GSPS or SR)."""
    if kind == "SR":
        return sr_crosses(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gsps_crosses(pydicom.dcmread(path))
