"""``radcurate export RUN --format onnx|torchscript``: a trained network for serving, checked for parity.

ONNX goes through ``torch.onnx.export``'s TorchScript-based exporter (``dynamo=False``: the dynamo
exporter needs onnxscript, and this one covers every layer of the three baselines), opset 17, with a
dynamic batch axis (and dynamic height/width for the fully convolutional denoiser). TorchScript is
``torch.jit.trace`` in eval mode. After writing, the exported model is run on sample inputs of the
run's shape — with onnxruntime for ONNX, ``torch.jit.load`` for TorchScript — and compared with the
torch model: the largest absolute difference is stored in the sidecar JSON, and an export beyond
the tolerance (1e-4) is refused. The sidecar says what the inputs must be (shape, value range, the
preprocessing of :mod:`.samples`) and, for classify, which finding each output is.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .engine import Runtime, load_model, read_run_config

TOLERANCE = 1e-4


def sample_inputs(config, n: int = 4, seed: int = 0) -> torch.Tensor:
    size = config.denoise.patch_size * 2 if config.task == "denoise" else config.image_size
    return torch.rand((n, 1, size, size), generator=torch.Generator().manual_seed(seed))


def preprocessing(config) -> str:
    if config.task == "classify":
        return f"radiograph min-max scaled to [0, 1] per image, resized to {config.image_size}x{config.image_size}"
    if config.task == "segment":
        lo, hi = config.segment.window
        return (f"CT HU windowed to [{lo:g}, {hi:g}] -> [0, 1], resized to {config.image_size}x{config.image_size}; "
                f"output: lesion logits (sigmoid > {config.segment.threshold})")
    lo, hi = config.denoise.window
    return f"CT HU windowed to [{lo:g}, {hi:g}] -> [0, 1] at native resolution; output in the same units"


def export_run(run: str | Path, fmt: str, out: str | Path | None = None, checkpoint: str = "best") -> dict[str, Any]:
    """Export ``run``'s network to ``fmt`` (onnx | torchscript); returns the sidecar's content."""
    run = Path(run)
    config, _ = read_run_config(run)
    record = json.loads((run / "run.json").read_text()) if (run / "run.json").is_file() else {}
    findings = record.get("findings") or []
    rt = Runtime(torch.device("cpu"))
    model = load_model(run, config, len(findings) if config.task == "classify" else 1, rt, checkpoint).float()
    if fmt not in ("onnx", "torchscript"):
        raise ValueError("format must be onnx or torchscript")
    path = Path(out) if out else run / "export" / ("model.onnx" if fmt == "onnx" else "model.pt")
    path.parent.mkdir(parents=True, exist_ok=True)
    x = sample_inputs(config)
    with torch.no_grad():
        ref = model(x).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and exporter deprecation notes
        if fmt == "onnx":
            axes = {0: "batch"} if config.task != "denoise" else {0: "batch", 2: "height", 3: "width"}
            torch.onnx.export(model, (x,), str(path), dynamo=False, input_names=["image"], output_names=["output"],
                              dynamic_axes={"image": axes, "output": axes if config.task != "classify" else {0: "batch"}},
                              opset_version=17)
            got = _run_onnx(path, x)
        else:
            traced = torch.jit.trace(model, x)
            traced.save(str(path))
            with torch.no_grad():
                got = torch.jit.load(str(path)).eval()(x).numpy()
    diff = float(np.abs(got - ref).max())
    info = {"task": config.task, "format": fmt, "path": str(path), "checkpoint": model.meta["checkpoint"],
            "epoch": model.meta["epoch"], "input": {"name": "image", "shape": ["batch", 1, *x.shape[-2:]],
                                                    "dtype": "float32", "preprocessing": preprocessing(config)},
            "outputs": findings if config.task == "classify" else None,
            "training_hash": record.get("training_hash"), "data_version": record.get("data_version"),
            "parity": {"inputs": int(len(x)), "max_abs_diff": diff, "tolerance": TOLERANCE,
                       "runtime": "onnxruntime" if fmt == "onnx" else "torch.jit.load"}}
    if not diff <= TOLERANCE:
        path.unlink(missing_ok=True)
        raise RuntimeError(f"the {fmt} export differs from torch by {diff:.2e} (> {TOLERANCE:g}); not written")
    path.with_suffix(".json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def _run_onnx(path: Path, x: torch.Tensor) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {"image": x.numpy()})[0]
