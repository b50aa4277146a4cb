"""What a practitioner expects of a training run: a schedule, early stopping and the best epoch kept,
augmentation and balanced sampling in the loop, tracked runs (MLflow, TensorBoard), predictions as
Parquet, exports that match torch, starting from local weights, denoising at native resolution and
segmentation scored against true masks.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import training_data as td
from radcurate.training.config import TrainConfig

SMALL = ["--small", "--image-size", "32", "--batch-size", "8", "--device", "cpu"]


def cli(*args) -> int:
    from radcurate.dags.cli import main

    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    return td.radiographs(tmp_path_factory.mktemp("cxr") / "curated")


@pytest.fixture(scope="module")
def tracked_run(curated, tmp_path_factory):
    """A 3-epoch classify run with augmentation and balanced sampling, tracked (the defaults)."""
    run = tmp_path_factory.mktemp("run") / "cls"
    assert cli("train", "classify", "--curated", curated, "--out", run, "--epochs", 3, "--augment", "--balanced",
               "--lr", "0.003", *SMALL) == 0
    return run


def test_cosine_schedule_warms_up_then_decays():
    from radcurate.training.schedule import make_optimizer, make_scheduler

    cfg = TrainConfig(epochs=4, lr=0.01, warmup_epochs=1.0, min_lr_ratio=0.01)
    model = torch.nn.Linear(3, 2)
    opt = make_optimizer(model, cfg)
    sched = make_scheduler(opt, cfg, steps_per_epoch=10)
    lrs = []
    for _ in range(40):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(1e-4) and max(lrs) == pytest.approx(0.01)
    assert all(a < b for a, b in zip(lrs[:10], lrs[1:11]))  # warm-up rises
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:])) and lrs[-1] == pytest.approx(1e-4, rel=0.05)
    # weight decay on weights, not on biases
    assert [g["weight_decay"] for g in opt.param_groups] == [cfg.weight_decay, 0.0]
    assert opt.param_groups[1]["params"][0] is model.bias


def test_early_stopping_follows_the_monitor():
    from radcurate.training.schedule import EarlyStopping

    auc = EarlyStopping("val_auc", patience=2)
    assert auc.update(1, 0.6) and auc.update(2, 0.7) and not auc.update(3, 0.69) and not auc.stop
    assert not auc.update(4, float("nan")) and auc.stop and auc.best_epoch == 2
    loss = EarlyStopping("val_loss", patience=0)
    assert loss.update(1, 1.0) and loss.update(2, 0.5) and not loss.update(3, 0.6) and not loss.stop


def test_a_tracked_run_keeps_best_and_last_and_logs_to_mlflow_and_tensorboard(tracked_run, capsys):
    run = tracked_run
    rec = json.loads((run / "run.json").read_text())
    assert (run / "checkpoints" / "best.pt").is_file() and (run / "checkpoints" / "last.pt").is_file()
    assert rec["optimizer"]["schedule"] == "cosine" and rec["monitor"] == "val_auc"
    assert 1 <= rec["best_epoch"] <= 3 and rec["augmentation"]["rotate_deg"] == 10.0 and rec["balanced"]
    hist = json.loads((run / "history.json").read_text())
    assert hist[0]["lr"] < hist[1]["lr"]  # warm-up: the first epoch starts at lr/100
    best = torch.load(run / "checkpoints" / "best.pt", weights_only=True)
    assert best["epoch"] == rec["best_epoch"] and best["metric"] == "val_auc"

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=rec["tracking"]["mlflow_uri"])
    mrun = client.get_run(rec["tracking"]["mlflow_run_id"])
    assert mrun.info.status == "FINISHED"
    assert mrun.data.params["config.lr"] == "0.003" and mrun.data.params["config.augment"] == "True"
    assert [m.step for m in client.get_metric_history(mrun.info.run_id, "train_loss")] == [1, 2, 3]
    assert {a.path for a in client.list_artifacts(mrun.info.run_id)} >= {"config.json", "run.json", "history.json"}

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    assert {"train_loss", "val_loss", "val_auc", "lr"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("val_auc")] == [1, 2, 3]

    # evaluate takes the best epoch by default and logs into the same MLflow run
    assert cli("evaluate", run, "--device", "cpu") == 0
    m = json.loads((run / "metrics.json").read_text())
    assert m["checkpoint"] == {"checkpoint": "best.pt", "epoch": rec["best_epoch"]}
    metrics = client.get_run(rec["tracking"]["mlflow_run_id"]).data.metrics
    assert "test.macro_auc_image" in metrics and "test.Effusion.auc_image" in metrics
    assert cli("evaluate", run, "--device", "cpu", "--checkpoint", "last") == 0
    assert json.loads((run / "metrics.json").read_text())["checkpoint"]["epoch"] == 3


def test_predict_writes_images_and_patients_with_the_data_version(tracked_run, curated, tmp_path):
    out = tmp_path / "pred.parquet"
    assert cli("predict", tracked_run, "--curated", curated, "--out", out, "--device", "cpu") == 0
    img = pd.read_parquet(out)
    pat = pd.read_parquet(tmp_path / "pred_patients.parquet")
    rec = json.loads((tracked_run / "run.json").read_text())
    n_images = len(img["instance_key"].unique())
    assert set(img["finding"]) == set(td.FINDINGS) and len(img) == n_images * len(td.FINDINGS)
    assert (img["data_version"] == rec["data_version"]).all() and (img["checkpoint"] == "best.pt").all()
    assert img["probability"].between(0, 1).all()
    top = img.groupby(["patient_key", "finding"])["probability"].max()
    assert np.allclose(pat.set_index(["patient_key", "finding"])["probability"].loc[top.index], top)
    assert set(img["split"]) == {"train", "val", "test"}
    # --split test: exactly the test patients' images
    assert cli("predict", tracked_run, "--curated", curated, "--out", tmp_path / "t.parquet", "--split", "test",
               "--device", "cpu") == 0
    assert set(pd.read_parquet(tmp_path / "t.parquet")["split"]) == {"test"}


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_matches_torch_on_real_images(tracked_run, curated, fmt):
    from radcurate.training.engine import Runtime, load_model, read_run_config
    from radcurate.training.predict import inference_images

    assert cli("export", tracked_run, "--format", fmt) == 0
    path = tracked_run / "export" / ("model.onnx" if fmt == "onnx" else "model.pt")
    side = json.loads(path.with_suffix(".json").read_text())
    assert side["parity"]["max_abs_diff"] <= 1e-4 and side["outputs"] == sorted(td.FINDINGS)
    config, _ = read_run_config(tracked_run)
    _, x, _ = inference_images(curated, config)
    model = load_model(tracked_run, config, len(td.FINDINGS), Runtime(torch.device("cpu")))
    with torch.no_grad():
        ref = model(x).numpy()
    if fmt == "onnx":
        import onnxruntime as ort

        got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"image": x.numpy()})[0]
    else:
        got = torch.jit.load(str(path))(x).detach().numpy()
    assert np.abs(got - ref).max() < 1e-4


def test_init_starts_from_local_weights_and_says_nothing_is_downloaded(tracked_run, curated, tmp_path, capsys):
    from radcurate.training.models import build_model, load_init

    cfg = TrainConfig(task="classify", small=True)
    other = build_model(cfg, out_channels=5)  # another site's findings: another head
    info = load_init(other, str(tracked_run))
    best = torch.load(tracked_run / "checkpoints" / "best.pt", weights_only=True)["model"]
    assert info["loaded"] > 10 and any("class_layers" in k for k in info["kept_fresh"])
    assert torch.equal(other.state_dict()["features.conv0.weight"], best["features.conv0.weight"])
    assert cli("train", "classify", "--curated", curated, "--out", tmp_path / "r", "--epochs", 1,
               "--tracking", "none", "--init", tmp_path / "missing.pt", *SMALL) == 2
    assert "nothing is downloaded" in capsys.readouterr().err
    assert cli("train", "classify", "--curated", curated, "--out", tmp_path / "r2", "--epochs", 1,
               "--tracking", "none", "--init", tracked_run / "checkpoints" / "best.pt", *SMALL) == 0
    rec = json.loads((tmp_path / "r2" / "run.json").read_text())
    assert rec["init"]["loaded"] == len(best) and rec["init"]["kept_fresh"] == []


def test_augmentation_runs_on_the_batch_and_balancing_uses_training_rows_only(curated):
    from radcurate.training.engine import Runtime, epoch_batches, gather, sampling_weights, training_batch
    from radcurate.training.samples import task_data

    cfg = TrainConfig(task="classify", small=True, image_size=32, augment=True, balanced=True)
    data = task_data(curated, cfg)
    tr = data.subset("train")
    rt = Runtime(torch.device("cpu"))
    idx = torch.arange(8)
    plain = gather(tr, idx, rt)["x"]
    aug = training_batch(cfg, tr, idx, rt, epoch=0, step=0)["x"]
    assert aug.shape == plain.shape and aug.device == plain.device and not torch.allclose(aug, plain)
    assert torch.equal(aug, training_batch(cfg, tr, idx, rt, epoch=0, step=0)["x"])  # the step's own seed
    with pytest.raises(ValueError, match="training split only"):
        sampling_weights(data)  # val and test rows refused
    w = sampling_weights(tr)
    drawn = torch.cat(epoch_batches(len(tr), 8, 0, 0, w) + epoch_batches(len(tr), 8, 1, 0, w))
    y, m = tr.y.numpy(), tr.mask.numpy() > 0
    rare = int(np.argmin([(y[m[:, j], j] > 0.5).mean() for j in range(y.shape[1])]))
    natural = (y[:, rare] > 0.5).mean()
    assert (y[drawn.numpy(), rare] > 0.5).mean() > natural
    with pytest.raises(ValueError, match="denoise"):
        TrainConfig(task="denoise", augment=True)


def test_denoise_trains_on_native_patches_and_scores_at_native_resolution(tmp_path):
    from radcurate.training.samples import task_data

    cur = td.lowdose_pairs(tmp_path / "curated", size=48)
    data = task_data(cur, TrainConfig(task="denoise", image_size=16))
    assert tuple(data.x.shape[-2:]) == (48, 48) and "native" in data.info["resolution"]
    run = tmp_path / "den"
    assert cli("train", "denoise", "--curated", cur, "--out", run, "--epochs", 2, "--small", "--batch-size", 8,
               "--device", "cpu", "--tracking", "none") == 0
    from radcurate.training.evaluate import evaluate

    m = evaluate(run, device="cpu", write=False)
    assert "native resolution" in m["note"] and np.isfinite(m["psnr_patient"])


def test_segment_is_scored_against_true_masks_where_they_exist(tmp_path):
    import pyarrow.parquet as pq

    from radcurate.training.evaluate import evaluate

    cur = td.ct_lesions(tmp_path / "curated")
    run = tmp_path / "seg"
    assert cli("train", "segment", "--curated", cur, "--out", run, "--epochs", 2, *SMALL, "--tracking", "none") == 0
    weak = pq.read_table(cur / "lesions.parquet").to_pandas()
    weak.to_parquet(tmp_path / "same.parquet")
    m = evaluate(run, device="cpu", write=False, truth_masks=str(tmp_path / "same.parquet"))
    assert m["truth"]["slices"] > 0 and m["truth"]["weak_vs_true_dice_image"] == pytest.approx(1.0)
    shifted = weak.assign(box_x0=weak["box_x0"] + 2, box_x1=weak["box_x1"] + 2)
    shifted.to_parquet(tmp_path / "shifted.parquet")
    s = evaluate(run, device="cpu", write=False, truth_masks=str(tmp_path / "shifted.parquet"))
    assert s["truth"]["weak_vs_true_dice_image"] < 0.95 and np.isfinite(s["truth"]["dice_image"])
