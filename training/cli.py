"""``radcurate train classify|segment|denoise`` and ``radcurate evaluate``: baselines on the curated data.

Multi-process (DDP): ``torchrun --nproc_per_node N -m radcurate.training.cli train ...`` runs the
same command on N processes (NCCL on GPUs, gloo on CPU); rank 0 writes the run folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import POLICIES, TASKS, config_from_dict


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
    p.add_argument("--lr", type=float, help="AdamW learning rate (default 1e-3)")
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
    e.set_defaults(func=evaluate_command)


def build_config(args: argparse.Namespace):
    d: dict = json.loads(Path(args.config).read_text()) if args.config else {}
    d["task"] = args.task
    for flag, key in (("epochs", "epochs"), ("device", "device"), ("batch_size", "batch_size"),
                      ("image_size", "image_size"), ("lr", "lr"), ("seed", "seed"), ("precision", "precision"),
                      ("small", "small"), ("compile", "compile"), ("channels_last", "channels_last")):
        v = getattr(args, flag, None)
        if v is not None:
            d[key] = v
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
        print(f"trained {record['task']} for {record['epochs_done']} epochs on {record['device']} "
              f"({record['world_size']} process(es), {record['precision']}): train loss "
              f"{h.get('train_loss', float('nan')):.4f}"
              + (f", val loss {h['val_loss']:.4f}" if "val_loss" in h else "")
              + f"; run folder {args.out}; next: radcurate evaluate {args.out}")
    return 0


def _rank() -> int:
    import os

    return int(os.environ.get("RANK", "0"))


def evaluate_command(args: argparse.Namespace) -> int:
    from .evaluate import evaluate, summary
    from .samples import DataError

    try:
        result = evaluate(args.run, split=args.split, labels=args.labels, device=args.device)
    except (DataError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary(result))
    print(f"wrote {Path(args.run) / 'metrics.json'} and plots")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="radcurate-train")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
