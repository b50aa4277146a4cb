"""``radcurate predict RUN --curated DIR --out FILE``: a trained model applied to a curated dataset.

The dataset may be another site's: labels are not needed, splits are used only to select (and are
reported when present). Inputs are prepared exactly as in training (radiographs: per-image min-max
and the run's size; CT: the run's HU window; denoise: native resolution). Two Parquet files:

- ``FILE``: one row per image and output — classify: ``finding, probability`` (long, one row per
  finding); segment: ``lesion_probability`` (max over the slice) and ``mask_pixels`` / ``mask_fraction``
  at the model's resolution; denoise: the denoised slice (``pixels``, int16 HU, native size).
- ``FILE``'s sibling ``<stem>_patients.parquet``: per patient the max over its images (classify,
  segment) or the image count and mean absolute change (denoise).

Every row carries the dataset's ``data_version``, the run folder, its training hash and the
checkpoint (best or last, with its epoch), so a prediction can be traced to data and weights.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from radcurate.images_table import encode_pixels, read_images

from .engine import load_model, predict, read_run_config, setup_runtime
from .samples import DataError, _frames, _padded, _resize, data_version, minmax, one_copy_per_frame, window


def _split_map(curated: Path) -> dict[str, str]:
    path = curated / "splits.parquet"
    if not path.is_file():
        return {}
    s = pd.read_parquet(path, columns=["patient_key", "split"])
    return dict(zip(s["patient_key"], s["split"]))


def inference_images(curated: Path, config, split: str = "all") -> tuple[pd.DataFrame, torch.Tensor, np.ndarray | None]:
    """Key columns, the model's inputs (N, 1, H, W) and, for denoise, native sizes of ``curated``'s
    images of the task's modality (optionally one split)."""
    curated = Path(curated)
    cols = ["instance_key", "study_key", "patient_key", "series_key", "modality", "frame_index", "preprocessing",
            "rows", "columns", "dtype", "shape", "pixels"]
    if config.task == "classify":
        images = read_images(curated, columns=cols, filters=[("modality", "in", list(config.classify.modalities))])
        images = one_copy_per_frame(images, config.image_size)
    else:
        images = read_images(curated, columns=cols, filters=[("modality", "=", "CT"), ("preprocessing", "=", "native")])
    splits = _split_map(curated)
    images = images.assign(split=images["patient_key"].map(splits).fillna("none") if splits else "none")
    if split != "all":
        if not splits:
            raise DataError(f"--split {split}: {curated} has no splits.parquet")
        images = images[images["split"] == split]
    images = images.sort_values(["patient_key", "instance_key", "frame_index"]).reset_index(drop=True)
    if images.empty:
        raise DataError(f"no {config.task} input images in {curated}" + ("" if split == "all" else f" (split {split})"))
    frames = _frames(images)
    if config.task == "classify":
        return images, torch.stack([_resize(minmax(a), config.image_size) for a in frames]), None
    if config.task == "segment":
        return images, torch.stack([_resize(window(a, config.segment.window), config.image_size) for a in frames]), None
    x, hw = _padded([window(a, config.denoise.window) for a in frames])
    return images, x, hw


def predict_run(run: str | Path, curated: str | Path, out: str | Path, split: str = "all", checkpoint: str = "best",
                device: str = "auto") -> dict[str, Any]:
    """Write the per-image and per-patient predictions of ``run`` on ``curated``; returns a summary."""
    run, curated, out = Path(run), Path(curated).resolve(), Path(out)
    config, _ = read_run_config(run)
    config = dataclasses.replace(config, device=device)
    record = json.loads((run / "run.json").read_text()) if (run / "run.json").is_file() else {}
    findings = record.get("findings") or []
    rt = setup_runtime(config)
    model = load_model(run, config, len(findings) if config.task == "classify" else 1, rt, checkpoint)
    images, x, hw = inference_images(curated, config, split)
    y = predict(model, x, rt, channels_last=config.channels_last)
    keys = images[["instance_key", "frame_index", "series_key", "study_key", "patient_key", "split"]].reset_index(drop=True)
    prov = {"data_version": data_version(curated), "run": str(run.resolve()), "training_hash": record.get("training_hash"),
            "checkpoint": model.meta["checkpoint"], "checkpoint_epoch": model.meta["epoch"]}
    if config.task == "classify":
        p = torch.sigmoid(y).numpy()
        per_image = pd.concat([keys.assign(finding=f, probability=p[:, j].astype(float)) for j, f in enumerate(findings)],
                              ignore_index=True)
        per_patient = (per_image.groupby(["patient_key", "finding"], sort=True)
                       .agg(probability=("probability", "max"), images=("instance_key", "nunique")).reset_index())
    elif config.task == "segment":
        prob = torch.sigmoid(y).reshape(len(y), -1)
        mask = prob > config.segment.threshold
        per_image = keys.assign(lesion_probability=prob.max(1).values.numpy().astype(float),
                                mask_pixels=mask.sum(1).numpy().astype(np.int64),
                                mask_fraction=mask.float().mean(1).numpy().astype(float),
                                threshold=config.segment.threshold, model_size=config.image_size)
        per_patient = (per_image.groupby("patient_key", sort=True)
                       .agg(lesion_probability=("lesion_probability", "max"),
                            slices_with_lesion=("mask_pixels", lambda v: int((v > 0).sum())),
                            images=("instance_key", "size")).reset_index())
    else:
        lo, hi = config.denoise.window
        hu_in = x * (hi - lo) + lo
        hu_out = y * (hi - lo) + lo
        pixels, shapes, change = [], [], []
        for i in range(len(y)):
            h, w = (int(hw[i, 0]), int(hw[i, 1]))
            a = np.clip(np.rint(hu_out[i, 0, :h, :w].numpy()), -32768, 32767).astype(np.int16)
            buf, shape, _ = encode_pixels(a)
            pixels.append(buf)
            shapes.append(list(shape))
            change.append(float((hu_out[i, 0, :h, :w] - hu_in[i, 0, :h, :w]).abs().mean()))
        per_image = keys.assign(dtype="int16", shape=shapes, pixels=pixels, mean_abs_change_hu=change,
                                window_hu=[list(config.denoise.window)] * len(keys))
        per_patient = (per_image.groupby("patient_key", sort=True)
                       .agg(images=("instance_key", "size"), mean_abs_change_hu=("mean_abs_change_hu", "mean"))
                       .reset_index())
    per_image = per_image.assign(**prov)
    per_patient = per_patient.assign(**prov)
    out.parent.mkdir(parents=True, exist_ok=True)
    patients_file = out.with_name(out.stem + "_patients.parquet")
    for df, path in ((per_image, out), (per_patient, patients_file)):
        tmp = path.with_suffix(path.suffix + ".tmp")
        df.to_parquet(tmp, index=False)
        tmp.replace(path)
    return {"images": int(len(images)), "patients": int(images["patient_key"].nunique()), "images_file": str(out),
            "patients_file": str(patients_file), **prov, "epoch": model.meta["epoch"]}
