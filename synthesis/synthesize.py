"""The synthesis stages over a curated dataset: low-dose CT pairs and inserted lesions.

Both read ``curated/images/`` and ``curated/splits.parquet``, take parents from training-split
patients only (val and test patients never feed a synthetic sample), write
``curated/synthetic/lowdose/`` or ``curated/synthetic/lesions/`` with provenance columns, a PNG for a
person to look at beside the table, and quarantine rows (parents that could not be used, with the
reason) for ``OUT/quarantine.parquet``. Parents in = rows written + parents quarantined.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from .image_rows import KEYS, decode, encode, read_image_rows, training_patients, write_parts
from .lesions import GENERATOR_CT, GENERATOR_RADIOGRAPH, LesionConfig, insert_ct, insert_radiograph
from .lowdose import GENERATOR, LowDoseConfig, parameters_json, row_seed, simulate, to_int16_hu, to_square

CT_MODALITIES = ("CT",)
RADIOGRAPH_MODALITIES = ("CR", "DX")
GEOMETRY_COLUMNS = ["frame_index", "modality", "body_part", "view", "rows", "columns", "pixel_spacing_row",
                    "pixel_spacing_col", "slice_thickness", "slice_position", "slice_index"]

_KEY_FIELDS = [pa.field("synthetic_key", pa.string(), nullable=False)] + [
    pa.field(k, pa.string(), nullable=False) for k in KEYS] + [pa.field("parent_instance_key", pa.string(), nullable=False)]
_PROVENANCE = [pa.field("generator", pa.string(), nullable=False), pa.field("parameters", pa.string(), nullable=False),
               pa.field("seed", pa.int64(), nullable=False)]
_IMAGE = [pa.field("frame_index", pa.int32()), pa.field("modality", pa.string()), pa.field("rows", pa.int32()),
          pa.field("columns", pa.int32()), pa.field("pixel_spacing_row", pa.float64()),
          pa.field("pixel_spacing_col", pa.float64()), pa.field("slice_thickness", pa.float64()),
          pa.field("slice_position", pa.float64()), pa.field("slice_index", pa.int32()),
          pa.field("dtype", pa.string()), pa.field("shape", pa.list_(pa.int32()))]
LOWDOSE_SCHEMA = pa.schema(_KEY_FIELDS + _PROVENANCE + _IMAGE + [
    pa.field("dose_fraction", pa.float64(), nullable=False), pa.field("geometry", pa.string(), nullable=False),
    pa.field("pixels", pa.binary(), nullable=False), pa.field("full_dose_pixels", pa.binary(), nullable=False)])
LESIONS_SCHEMA = pa.schema(_KEY_FIELDS + _PROVENANCE + _IMAGE + [
    pa.field("location", pa.string()), pa.field("long_axis_mm", pa.float64()), pa.field("short_axis_mm", pa.float64()),
    pa.field("diameter_mm", pa.float64()), pa.field("lesion_hu", pa.float64()), pa.field("contrast", pa.float64()),
    pa.field("center_row", pa.int32()), pa.field("center_col", pa.int32()),
    pa.field("box_x0", pa.int32()), pa.field("box_y0", pa.int32()), pa.field("box_x1", pa.int32()),
    pa.field("box_y1", pa.int32()), pa.field("mask", pa.binary()), pa.field("pixels", pa.binary(), nullable=False)])


@dataclass
class SynthesisSummary:
    """Counts of one synthesis run (``parents`` = rows' distinct parents + ``quarantined``)."""

    kind: str
    eligible: int = 0  # images of the modality in the training split
    not_training: int = 0  # images of the modality left out: val/test or no split
    parents: int = 0
    rows: int = 0
    quarantined: int = 0
    seconds: float = 0.0
    preview: str | None = None
    table: str = ""
    quarantine: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "quarantine"}
        return d


def _synthetic_key(generator: str, parent: str, extra: str, seed: int) -> str:
    return hashlib.sha256(f"{generator}|{parent}|{extra}|{seed}".encode()).hexdigest()[:32]


