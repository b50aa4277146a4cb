"""``radcurate evaluate RUN``: score a trained run on its test patients, by image and by patient.

Writes ``RUN/metrics.json`` (metrics with 95 % patient-bootstrap CIs, the data version, config and
code version) and PNGs beside it: loss curves, ROC and calibration curves (classify), example
predictions (segment, denoise).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from radcurate.version import code_version

from . import metrics as M
from . import plots
from .engine import load_model, predict, read_run_config, setup_runtime
from .samples import TaskData, data_version, task_data


def evaluate(run: str | Path, split: str = "test", labels: str | None = None, device: str = "auto",
             write: bool = True, checkpoint: str = "best", truth_masks: str | None = None) -> dict[str, Any]:
    """Metrics of ``run`` on ``split`` with the weights of ``checkpoint`` (``best``: the best
    validation epoch; ``last``). ``labels`` scores a classifier against another labels table (e.g.
    truth labels); ``truth_masks`` scores a segmenter against true masks (a table in the layout of
    ``lesions.parquet``: instance_key, box, mask) beside the weak masks. With ``write`` the metrics
    go to ``RUN/metrics.json``, PNGs beside it and into the run's MLflow run."""
    run = Path(run)
    if not (run / "config.json").is_file():
        raise FileNotFoundError(f"{run}/config.json not found: train first (radcurate train TASK --out {run})")
    config, curated = read_run_config(run)
    if labels:
        config = dataclasses.replace(config, classify=dataclasses.replace(config.classify, labels=str(labels)))
    config = dataclasses.replace(config, device=device)
    rt = setup_runtime(config)
    data = task_data(curated, config).subset(split)
    if len(data) == 0:
        raise ValueError(f"no {split} images for this task in {curated}")
    record = json.loads((run / "run.json").read_text()) if (run / "run.json").is_file() else {}
    n_out = len(record.get("findings") or data.names) if config.task == "classify" else 1
    if config.task == "classify" and record.get("findings") and record["findings"] != data.names:
        raise ValueError(f"labels give findings {data.names}, the model was trained on {record['findings']}")
    model = load_model(run, config, n_out, rt, checkpoint)
    out = predict(model, data.x, rt, channels_last=config.channels_last)
    result: dict[str, Any] = {
        "task": config.task, "split": split, "images": len(data), "patients": int(len(set(data.patient))),
        "checkpoint": model.meta, "data_version": data_version(curated),
        "trained_on_data_version": record.get("data_version"),
        "code_version": code_version(), "trained_with_code_version": record.get("code_version"),
        "config": config.to_dict(), "labels": str(labels) if labels else None,
        "bootstrap": {"resamples": config.bootstrap, "unit": "patient", "interval": "95% percentile",
                      "dropped": "share of resamples where the metric is undefined (one class only)"},
    }
    fn = {"classify": _classify, "segment": _segment, "denoise": _denoise}[config.task]
    result.update(fn(data, out, config, run if write else None))
    if config.task == "segment" and truth_masks:
        result["truth"] = _segment_truth(data, out, config, truth_masks, curated)
    if write:
        hist = json.loads((run / "history.json").read_text()) if (run / "history.json").is_file() else []
        if hist:
            ep = [h["epoch"] for h in hist]
            series = [("train", ep, [h["train_loss"] for h in hist])]
            if all("val_loss" in h for h in hist):
                series.append(("val", ep, [h["val_loss"] for h in hist]))
            plots.line_plot(run / "loss_curves.png", series, f"{config.task} loss", "epoch", "loss")
        (run / "metrics.json").write_text(json.dumps(result, indent=1, sort_keys=True, default=_nan) + "\n")
        _track(run, config, result, split)
    return result


