"""``radcurate train classify|segment|denoise``, ``radcurate evaluate``, ``radcurate predict`` and
``radcurate export``: baselines on the curated data, their scores, predictions and portable models.

Multi-process (DDP): ``torchrun --nproc_per_node N -m radcurate.training.cli train ...`` runs the
same command on N processes (NCCL on GPUs, gloo on CPU); rank 0 writes the run folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import MONITOR_CHOICES, POLICIES, SCHEDULES, TASKS, config_from_dict


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train a baseline (classify, segment, denoise) on a curated dataset",
        description=(
            "Train a baseline on OUT/curated: classify (DenseNet-121, multi-label findings from "
            "labels.parquet), segment (U-Net, lesion weak masks of lesions.parquet) or denoise "
            "(RED-CNN, synthetic/lowdose pairs). Patients stay in their split; a patient in two "
            "splits is refused before training. Rerunning the same command resumes from the last "
            "checkpoint. Multi-GPU/CPU: torchrun --nproc_per_node N -m radcurate.training.cli train ..."),
    )
    p.add_argument("task", choices=TASKS)
    p.add_argument("--curated", required=True, metavar="DIR", help="the curated dataset folder (OUT/curated)")
    p.add_argument("--out", required=True, metavar="RUN", help="run folder (checkpoints, metrics, plots)")
    p.add_argument("--epochs", type=int, help="epochs (default 10)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default auto: CUDA when present")
    p.add_argument("--batch-size", type=int, help="global batch size, split over processes (default 16)")
    p.add_argument("--image-size", type=int, help="square input size in pixels (default 224)")
    p.add_argument("--lr", type=float, help="peak AdamW learning rate, after the warm-up (default 1e-3)")
    p.add_argument("--weight-decay", type=float, help="AdamW decoupled weight decay, not on biases/norms (default 1e-4)")
    p.add_argument("--schedule", choices=SCHEDULES,
                   help="learning-rate schedule per step (default cosine after a linear warm-up)")
    p.add_argument("--warmup-epochs", type=float, help="linear warm-up length in epochs (default 1)")
    p.add_argument("--monitor", choices=MONITOR_CHOICES,
                   help="validation metric for early stopping and best.pt (auto: val_auc / val_dice / val_psnr)")
    p.add_argument("--patience", type=int, help="stop after N epochs without improvement (default 5; 0: never)")
    p.add_argument("--augment", action="store_true", default=None,
                   help="classify, segment: BatchAugment on each batch on its device (the task's recipe)")
    p.add_argument("--balanced", action="store_true", default=None,
                   help="classify: oversample rare findings (training rows only)")
    p.add_argument("--init", metavar="PATH",
                   help="start from these weights: a RUN folder, its checkpoints/best.pt, or a state dict "
                        "(a local file: nothing is downloaded)")
    p.add_argument("--tracking", metavar="URI",
                   help="MLflow: local (RUN/mlflow.db, the default), none, or a tracking URI")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"),
                   help="autocast dtype (auto: bf16 on CUDA, fp32 on CPU)")
    p.add_argument("--small", action="store_true", default=None, help="a narrow model, for CPU smoke runs")
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the model")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false", default=None)
    p.add_argument("--labels", metavar="PARQUET", help="classify: another labels table (same layout)")
    p.add_argument("--policy", action="append", default=[], metavar="FINDING=POLICY",
                   help=f"classify: uncertainty policy for a finding ({', '.join(POLICIES)}); repeatable")
    p.add_argument("--label-weighting", choices=("none", "confidence", "soft"),
                   help="classify: weigh labels by the label model's probability")
    p.add_argument("--config", metavar="JSON", help="a JSON file of TrainConfig settings (flags win)")
    p.set_defaults(func=train_command)

    e = subparsers.add_parser(
        "evaluate", help="score a trained run by image and by patient (95%% CIs), write metrics and plots",
        description=("Evaluate RUN on its test patients: AUC per finding and macro (classify), Dice "
                     "(segment), PSNR/SSIM in a stated HU window (denoise), per image and per patient, "
                     "with 95% bootstrap CIs over patients; writes RUN/metrics.json and PNG plots."),
    )
    e.add_argument("run", metavar="RUN")
    e.add_argument("--split", default="test", choices=("train", "val", "test"))
    e.add_argument("--labels", metavar="PARQUET", help="classify: score against another labels table (e.g. truth)")
    e.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    e.add_argument("--checkpoint", default="best", choices=("best", "last"),
                   help="weights of the best validation epoch (default) or of the last epoch")
    e.add_argument("--truth-masks", metavar="PARQUET",
                   help="segment: also score against true masks (lesions.parquet layout), and the weak masks too")
    e.set_defaults(func=evaluate_command)

    pr = subparsers.add_parser(
        "predict", help="predictions of a trained run per image and per patient, as Parquet",
        description=("Run RUN's model (best checkpoint) on the images of a curated dataset (any site's: "
                     "labels are not needed) and write FILE: one row per image (classify: a probability "
                     "per finding; segment: lesion probability and mask area; denoise: the denoised slice) "
                     "and FILE's sibling *_patients.parquet (max over a patient's images), each with "
                     "the data version, the run and the checkpoint."),
    )
    pr.add_argument("run", metavar="RUN")
    pr.add_argument("--curated", required=True, metavar="DIR", help="the curated dataset to predict on")
    pr.add_argument("--out", required=True, metavar="FILE", help="Parquet file for the per-image predictions")
    pr.add_argument("--split", choices=("train", "val", "test", "all"), default="all",
                    help="only images of this split (default all; a dataset without splits.parquet: all)")
    pr.add_argument("--checkpoint", default="best", choices=("best", "last"))
    pr.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    pr.set_defaults(func=predict_command)

    x = subparsers.add_parser(
        "export", help="export a trained run's model to ONNX or TorchScript (parity-checked)",
        description=("Write RUN/export/model.onnx (ONNX, opset 17, dynamic batch) or model.pt (TorchScript) "
                     "from the best checkpoint, with a JSON sidecar (inputs, preprocessing, findings); the "
                     "export is run on sample inputs and compared with torch (max abs difference printed)."),
    )
    x.add_argument("run", metavar="RUN")
    x.add_argument("--format", required=True, choices=("onnx", "torchscript"))
    x.add_argument("--checkpoint", default="best", choices=("best", "last"))
    x.add_argument("--out", metavar="FILE", help="default RUN/export/model.onnx or model.pt")
    x.set_defaults(func=export_command)


def build_config(args: argparse.Namespace):
    d: dict = json.loads(Path(args.config).read_text()) if args.config else {}
    d["task"] = args.task
    for flag, key in (("epochs", "epochs"), ("device", "device"), ("batch_size", "batch_size"),
                      ("image_size", "image_size"), ("lr", "lr"), ("seed", "seed"), ("precision", "precision"),
                      ("small", "small"), ("compile", "compile"), ("channels_last", "channels_last"),
                      ("weight_decay", "weight_decay"), ("schedule", "schedule"),
                      ("warmup_epochs", "warmup_epochs"), ("monitor", "monitor"), ("patience", "patience"),
                      ("augment", "augment"), ("balanced", "balanced"), ("tracking", "tracking")):
        v = getattr(args, flag, None)
        if v is not None:
            d[key] = v
    if getattr(args, "init", None):
        d["init"] = str(Path(args.init).resolve())
    cls = dict(d.get("classify", {}))
    if args.labels:
        cls["labels"] = str(Path(args.labels).resolve())
    if args.label_weighting:
        cls["label_weighting"] = args.label_weighting
    if args.policy:
        pol = dict(cls.get("policies", {}))
        for item in args.policy:
            finding, _, policy = item.partition("=")
            pol[finding.strip()] = policy.strip()
        cls["policies"] = pol
    if cls:
        d["classify"] = cls
    return config_from_dict(d)


def train_command(args: argparse.Namespace) -> int:
    from .engine import train
    from radcurate.splits import SplitLeakError

    from .samples import DataError

    try:
        config = build_config(args)
        record = train(args.curated, args.out, config)
    except SplitLeakError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    except (DataError, ValueError, FileNotFoundError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    h = record["history"][-1] if record["history"] else {}
    if record.get("world_size", 1) == 1 or _rank() == 0:
        stop = " (early stop)" if record.get("stopped_early") else ""
        best = (f"; best {record['monitor']} {record['best_value']:.4f} at epoch {record['best_epoch']} "
                f"-> checkpoints/best.pt") if record.get("best_value") is not None else ""
        print(f"trained {record['task']} for {record['epochs_done']} epochs{stop} on {record['device']} "
              f"({record['world_size']} process(es), {record['precision']}, {record['optimizer']['schedule']} "
              f"schedule): train loss {h.get('train_loss', float('nan')):.4f}"
              + (f", val loss {h['val_loss']:.4f}" if "val_loss" in h else "") + best
              + f"; run folder {args.out}; next: radcurate evaluate {args.out}")
    return 0


def _rank() -> int:
    import os

    return int(os.environ.get("RANK", "0"))


def evaluate_command(args: argparse.Namespace) -> int:
    from .evaluate import evaluate, summary
    from .samples import DataError

    try:
        result = evaluate(args.run, split=args.split, labels=args.labels, device=args.device,
                          checkpoint=args.checkpoint, truth_masks=args.truth_masks)
    except (DataError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary(result))
    print(f"wrote {Path(args.run) / 'metrics.json'} and plots")
    return 0


def predict_command(args: argparse.Namespace) -> int:
    from .predict import predict_run
    from .samples import DataError

    try:
        info = predict_run(args.run, args.curated, args.out, split=args.split, checkpoint=args.checkpoint,
                           device=args.device)
    except (DataError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"predicted {info['images']} images of {info['patients']} patients with {args.run} "
          f"({info['checkpoint']}, epoch {info['epoch']}) on data {info['data_version']}: wrote {info['images_file']} "
          f"and {info['patients_file']}")
    return 0


def export_command(args: argparse.Namespace) -> int:
    from .export import export_run

    try:
        info = export_run(args.run, args.format, out=args.out, checkpoint=args.checkpoint)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"exported {info['task']} ({info['checkpoint']}, epoch {info['epoch']}) to {info['path']} "
          f"({info['format']}); parity with torch on {info['parity']['inputs']} inputs: max abs difference "
          f"{info['parity']['max_abs_diff']:.2e} (tolerance {info['parity']['tolerance']:g})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="radcurate-train")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