def _select(curated: Path, modalities, limit: int | None, seed: int) -> tuple[pd.DataFrame, int, int]:
    """Training-split images of ``modalities`` (at most ``limit``, a seeded sample in key order)."""
    train = training_patients(curated)
    rows = read_image_rows(curated, modalities)
    if rows.empty:
        return rows, 0, 0
    in_train = rows["patient_key"].astype(str).isin(train)
    eligible, left_out = rows[in_train], int((~in_train).sum())
    eligible = eligible.sort_values(["instance_key", "frame_index"]).reset_index(drop=True)
    if limit is not None and len(eligible) > limit:
        pick = np.random.default_rng(seed).choice(len(eligible), size=limit, replace=False)
        eligible = eligible.iloc[np.sort(pick)].reset_index(drop=True)
    return eligible, int(in_train.sum()), left_out


def _geometry_cells(r: pd.Series) -> dict[str, Any]:
    out = {c: r.get(c) for c in ["frame_index", "modality", "rows", "columns", "pixel_spacing_row",
                                 "pixel_spacing_col", "slice_thickness", "slice_position", "slice_index"]}
    return out


def _quarantine(r: pd.Series, kind: str, reason: str, detail: str) -> dict[str, Any]:
    return {"source": f"{r['instance_key']}#{int(r.get('frame_index', 0) or 0)}", "reason": reason,
            "detail": f"{kind}: {detail}"}


def run_lowdose(curated: str | Path, config: LowDoseConfig = LowDoseConfig(),
                progress: Callable[[int], None] | None = None) -> SynthesisSummary:
    """Low-dose / full-dose pairs of every training-split CT slice at each configured dose."""
    import time

    import torch

    started = time.perf_counter()
    curated = Path(curated)
    summary = SynthesisSummary("lowdose", table=str(curated / "synthetic" / "lowdose"))
    parents, summary.eligible, summary.not_training = _select(curated, CT_MODALITIES, config.max_parents, config.seed)
    summary.parents = len(parents)
    out_rows: list[dict[str, Any]] = []
    usable = []
    for _, r in parents.iterrows():
        if r["dtype"] != "int16":
            summary.quarantine.append(_quarantine(r, "lowdose", "not_hu", f"CT pixels stored as {r['dtype']}, not int16 HU"))
        elif not (pd.notna(r.get("pixel_spacing_row")) and pd.notna(r.get("pixel_spacing_col"))):
            summary.quarantine.append(_quarantine(r, "lowdose", "no_pixel_spacing", "pixel spacing missing"))
        elif not math.isclose(float(r["pixel_spacing_row"]), float(r["pixel_spacing_col"]), rel_tol=1e-3):
            summary.quarantine.append(_quarantine(r, "lowdose", "anisotropic_pixels", "row and column spacing differ"))
        else:
            usable.append(r)
    groups: dict[tuple[int, float], list[pd.Series]] = {}
    for r in usable:
        side = max(int(r["rows"]), int(r["columns"]))
        groups.setdefault((side, round(float(r["pixel_spacing_row"]), 4)), []).append(r)
    done = 0
    for (side, pixel_mm), members in sorted(groups.items()):
        for start in range(0, len(members), config.batch_size):
            batch = members[start:start + config.batch_size]
            squares, boxes = zip(*(to_square(decode(r["pixels"], r["shape"], r["dtype"]).astype(np.float32)) for r in batch))
            seeds = [[row_seed(config.seed, f"{r['instance_key']}#{r['frame_index']}", d) for d in config.dose_fractions]
                     for r in batch]
            full, low = simulate(torch.from_numpy(np.stack(squares)), pixel_mm, config, seeds)
            geom = config.geometry_for(side, pixel_mm)
            for i, r in enumerate(batch):
                y0, y1, x0, x1 = boxes[i]
                ref = to_int16_hu(full[i][y0:y1, x0:x1])
                for k, dose in enumerate(config.dose_fractions):
                    img = to_int16_hu(low[i, k][y0:y1, x0:x1])
                    out_rows.append({
                        "synthetic_key": _synthetic_key(GENERATOR, r["instance_key"], f"{r['frame_index']}|{dose}", seeds[i][k]),
                        **{key: r[key] for key in KEYS}, "parent_instance_key": r["instance_key"],
                        "generator": GENERATOR, "parameters": parameters_json(config, dose, geom, pixel_mm),
                        "seed": seeds[i][k], **_geometry_cells(r), "dtype": "int16", "shape": list(img.shape),
                        "dose_fraction": float(dose), "geometry": geom.kind,
                        "pixels": encode(img), "full_dose_pixels": encode(ref),
                    })
            done += len(batch)
            if progress:
                progress(len(batch))
    df = pd.DataFrame(out_rows, columns=LOWDOSE_SCHEMA.names)
    write_parts(df, curated / "synthetic" / "lowdose", LOWDOSE_SCHEMA, ["pixels", "full_dose_pixels"])
    summary.rows = len(df)
    summary.quarantined = len(summary.quarantine)
    if len(df):
        summary.preview = str(_preview_lowdose(df, curated / "synthetic" / "lowdose_preview.png"))
    summary.seconds = round(time.perf_counter() - started, 2)
    return summary


