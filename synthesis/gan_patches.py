"""Lesion and no-lesion CT patches for the class-conditional GAN and its evaluation.

Sources, CT only (the lesion table's boxes are drawn on CT slices):
- ``curated/lesions.parquet``: one patch per measured lesion on a slice (rows with a box), its class
  from the linked report finding (``mass`` / ``nodule``), else by the long axis (>= 30 mm: mass, the
  radiological convention), else ``nodule``;
- ``curated/synthetic/lesions/``: inserted-lesion truth (the physics-based insertion of ``synthesis.lesions``), class by diameter;
- "no lesion": lung-centred patches (centre pixel below ``lung_hu``) at least ``clear_mm`` in 3-D
  from every known lesion of the series.

Each patch covers ``field_mm`` square around its centre, resampled to ``size`` pixels, so a
lesion's size in pixels keeps its size in mm (nodule vs mass stays visible). Values are HU mapped
from the window ``window_hu`` to [-1, 1]. Only patients of the requested splits are read (the GAN
uses ``("train",)``; the benchmark asks for the held-out patients separately).
numpy, pandas, pyarrow and torch only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from radcurate.splits import patients_in

CLASSES = ("no_lesion", "nodule", "mass")
MASS_MM = 30.0


@dataclass(frozen=True)
class PatchConfig:
    """How patches are cut: field of view, output size, HU window, no-lesion sampling."""

    size: int = 32
    field_mm: float = 64.0
    window_hu: tuple[float, float] = (-1000.0, 400.0)
    lung_hu: float = -500.0
    clear_mm: float = 40.0  # no-lesion centres stay this far (3-D) from every lesion of the series
    no_lesion_per_lesion: float = 1.0  # no-lesion patches drawn per lesion patch (per split)
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def class_of(finding, long_axis_mm) -> str:
    """``mass``/``nodule`` from the report link when it names one, else by size (>= 30 mm: mass)."""
    text = str(finding).lower() if isinstance(finding, str) else ""
    if "mass" in text:
        return "mass"
    if "nodule" in text:
        return "nodule"
    if long_axis_mm is not None and np.isfinite(float(long_axis_mm)) and float(long_axis_mm) >= MASS_MM:
        return "mass"
    return "nodule"


def split_patients(curated: Path, splits: tuple[str, ...]) -> set[str]:
    return patients_in(curated, splits, why="patches need the patient splits")


def to_unit(hu: np.ndarray | torch.Tensor, window: tuple[float, float]):
    lo, hi = window
    x = (hu - lo) / (hi - lo) * 2 - 1
    return x.clamp(-1, 1) if isinstance(x, torch.Tensor) else np.clip(x, -1, 1)


def to_hu(x: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    lo, hi = window
    return np.rint((np.clip(x, -1, 1) + 1) / 2 * (hi - lo) + lo).astype(np.int16)


def cut(img: np.ndarray, center_rc: tuple[float, float], spacing: tuple[float, float], config: PatchConfig) -> np.ndarray:
    """``config.field_mm`` square around ``center_rc`` (pixels), resampled to ``size``² in [-1, 1]; air outside."""
    n = config.size
    step_r = config.field_mm / n / spacing[0]
    step_c = config.field_mm / n / spacing[1]
    offs = (np.arange(n) - n / 2 + 0.5)
    rr = center_rc[0] + offs * step_r
    cc = center_rc[1] + offs * step_c
    h, w = img.shape
    # grid_sample in normalised coordinates (align_corners=False: -1 and 1 are the outer pixel edges)
    gy = torch.from_numpy((2 * (rr + 0.5) / h - 1).astype(np.float32))
    gx = torch.from_numpy((2 * (cc + 0.5) / w - 1).astype(np.float32))
    grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1)[None]
    t = torch.from_numpy(img.astype(np.float32))[None, None] - config.window_hu[0]
    out = F.grid_sample(t, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0, 0] + config.window_hu[0]
    return to_unit(out.numpy(), config.window_hu).astype(np.float32)


def _images(curated: Path, patients: set[str]) -> pd.DataFrame:
    from radcurate.images_table import read_images

    cols = ["instance_key", "series_key", "study_key", "patient_key", "frame_index", "modality", "preprocessing",
            "pixel_spacing_row", "pixel_spacing_col", "slice_position", "dtype", "shape", "pixels"]
    if not patients:
        return pd.DataFrame(columns=cols)
    rows = read_images(curated, columns=cols, filters=[("modality", "in", ["CT"])])
    rows = rows[rows["preprocessing"].fillna("native").eq("native") & rows["patient_key"].astype(str).isin(patients)]
    rows = rows[rows["pixel_spacing_row"].notna() & rows["dtype"].eq("int16")]
    return rows.drop_duplicates(["instance_key", "frame_index"]).reset_index(drop=True)


def _decode(r) -> np.ndarray:
    from radcurate.images_table import decode_pixels

    return decode_pixels(r["pixels"], list(r["shape"]), r["dtype"])


def extract_patches(curated: str | Path, splits: tuple[str, ...] = ("train",),
                    config: PatchConfig = PatchConfig(), inserted: bool = True) -> tuple[np.ndarray, pd.DataFrame]:
    """Patches (N, size, size) float32 in [-1, 1] and one metadata row each
    (``label`` index into :data:`CLASSES`, ``class_name``, keys, ``source``, ``long_axis_mm``).

    ``inserted=False`` leaves out the physics-inserted lesions of ``curated/synthetic/lesions/``:
    real images only (the "real" arm of an augmentation study must not hold synthetic lesions)."""
    curated = Path(curated)
    patients = split_patients(curated, splits)
    images = _images(curated, patients)
    by_instance = {k: r for k, r in zip(images["instance_key"], images.to_dict("records"))}
    patches: list[np.ndarray] = []
    meta: list[dict] = []
    centres: list[dict] = []  # lesion centres in mm (series, row_mm, col_mm, z_mm) for no-lesion sampling

    def add(img_row: dict, img: np.ndarray, rc, cls: str, source: str, long_mm, parent_key: str):
        sp = (float(img_row["pixel_spacing_row"]), float(img_row["pixel_spacing_col"]))
        patches.append(cut(img, rc, sp, config))
        meta.append({"patient_key": str(img_row["patient_key"]), "study_key": img_row["study_key"],
                     "series_key": img_row["series_key"], "instance_key": parent_key,
                     "class_name": cls, "label": CLASSES.index(cls), "source": source,
                     "long_axis_mm": None if long_mm is None or pd.isna(long_mm) else float(long_mm)})

    lesion_path = curated / "lesions.parquet"
    if lesion_path.exists():
        les = pd.read_parquet(lesion_path)
        les = les[les["box_x0"].notna() & les["instance_key"].isin(list(by_instance))]
        for r in les.sort_values("lesion_key").to_dict("records"):
            row = by_instance[r["instance_key"]]
            img = _decode(row)
            rc = ((r["box_y0"] + r["box_y1"]) / 2 - 0.5, (r["box_x0"] + r["box_x1"]) / 2 - 0.5)
            add(row, img, rc, class_of(r.get("finding"), r.get("long_axis_mm")), f"lesions:{r['source']}",
                r.get("long_axis_mm"), r["instance_key"])
            centres.append(_centre_mm(row, rc))
    synth = curated / "synthetic" / "lesions"
    if inserted and synth.is_dir() and any(synth.glob("part-*.parquet")):
        from .image_rows import read_synthetic

        ins = read_synthetic(curated, "lesions")
        ins = ins[ins["modality"].eq("CT") & ins["patient_key"].astype(str).isin(patients) & ins["pixel_spacing_row"].notna()]
        for r in ins.sort_values("synthetic_key").to_dict("records"):
            img = _decode(r)
            rc = (float(r["center_row"]), float(r["center_col"]))
            add(r, img, rc, class_of(None, r["diameter_mm"]), "synthetic:lesions", r["diameter_mm"], r["parent_instance_key"])
            par = by_instance.get(r["parent_instance_key"])
            if par is not None:
                centres.append(_centre_mm(par, rc))
    n_lesion = len(patches)
    _no_lesion(images, centres, max(int(round(n_lesion * config.no_lesion_per_lesion)), 0), config, add)
    x = np.stack(patches).astype(np.float32) if patches else np.zeros((0, config.size, config.size), np.float32)
    return x, pd.DataFrame(meta, columns=["patient_key", "study_key", "series_key", "instance_key", "class_name",
                                          "label", "source", "long_axis_mm"])


def _centre_mm(row: dict, rc) -> dict:
    z = row.get("slice_position")
    return {"series_key": row["series_key"], "r": rc[0] * float(row["pixel_spacing_row"]),
            "c": rc[1] * float(row["pixel_spacing_col"]), "z": float(z) if z is not None and pd.notna(z) else None}


def _lungs(img: np.ndarray, threshold: float) -> np.ndarray:
    """Low-attenuation regions not connected to the image border (air outside the body is)."""
    from scipy import ndimage

    low = img < threshold
    lab, _ = ndimage.label(low)
    border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    return low & ~np.isin(lab, border[border > 0])


def _no_lesion(images: pd.DataFrame, centres: list[dict], n: int, config: PatchConfig, add) -> None:
    """``n`` lung-centred patches far from every known lesion, spread over patients and slices (seeded)."""
    if n == 0 or images.empty:
        return
    rng = np.random.default_rng(config.seed)
    by_series: dict[str, list[dict]] = {}
    for c in centres:
        by_series.setdefault(c["series_key"], []).append(c)
    order = rng.permutation(len(images))
    recs = images.to_dict("records")
    per_slice = max(1, int(np.ceil(n / max(len(images), 1))) * 2)
    taken = 0
    for _ in range(3):  # a few passes over the slices: most give a lung point on the first try
        for i in order:
            if taken >= n:
                return
            r = recs[i]
            img = _decode(r)
            sp = (float(r["pixel_spacing_row"]), float(r["pixel_spacing_col"]))
            margin = (config.field_mm / 4 / sp[0], config.field_mm / 4 / sp[1])
            lung = np.argwhere(_lungs(img, config.lung_hu))
            if lung.size == 0:
                continue
            inside = lung[(lung[:, 0] > margin[0]) & (lung[:, 0] < img.shape[0] - margin[0])
                          & (lung[:, 1] > margin[1]) & (lung[:, 1] < img.shape[1] - margin[1])]
            # centres inside the body's lungs, not outside air: the patch must hold some tissue too
            for rc in inside[rng.permutation(len(inside))[:per_slice * 8]]:
                patch = cut(img, (float(rc[0]), float(rc[1])), sp, config)
                tissue = (patch > to_unit(np.float32(-300), config.window_hu)).mean()
                if not 0.05 < tissue < 0.7:
                    continue
                z = r.get("slice_position")
                ok = True
                for c in by_series.get(r["series_key"], []):
                    dz = 0.0 if c["z"] is None or z is None or pd.isna(z) else float(z) - c["z"]
                    if np.hypot(np.hypot(rc[0] * sp[0] - c["r"], rc[1] * sp[1] - c["c"]), dz) < config.clear_mm:
                        ok = False
                        break
                if ok:
                    add(r, img, (float(rc[0]), float(rc[1])), "no_lesion", "lung", None, r["instance_key"])
                    taken += 1
                    break