def _track(run: Path, config, result: dict[str, Any], split: str) -> None:
    """Log the headline metrics and the files of an evaluation into the run's MLflow run."""
    from .tracking import Tracker

    tracking = config.tracking
    if tracking == "local" and not (run / "tracking.json").is_file():
        return  # trained without tracking: do not start a store now
    tracker = Tracker(run, tracking, tensorboard=False)
    flat = {f"{split}.{k}": v for k, v in result.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    for name, r in result.get("findings", {}).items():
        flat.update({f"{split}.{name}.auc_image": r["auc_image"], f"{split}.{name}.auc_patient": r["auc_patient"]})
    for key in ("truth",):
        if isinstance(result.get(key), dict):
            flat.update({f"{split}.{key}.{k}": v for k, v in result[key].items() if isinstance(v, (int, float))})
    tracker.metrics(flat)
    for name in ("metrics.json", "roc.png", "calibration.png", "loss_curves.png", "examples.png"):
        tracker.artifact(run / name, "evaluation")
    tracker.close()


def _nan(v):
    return None if isinstance(v, float) and not np.isfinite(v) else str(v)


def _ci(res: dict[str, Any], name: str, patients: np.ndarray, stat, config, seed_offset: int = 0) -> None:
    """``res[name + "_ci"]`` (95 %, patient resamples) and ``res[name + "_ci_dropped"]`` (the share of
    resamples whose statistic was undefined, e.g. a finding with one class only)."""
    ci = M.patient_bootstrap(patients, stat, config.bootstrap, config.seed + seed_offset)
    res[f"{name}_ci"] = ci.as_list()
    res[f"{name}_ci_dropped"] = ci.dropped


def _classify(data: TaskData, logits: torch.Tensor, config, run: Path | None) -> dict[str, Any]:
    p = torch.sigmoid(logits).numpy()
    y, m = data.y.numpy(), data.mask.numpy() > 0
    findings: dict[str, Any] = {}
    curves = []
    keys, p_pat = M.by_patient(np.where(m, p, np.nan), data.patient)
    _, y_pat = M.by_patient(np.where(m, y, np.nan), data.patient)
    need = M.MIN_PATIENTS_PER_CLASS
    for j, name in enumerate(data.names):
        ok = m[:, j]
        yi, pi, pat = y[ok, j] > 0.5, p[ok, j], data.patient[ok]
        okp = np.isfinite(y_pat[:, j])
        yp, pp = y_pat[okp, j] > 0.5, p_pat[okp, j]
        auc = M.monai_auc(yi, pi)
        r: dict[str, Any] = {
            "auc_image": auc, "images": int(ok.sum()), "positives": int(yi.sum()), "patients": int(okp.sum()),
            "patients_positive": int(yp.sum()), "patients_negative": int((~yp).sum()), "masked": int((~ok).sum()),
        }
        _ci(r, "auc_image", pat, lambda ix: M.rank_auc(yi[ix], pi[ix]), config, j)
        if min(yp.sum(), (~yp).sum()) >= need:
            r["auc_patient"] = M.rank_auc(yp, pp)
            r["auc_patient_note"] = None
            _ci(r, "auc_patient", keys[okp], lambda ix: M.rank_auc(yp[ix], pp[ix]), config, 100 + j)
        else:
            r.update(auc_patient=float("nan"), auc_patient_ci=[float("nan")] * 2, auc_patient_ci_dropped=float("nan"),
                     auc_patient_note=f"not computed: {int(yp.sum())} positive / {int((~yp).sum())} negative "
                                      f"patients, fewer than {need} on a side")
        findings[name] = r
        if np.isfinite(auc):
            fpr, tpr = M.roc_curve(yi, pi)
            curves.append((f"{name} {auc:.2f}", fpr, tpr))
    valid = [n for n in data.names if np.isfinite(findings[n]["auc_image"])]
    cols = [data.names.index(n) for n in valid]
    valid_pat = [n for n in data.names if np.isfinite(findings[n]["auc_patient"])]
    cols_pat = [data.names.index(n) for n in valid_pat]

    def macro(ix):  # NaN (dropped) when a finding has one class in the resample
        v = [M.rank_auc(y[ix, j][m[ix, j]] > 0.5, p[ix, j][m[ix, j]]) for j in cols]
        return float(np.mean(v)) if v and all(np.isfinite(v)) else float("nan")

    def macro_pat(ix):
        v = []
        for j in cols_pat:
            ok = np.isfinite(y_pat[ix, j])
            v.append(M.rank_auc(y_pat[ix, j][ok] > 0.5, p_pat[ix, j][ok]))
        return float(np.mean(v)) if v and all(np.isfinite(v)) else float("nan")

    cal = M.calibration(y[m], p[m])
    res = {
        "findings": findings,
        "macro_auc_image": float(np.mean([findings[n]["auc_image"] for n in valid])) if valid else float("nan"),
        "macro_auc_patient": macro_pat(np.arange(len(keys))),
        "macro_over": valid, "macro_patient_over": valid_pat, "calibration": cal,
        "min_patients_per_class": need,
        "aggregation": "patient score = max over the patient's images; patient label = max of its labels; "
                       f"a patient-level AUC needs >= {need} positive and >= {need} negative patients",
    }
    _ci(res, "macro_auc_image", data.patient, macro, config, 500)
    if cols_pat:
        _ci(res, "macro_auc_patient", keys, macro_pat, config, 600)
    else:
        res.update(macro_auc_patient_ci=[float("nan")] * 2, macro_auc_patient_ci_dropped=float("nan"))
    if run is not None:
        plots.line_plot(run / "roc.png", curves or [("no finding with both classes", [0], [0])],
                        "ROC per finding (test images)", "false positive rate", "true positive rate",
                        xlim=(0, 1), ylim=(0, 1), diagonal=True)
        b = cal["bins"]
        plots.line_plot(run / "calibration.png",
                        [(f"ECE {cal['ece']:.3f}", [r["mean_predicted"] for r in b], [r["observed"] for r in b])],
                        "calibration (all findings)", "mean predicted", "observed frequency",
                        xlim=(0, 1), ylim=(0, 1), diagonal=True)
    return res


def _segment(data: TaskData, logits: torch.Tensor, config, run: Path | None) -> dict[str, Any]:
    thr = config.segment.threshold
    pred = (torch.sigmoid(logits) > thr).float()
    truth = data.y
    dice_img = M.monai_dice(pred, truth)  # NaN on slices without a lesion
    inter2, total = M.dice_parts(pred.numpy(), truth.numpy())
    has = truth.reshape(len(truth), -1).sum(1).numpy() > 0
    keys, inv = np.unique(data.patient, return_inverse=True)

    def mean_dice(ix):
        v = dice_img[ix][has[ix]]
        return float(np.mean(v)) if v.size else float("nan")

    # per patient: Dice over all its slices pooled (NaN without lesion nor prediction)
    num, den = np.bincount(inv, inter2, len(keys)), np.bincount(inv, total, len(keys))
    with np.errstate(invalid="ignore", divide="ignore"):
        per_patient = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    pooled = M.patient_weighted_mean(per_patient, data.patient, keys)

    empty = ~has
    fp = (pred.reshape(len(pred), -1).sum(1).numpy() > 0)[empty]
    res = {
        "dice_image": mean_dice(np.arange(len(data))),
        "dice_patient": pooled(np.arange(len(data))),
        "lesion_slices": int(has.sum()), "empty_slices": int(empty.sum()),
        "empty_slices_with_false_positive": float(fp.mean()) if fp.size else float("nan"),
        "threshold": thr, "window_hu": list(config.segment.window),
        "aggregation": "image: mean Dice over slices with a lesion; patient: Dice pooled over the "
                       "patient's slices, mean over patients",
        "reference": "weak masks of lesions.parquet (not expert contours)",
    }
    _ci(res, "dice_image", data.patient, mean_dice, config)
    _ci(res, "dice_patient", data.patient, pooled, config, 1)
    if run is not None:
        order = np.flatnonzero(has)[:6]
        rows = [[data.x[i, 0].numpy(), plots.overlay(data.x[i, 0].numpy(), [(truth[i, 0].numpy(), (0, 200, 0)),
                                                                              (pred[i, 0].numpy(), (230, 30, 30))])]
                for i in order]
        if rows:
            plots.tiles(run / "examples.png", rows, ["ct", "truth g / pred r"], "segment: test slices")
    return res


def _native_scores(data: TaskData, a: torch.Tensor, b: torch.Tensor, window) -> tuple[np.ndarray, np.ndarray]:
    """Per-image PSNR/SSIM, each slice on its own native extent (slices of other sizes are padded)."""
    if data.hw is None:
        return M.psnr_ssim(a, b, window)
    psnr, ssim = np.zeros(len(a)), np.zeros(len(a))
    for h, w in {tuple(v) for v in data.hw.tolist()}:
        i = np.flatnonzero((data.hw[:, 0] == h) & (data.hw[:, 1] == w))
        t = torch.as_tensor(i)
        psnr[i], ssim[i] = M.psnr_ssim(a[t][..., :h, :w], b[t][..., :h, :w], window)
    return psnr, ssim


def _segment_truth(data: TaskData, logits: torch.Tensor, config, table: str, curated: Path) -> dict[str, Any]:
    """Dice of the predictions and of the weak masks against true masks, on the slices that have one."""
    from .samples import masks_for

    have, truth = masks_for(curated, data.key, table, config.image_size)
    if not len(have):
        return {"slices": 0, "note": f"no slice of this split has a true mask in {table}"}
    t = torch.as_tensor(have)
    pred = (torch.sigmoid(logits[t]) > config.segment.threshold).float().numpy()
    weak = data.y[t].numpy()
    patients = data.patient[have]
    keys, inv = np.unique(patients, return_inverse=True)
    res: dict[str, Any] = {"slices": int(len(have)), "table": str(table)}
    for name, a in (("", pred), ("weak_vs_true_", weak)):
        inter2, total = M.dice_parts(a, truth.numpy())
        with np.errstate(invalid="ignore", divide="ignore"):
            per_img = np.where(total > 0, inter2 / np.where(total > 0, total, 1), np.nan)
            num, den = np.bincount(inv, inter2, len(keys)), np.bincount(inv, total, len(keys))
            per_pat = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
        img_stat = lambda ix, v=per_img: float(np.nanmean(v[ix])) if np.isfinite(v[ix]).any() else float("nan")  # noqa: E731
        pat_stat = M.patient_weighted_mean(per_pat, patients, keys)
        res[f"{name}dice_image"] = img_stat(np.arange(len(have)))
        res[f"{name}dice_patient"] = pat_stat(np.arange(len(have)))
        if not name:
            _ci(res, "dice_image", patients, img_stat, config, 2)
            _ci(res, "dice_patient", patients, pat_stat, config, 3)
    return res


def _denoise(data: TaskData, out: torch.Tensor, config, run: Path | None) -> dict[str, Any]:
    lo, hi = config.denoise.window
    to_hu = lambda t: t * (hi - lo) + lo  # noqa: E731
    ew = tuple(config.denoise.eval_window)
    psnr, ssim = _native_scores(data, to_hu(out), to_hu(data.y), ew)
    psnr0, ssim0 = _native_scores(data, to_hu(data.x), to_hu(data.y), ew)
    keys, inv = np.unique(data.patient, return_inverse=True)
    n_img = np.bincount(inv, minlength=len(keys))

    def per_patient(v):  # mean over each patient's images, then over patients as drawn
        return M.patient_weighted_mean(np.bincount(inv, v, len(keys)) / n_img, data.patient, keys)

    res: dict[str, Any] = {
        "window_hu": list(ew), "data_range_hu": float(ew[1] - ew[0]),
        "note": f"PSNR/SSIM at native resolution in HU clipped to [{ew[0]:g}, {ew[1]:g}], data range "
                f"{ew[1] - ew[0]:g} HU; SSIM Gaussian window 11 px, sigma 1.5 (3 px below 11 px). 'low_dose' is "
                "the input itself, for reference.",
        "split_source": data.info.get("split_source"),
    }
    for name, v in (("psnr", psnr), ("ssim", ssim), ("low_dose_psnr", psnr0), ("low_dose_ssim", ssim0)):
        res[f"{name}_image"] = float(np.mean(v))
        res[f"{name}_patient"] = per_patient(v)(np.arange(len(v)))
        _ci(res, f"{name}_patient", data.patient, per_patient(v), config)
    if run is not None:
        disp = lambda t: np.clip((to_hu(t).numpy() + 160) / 400, 0, 1)  # noqa: E731 soft-tissue window
        rows = [[disp(data.x[i, 0]), disp(out[i, 0]), disp(data.y[i, 0])] for i in range(min(4, len(data)))]
        plots.tiles(run / "examples.png", rows, ["low dose", "denoised", "full dose"],
                    "denoise: test slices, window -160..240 HU")
    return res


def summary(result: dict[str, Any]) -> str:
    """The lines ``radcurate evaluate`` prints: each interval with the share of dropped resamples."""
    def ci(r, key):
        v, d = r.get(key + "_ci"), r.get(key + "_ci_dropped")
        if v is None or any(x is None or not np.isfinite(x) for x in v):
            text = "[n/a]"
        else:
            text = f"[{v[0]:.3f}, {v[1]:.3f}]"
        if d is not None and np.isfinite(d) and d > 0:
            text += f" {100 * d:.0f}% dropped"
        return text

    def f(v):
        return "n/a" if v is None or not np.isfinite(v) else f"{v:.3f}"

    head = (f"{result['task']} on {result['split']}: {result['images']} images of {result['patients']} patients "
            f"(data {result['data_version']}, code {result['code_version']}); 95% CIs resample patients "
            "(share of resamples dropped where the metric is undefined)")
    lines = [head]
    if result["task"] == "classify":
        lines.append(f"{'finding':24} {'AUC image':>10} {'95% CI':>26} {'AUC patient':>12} {'95% CI':>26}  pos/n img, pat")
        notes = []
        for name, r in result["findings"].items():
            lines.append(f"{name:24} {f(r['auc_image']):>10} {ci(r, 'auc_image'):>26} {f(r['auc_patient']):>12} "
                         f"{ci(r, 'auc_patient'):>26}  {r['positives']}/{r['images']}, "
                         f"{r['patients_positive']}/{r['patients']}")
            if r.get("auc_patient_note"):
                notes.append(f"{name}: patient AUC {r['auc_patient_note']}")
        lines.append(f"{'macro':24} {f(result['macro_auc_image']):>10} {ci(result, 'macro_auc_image'):>26} "
                     f"{f(result['macro_auc_patient']):>12} {ci(result, 'macro_auc_patient'):>26}")
        lines += notes
        lines.append(f"calibration ECE {result['calibration']['ece']:.3f}")
    elif result["task"] == "segment":
        lines.append(f"Dice per image {f(result['dice_image'])} {ci(result, 'dice_image')}; per patient "
                     f"{f(result['dice_patient'])} {ci(result, 'dice_patient')} ({result['lesion_slices']} lesion "
                     f"slices; reference: {result['reference']})")
        if result.get("truth"):
            t = result["truth"]
            lines.append(f"against true masks ({t['slices']} slices): Dice per image {f(t['dice_image'])} "
                         f"{ci(t, 'dice_image')}, per patient {f(t['dice_patient'])} {ci(t, 'dice_patient')}; "
                         f"weak masks vs true: per image {f(t['weak_vs_true_dice_image'])}, per patient "
                         f"{f(t['weak_vs_true_dice_patient'])}")
    else:
        lines.append(result["note"])
        for k in ("psnr", "ssim", "low_dose_psnr", "low_dose_ssim"):
            lines.append(f"{k:14} image {f(result[k + '_image'])}  patient {f(result[k + '_patient'])} "
                         f"{ci(result, k + '_patient')}")
    return "\n".join(lines)