def run_lesion_insertion(curated: str | Path, config: LesionConfig = LesionConfig(),
                progress: Callable[[int], None] | None = None) -> SynthesisSummary:
    """One modelled lesion inserted into each selected training-split CT slice or radiograph."""
    import time

    started = time.perf_counter()
    curated = Path(curated)
    summary = SynthesisSummary("lesions", table=str(curated / "synthetic" / "lesions"))
    parents, summary.eligible, summary.not_training = _select(
        curated, CT_MODALITIES + RADIOGRAPH_MODALITIES, config.max_parents, config.seed)
    summary.parents = len(parents)
    out_rows: list[dict[str, Any]] = []
    for _, r in parents.iterrows():
        seed = row_seed(config.seed, f"{r['instance_key']}#{r['frame_index']}", 0.0)
        rng = np.random.default_rng(seed)
        if not (pd.notna(r.get("pixel_spacing_row")) and pd.notna(r.get("pixel_spacing_col"))):
            summary.quarantine.append(_quarantine(r, "lesions", "no_pixel_spacing", "pixel spacing missing"))
            continue
        spacing = (float(r["pixel_spacing_row"]), float(r["pixel_spacing_col"]))
        img = decode(r["pixels"], r["shape"], r["dtype"])
        if img.ndim != 2:
            summary.quarantine.append(_quarantine(r, "lesions", "not_2d", f"pixels of shape {tuple(img.shape)}"))
            continue
        is_ct = r["modality"] in CT_MODALITIES
        if is_ct:
            thickness = float(r["slice_thickness"]) if pd.notna(r.get("slice_thickness")) else 1.0
            ins = insert_ct(img, spacing, thickness, rng, config)
        else:
            ins = insert_radiograph(img, spacing, rng, config, inverted=r.get("photometric") == "MONOCHROME1")
        if ins is None:
            summary.quarantine.append(_quarantine(r, "lesions", "no_lung_region",
                                                  "no lung region large enough for the lesion"))
            continue
        gen = GENERATOR_CT if is_ct else GENERATOR_RADIOGRAPH
        x0, y0, x1, y1 = (int(v) for v in ins.box)
        out_rows.append({
            "synthetic_key": _synthetic_key(gen, r["instance_key"], str(r["frame_index"]), seed),
            **{key: r[key] for key in KEYS}, "parent_instance_key": r["instance_key"],
            "generator": gen, "parameters": json.dumps(ins.parameters, sort_keys=True), "seed": seed,
            **_geometry_cells(r), "dtype": str(ins.image.dtype), "shape": list(ins.image.shape),
            "location": "lung", "long_axis_mm": ins.long_axis_mm, "short_axis_mm": ins.short_axis_mm,
            "diameter_mm": ins.lesion.long_mm, "lesion_hu": ins.lesion.hu, "contrast": ins.contrast,
            "center_row": int(ins.center[0]), "center_col": int(ins.center[1]),
            "box_x0": x0, "box_y0": y0, "box_x1": x1, "box_y1": y1,
            "mask": ins.mask.astype(np.uint8).tobytes(), "pixels": encode(ins.image),
        })
        if progress:
            progress(1)
    df = pd.DataFrame(out_rows, columns=LESIONS_SCHEMA.names)
    write_parts(df, curated / "synthetic" / "lesions", LESIONS_SCHEMA, ["pixels"])
    summary.rows = len(df)
    summary.quarantined = len(summary.quarantine)
    if len(df):
        parents_px = {(r["instance_key"], r["frame_index"]): r for _, r in parents.iterrows()}
        summary.preview = str(_preview_lesions(df, parents_px, curated / "synthetic" / "lesions_preview.png"))
    summary.seconds = round(time.perf_counter() - started, 2)
    return summary


