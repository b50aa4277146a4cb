"""Small curated datasets written to the contract, for the training tests.

Radiographs whose findings are visible (a bright blob for Nodule, a bright base for Effusion), CT
slices with round lesions and their weak masks, and low-dose/full-dose pairs: enough signal that a
few training steps move the metrics, small enough (32-48 px) that they take seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from radcurate.images_table import encode_pixels, images_schema

FINDINGS = ("Nodule", "Effusion", "Cardiomegaly")


def _image_rows(arrays, keys, modality):
    rows = []
    for a, (inst, series, study, patient, idx) in zip(arrays, keys):
        buf, shape, dtype = encode_pixels(a)
        rows.append({"instance_key": inst, "series_key": series, "study_key": study, "patient_key": patient,
                     "frame_index": 0, "modality": modality, "body_part": "CHEST", "view": None,
                     "preprocessing": "native", "rows": shape[0], "columns": shape[1],
                     "pixel_spacing_row": 1.0, "pixel_spacing_col": 1.0, "slice_thickness": None,
                     "slice_position": float(idx), "slice_index": idx, "dtype": dtype, "shape": shape,
                     "pixels": buf})
    return rows


def write_part(rows, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbytes = len(rows[0]["pixels"])
    schema = images_schema(nbytes)
    extra = [k for k in rows[0] if k not in schema.names]
    for k in extra:
        v = rows[0][k]
        schema = schema.append(pa.field(k, pa.float64() if isinstance(v, float) else pa.string()))
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, compression="zstd")


def write_splits(curated: Path, patients: dict[str, str]) -> None:
    pq.write_table(pa.table({"patient_key": list(patients), "split": list(patients.values()),
                             "fold": pa.array([0] * len(patients), pa.int32())}), curated / "splits.parquet")


def _split_of(i: int, n: int) -> str:
    return "test" if i % 4 == 3 else "val" if i % 8 == 2 else "train"


def radiographs(curated: Path, patients: int = 24, per_patient: int = 2, size: int = 40, seed: int = 0) -> Path:
    """``images`` (DX), ``splits`` and ``labels`` (long, chestxray14) with learnable findings.

    Cardiomegaly is uncertain (-1, policy u_ignore) on a third of the studies, so masking matters.
    """
    rng = np.random.default_rng(seed)
    curated.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size]
    arrays, keys, labels, splits = [], [], [], {}
    for p in range(patients):
        pk = f"P{p:04d}"
        splits[pk] = _split_of(p, patients)
        for s in range(per_patient):
            sk = f"S{p:04d}{s}"
            truth = {f: bool(rng.random() < 0.4) for f in FINDINGS}
            img = rng.normal(800, 60, (size, size))
            if truth["Nodule"]:
                cy, cx = rng.integers(8, size - 8, 2)
                img += 900 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 12.0)
            if truth["Effusion"]:
                img[int(size * 0.7):] += 700
            if truth["Cardiomegaly"]:
                img += 500 * (((yy - size / 2) ** 2 + (xx - size / 2) ** 2) < (size / 4) ** 2)
            arrays.append(np.clip(img, 0, 4095).astype(np.uint16))
            keys.append((f"I{p:04d}{s}", f"E{p:04d}{s}", sk, pk, 0))
            for f in FINDINGS:
                value = int(truth[f])
                if f == "Cardiomegaly" and rng.random() < 0.33:
                    value = -1
                policy = "u_ignore" if f == "Cardiomegaly" else "u_zeros"
                labels.append({"report_key": "R" + sk[1:], "study_key": sk, "vocabulary": "chestxray14",
                               "finding": f, "value": value, "probability": 0.9 if value == 1 else 0.1,
                               "policy": policy, "truth": truth[f]})
    write_part(_image_rows(arrays, keys, "DX"), curated / "images" / "part-00000.parquet")
    write_splits(curated, splits)
    lt = pa.Table.from_pylist(labels)
    pq.write_table(lt.set_column(lt.column_names.index("value"), "value", lt.column("value").cast(pa.int8())),
                   curated / "labels.parquet")
    (curated / "manifest.json").write_text(json.dumps({"run_id": "test", "seed": seed}))
    return curated


def ct_lesions(curated: Path, patients: int = 12, slices: int = 4, size: int = 32, seed: int = 0) -> Path:
    """CT ``images`` in HU with round lesions on half the slices, ``lesions`` with box masks, ``splits``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    arrays, keys, lesions, splits = [], [], [], {}
    for p in range(patients):
        pk = f"P{p:04d}"
        splits[pk] = _split_of(p, patients)
        for z in range(slices):
            img = rng.normal(-800, 30, (size, size))  # lung
            ik = f"I{p:04d}{z}"
            if z % 2 == 0:
                r = rng.uniform(3, 6)
                cy, cx = rng.uniform(r + 1, size - r - 1, 2)
                disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
                img[disc] = rng.normal(40, 20, int(disc.sum()))
                y0, y1 = int(np.floor(cy - r)), int(np.ceil(cy + r)) + 1
                x0, x1 = int(np.floor(cx - r)), int(np.ceil(cx + r)) + 1
                lesions.append({"instance_key": ik, "series_key": f"E{p:04d}", "study_key": f"S{p:04d}",
                                "patient_key": pk, "long_axis_mm": 2 * r, "short_axis_mm": 2 * r,
                                "box_x0": x0, "box_y0": y0, "box_x1": x1, "box_y1": y1,
                                "mask": disc[y0:y1, x0:x1].astype(np.uint8).tobytes(),
                                "mask_method": "ellipse", "source": "SR"})
            arrays.append(img.astype(np.int16))
            keys.append((ik, f"E{p:04d}", f"S{p:04d}", pk, z))
    write_part(_image_rows(arrays, keys, "CT"), curated / "images" / "part-00000.parquet")
    write_splits(curated, splits)
    t = pa.Table.from_pylist(lesions)
    for c in ("box_x0", "box_y0", "box_x1", "box_y1"):
        t = t.set_column(t.column_names.index(c), c, t.column(c).cast(pa.int32()))
    pq.write_table(t, curated / "lesions.parquet")
    return curated


def lowdose_pairs(curated: Path, patients: int = 8, slices: int = 3, size: int = 32, seed: int = 0) -> Path:
    """Full-dose CT ``images`` and ``synthetic/lowdose`` noisy copies from training patients only."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    full, low, keys, splits = [], [], [], {}
    for p in range(patients):
        pk = f"P{p:04d}"
        splits[pk] = "train"
        for z in range(slices):
            body = ((yy - size / 2) ** 2 / (size * 0.45) ** 2 + (xx - size / 2) ** 2 / (size * 0.35) ** 2) < 1
            img = np.where(body, 40.0, -1000.0)
            img += 300 * np.exp(-((yy - rng.uniform(8, size - 8)) ** 2 + (xx - rng.uniform(8, size - 8)) ** 2) / 10)
            full.append(img.astype(np.int16))
            low.append((img + rng.normal(0, 120, img.shape)).astype(np.int16))
            keys.append((f"I{p:04d}{z}", f"E{p:04d}", f"S{p:04d}", pk, z))
    write_part(_image_rows(full, keys, "CT"), curated / "images" / "part-00000.parquet")
    rows = _image_rows(low, keys, "CT")
    for r in rows:
        r.update(generator="test_noise", parameters=json.dumps({"dose_fraction": 0.25}),
                 parent_instance_key=r["instance_key"], seed=float(seed), dose_fraction=0.25)
    write_part(rows, curated / "synthetic" / "lowdose" / "part-00000.parquet")
    write_splits(curated, splits)
    return curated
