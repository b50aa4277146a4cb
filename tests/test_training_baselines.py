"""Training baselines: a user trains and evaluates each task on a small curated dataset.

Stories: a split leak is refused before training; a killed run resumes to the same weights as an
uninterrupted one; u_ignore labels do not touch the loss; two DDP processes (gloo, CPU) follow one
process; evaluation reports per-finding AUC with patient-bootstrap CIs and writes its plots.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

import training_data as td
from radcurate.training import metrics as M
from radcurate.training.config import ClassifyConfig, TrainConfig
from radcurate.training.engine import train
from radcurate.training.losses import masked_bce
from radcurate.splits import SplitLeakError
from radcurate.training.samples import label_targets

RADCURATE = [sys.executable, "-m", "radcurate.dags.cli"]
SMALL = ["--small", "--image-size", "32", "--batch-size", "8", "--device", "cpu"]


def run_cli(*args, capsys=None) -> tuple[int, str, str]:
    """``radcurate ARGS`` in this process (the console script's own ``main``): code, stdout, stderr."""
    from radcurate.dags.cli import main

    code = main([str(a) for a in args])
    out = capsys.readouterr() if capsys else None
    return code, out.out if out else "", out.err if out else ""


def weights(run: Path) -> dict[str, torch.Tensor]:
    """The last epoch's weights (checkpoints/last.pt)."""
    return torch.load(run / "checkpoints" / "last.pt", map_location="cpu", weights_only=False)["model"]


CLASSIFY_EPOCHS = 8


@pytest.fixture(scope="module")
def radiographs(tmp_path_factory):
    return td.radiographs(tmp_path_factory.mktemp("cxr") / "curated")


@pytest.fixture(scope="module")
def classify_run(radiographs, tmp_path_factory):
    """An uninterrupted classify run (also the reference for the resume story)."""
    run = tmp_path_factory.mktemp("cxr_run") / "run"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # bitwise resume is promised for the same thread count (the killed run's)
    try:
        code, _, _ = run_cli("train", "classify", "--curated", radiographs, "--out", run,
                             "--epochs", CLASSIFY_EPOCHS, *SMALL)
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    return run


def test_split_leak_is_refused_before_training(radiographs, tmp_path, capsys):
    leaky = tmp_path / "curated"
    leaky.mkdir()
    for name in ("images", "labels.parquet", "manifest.json"):
        (leaky / name).symlink_to(radiographs / name)
    splits = pq.read_table(radiographs / "splits.parquet").to_pandas()
    moved = splits[splits["split"] == "test"].iloc[:1].assign(split="train")
    pd.concat([splits, moved]).to_parquet(leaky / "splits.parquet", index=False)

    code, _, err = run_cli("train", "classify", "--curated", leaky, "--out", tmp_path / "run", "--epochs", 1,
                           *SMALL, capsys=capsys)
    assert code == 2
    assert "refused" in err and "more than one split" in err
    assert not (tmp_path / "run").exists()  # nothing trained, no checkpoint
    with pytest.raises(SplitLeakError):
        train(leaky, tmp_path / "run2", TrainConfig(task="classify", small=True, image_size=32, epochs=1))
    assert not (tmp_path / "run2").exists()


def test_u_ignore_masks_the_loss():
    labels = pd.DataFrame({
        "study_key": ["S1", "S1", "S1", "S2", "S2", "S2"],
        "vocabulary": "chestxray14",
        "finding": ["Atelectasis", "Edema", "Nodule"] * 2,
        "value": [-1, -1, -1, 1, 0, None],
        "probability": [0.5, 0.5, 0.5, 0.9, 0.2, 0.1],
        "policy": ["u_ones", "u_ignore", "u_ignore"] * 2,
    })
    cfg = ClassifyConfig(policies={"Nodule": "u_zeros"})  # a per-finding override beats the table's policy
    target, mask, _, names = label_targets(labels, cfg)
    assert names == ["Atelectasis", "Edema", "Nodule"]
    assert target.loc["S1"].tolist() == [1.0, 0.0, 0.0] and mask.loc["S1"].tolist() == [1.0, 0.0, 1.0]
    assert target.loc["S2"].tolist() == [1.0, 0.0, 0.0] and mask.loc["S2"].tolist() == [1.0, 1.0, 1.0]

    # The masked label's logit and target change neither the loss nor any other gradient.
    t = torch.tensor(target.to_numpy(np.float32))
    m = torch.tensor(mask.to_numpy(np.float32))
    logits = torch.randn(2, 3, requires_grad=True)
    s, c = masked_bce(logits, t, m)
    (s / c).backward()
    assert logits.grad[0, 1] == 0 and (logits.grad[m > 0] != 0).all()
    assert c == 5
    other = logits.detach().clone()
    other[0, 1] = 50.0
    t2 = t.clone()
    t2[0, 1] = 1.0
    assert torch.isclose(masked_bce(other, t2, m)[0], s.detach())
    # and training on it: the ignored label is the one whose loss term does not exist
    ignore_all = ClassifyConfig(default_policy="u_ignore", policies={})
    _, mask_all, _, _ = label_targets(labels.drop(columns="policy"), ignore_all)
    assert mask_all.loc["S1"].tolist() == [0.0, 0.0, 0.0]


def test_train_and_evaluate_classify_by_patient(classify_run, capsys):
    run = classify_run
    assert json.loads((run / "run.json").read_text())["epochs_done"] == CLASSIFY_EPOCHS
    code, out, err = run_cli("evaluate", run, "--device", "cpu", capsys=capsys)
    assert code == 0, err
    for finding in td.FINDINGS:
        assert finding in out
    assert "95% CIs resample patients" in out and "macro" in out
    m = json.loads((run / "metrics.json").read_text())
    assert m["data_version"].startswith("manifest:") and m["code_version"].startswith("0.")
    assert m["config"]["task"] == "classify" and m["bootstrap"]["unit"] == "patient"
    eff = m["findings"]["Effusion"]  # a bright lung base: learnt in a few epochs
    assert eff["auc_image"] > 0.7
    lo, hi = eff["auc_image_ci"]
    assert lo <= eff["auc_image"] <= hi
    assert m["findings"]["Cardiomegaly"]["masked"] > 0  # u_ignore labels are not scored either
    assert len(m["calibration"]["bins"]) >= 2
    for png in ("roc.png", "calibration.png", "loss_curves.png"):
        assert (run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_segment_and_denoise_end_to_end(tmp_path, capsys):
    seg = td.ct_lesions(tmp_path / "ct" / "curated")
    code, _, err = run_cli("train", "segment", "--curated", seg, "--out", tmp_path / "seg", "--epochs", 8,
                           "--lr", "0.01", *SMALL, capsys=capsys)
    assert code == 0, err
    code, out, err = run_cli("evaluate", tmp_path / "seg", "--device", "cpu", capsys=capsys)
    assert code == 0, err
    assert "Dice per image" in out
    m = json.loads((tmp_path / "seg" / "metrics.json").read_text())
    assert m["lesion_slices"] > 0 and 0.0 <= m["dice_image"] <= 1.0 and m["dice_patient_ci"][0] is not None
    assert (tmp_path / "seg" / "examples.png").is_file()

    den = td.lowdose_pairs(tmp_path / "ld" / "curated")
    # 4 epochs of 8 native patches per slice: more optimiser steps than 12 epochs of whole slices
    code, _, err = run_cli("train", "denoise", "--curated", den, "--out", tmp_path / "den", "--epochs", 4,
                           "--lr", "0.003", "--small", "--image-size", 32, "--batch-size", 4, "--device", "cpu",
                           capsys=capsys)
    assert code == 0, err
    code, out, err = run_cli("evaluate", tmp_path / "den", "--device", "cpu", capsys=capsys)
    assert code == 0, err
    assert "data range 2000 HU" in out
    m = json.loads((tmp_path / "den" / "metrics.json").read_text())
    assert m["split_source"].startswith("patient holdout")  # pairs come from training patients only
    assert m["psnr_patient"] > m["low_dose_psnr_patient"]  # the denoiser beats its noisy input


@pytest.mark.slow
def test_resume_after_kill_matches_uninterrupted(radiographs, classify_run, tmp_path, capsys):
    args = ["train", "classify", "--curated", radiographs, "--epochs", CLASSIFY_EPOCHS, *SMALL]
    run = tmp_path / "killed"
    proc = subprocess.Popen([*RADCURATE, *map(str, args), "--out", str(run)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ, OMP_NUM_THREADS="1"))
    ckpt = run / "checkpoints" / "last.pt"
    deadline = time.time() + 240
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "run.json").exists(), "the run finished before it could be killed"
    done = torch.load(ckpt, weights_only=False)["epoch"]
    assert 1 <= done < CLASSIFY_EPOCHS

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        code, _, err = run_cli(*args, "--out", run, capsys=capsys)
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    assert f"resuming {run} after epoch {done}" in err
    a, b = weights(classify_run), weights(run)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    h1 = json.loads((classify_run / "history.json").read_text())
    h2 = json.loads((run / "history.json").read_text())
    assert [h["train_loss"] for h in h1] == [h["train_loss"] for h in h2]


@pytest.mark.slow
def test_ddp_two_processes_match_one(tmp_path):
    """Two gloo processes with half of each global batch reach the weights of one process.

    Tolerance: 1e-4 absolute on every weight and 0.01 dB PSNR (float sums in another order).
    """
    cur = td.lowdose_pairs(tmp_path / "curated")
    # one patch per slice and epoch: few steps, so float summation order cannot drift far under Adam
    (tmp_path / "cfg.json").write_text(json.dumps({"denoise": {"patches_per_image": 1}}))
    args = ["train", "denoise", "--curated", cur, "--epochs", 3, "--config", tmp_path / "cfg.json", *SMALL]
    code, _, err = run_cli(*args, "--out", tmp_path / "one")
    assert code == 0, err
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with socket.socket() as sock:  # a free port: other test sessions may share this machine
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_addr", "127.0.0.1", "--master_port", str(port), "-m", "radcurate.training.cli", *map(str, args),
                          "--out", str(tmp_path / "two")], capture_output=True, text=True, timeout=300, env=env)
    assert two.returncode == 0, two.stderr[-3000:]
    rec = json.loads((tmp_path / "two" / "run.json").read_text())
    assert rec["world_size"] == 2
    a, b = weights(tmp_path / "one"), weights(tmp_path / "two")
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-4
    from radcurate.training.evaluate import evaluate

    m1 = evaluate(tmp_path / "one", device="cpu", write=False)
    m2 = evaluate(tmp_path / "two", device="cpu", write=False)
    assert abs(m1["psnr_patient"] - m2["psnr_patient"]) < 0.01


def test_auc_and_patient_bootstrap():
    rng = np.random.default_rng(0)
    y = rng.random(200) < 0.3
    s = np.round(rng.random(200) + y * 0.5, 1)  # ties on purpose
    assert abs(M.rank_auc(y, s) - M.monai_auc(y, s)) < 1e-9
    # Ten identical images per patient: resampling patients gives exactly the interval of one image
    # each, where resampling images would have narrowed it.
    pts = np.array([f"P{i}" for i in range(40)])
    yp, sp = y[:40], s[:40]
    one = M.patient_bootstrap(pts, lambda ix: M.rank_auc(yp[ix], sp[ix]), n=200, seed=3)
    rep = np.repeat(np.arange(40), 10)
    ten = M.patient_bootstrap(pts[rep], lambda ix: M.rank_auc(yp[rep][ix], sp[rep][ix]), n=200, seed=3)
    assert one == pytest.approx(ten)