# --- pictures for a person ------------------------------------------------------------------------


def _window(img: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (np.clip((img.astype(np.float32) - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)


def _tile(rows: list[list[np.ndarray]], size: int = 192, labels: list[str] | None = None):
    from PIL import Image, ImageDraw

    h = len(rows)
    w = max(len(r) for r in rows)
    sheet = Image.new("L", (w * size, h * size + 16), 0)
    for i, row in enumerate(rows):
        for j, tile in enumerate(row):
            im = Image.fromarray(tile).resize((size, size))
            sheet.paste(im, (j * size, 16 + i * size))
    if labels:
        draw = ImageDraw.Draw(sheet)
        for j, text in enumerate(labels):
            draw.text((j * size + 4, 2), text, fill=255)
    return sheet


def _preview_lowdose(df: pd.DataFrame, path: Path, n: int = 4) -> Path:
    """Full-dose | low-dose | difference for a few slices (soft-tissue window)."""
    pick = df.drop_duplicates("parent_instance_key").head(n)
    rows = []
    for _, r in pick.iterrows():
        low = decode(r["pixels"], r["shape"], "int16")
        full = decode(r["full_dose_pixels"], r["shape"], "int16")
        diff = low.astype(np.float32) - full
        rows.append([_window(full, -160, 240), _window(low, -160, 240), _window(diff, -200, 200)])
    dose = float(pick["dose_fraction"].iloc[0])
    _tile(rows, labels=["full dose", f"dose x{dose:g}", "difference +-200 HU"]).save(path)
    return path


def _preview_lesions(df: pd.DataFrame, parents: dict, path: Path, n: int = 4) -> Path:
    """Parent | with lesion | mask outline for a few images."""
    from scipy import ndimage

    is_ct = df["modality"].isin(CT_MODALITIES)
    pick = pd.concat([df[is_ct].head(n // 2), df[~is_ct].head(n // 2)])  # both kinds when there are both
    pick = pd.concat([pick, df.drop(pick.index)]).head(n)
    rows = []
    for _, r in pick.iterrows():
        img = decode(r["pixels"], r["shape"], r["dtype"])
        p = parents[(r["instance_key"], r["frame_index"])]
        before = decode(p["pixels"], p["shape"], p["dtype"])
        lo, hi = ((-1000, 400) if r["modality"] in CT_MODALITIES else np.percentile(before, [1, 99]))
        mask = np.zeros(img.shape, bool)
        box_mask = np.frombuffer(r["mask"], np.uint8).reshape(r["box_y1"] - r["box_y0"], r["box_x1"] - r["box_x0"])
        mask[r["box_y0"]:r["box_y1"], r["box_x0"]:r["box_x1"]] = box_mask.astype(bool)
        outlined = _window(img, lo, hi)
        outlined[mask & ~ndimage.binary_erosion(mask)] = 255
        rows.append([_window(before, lo, hi), _window(img, lo, hi), outlined])
    _tile(rows, labels=["parent", "with lesion", "mask outline"]).save(path)
    return path
