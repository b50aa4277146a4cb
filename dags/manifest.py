"""``OUT/manifest.json``: what was run, on what, with which settings, and what came out.

Run id, code version, effective config and its hash, input fingerprints, per-stage status and
counts, row counts of every table under OUT, quarantine counts by stage and reason, and the
validation results (counts only, no values).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import pyarrow.parquet as pq

from radcurate.fingerprints import fingerprint_path
from radcurate.tables import table_rows
from radcurate.version import code_version

from .config import config_hash, effective_config

if TYPE_CHECKING:
    from radcurate.stage import Stage

    from .runner import RunReport


def row_counts(out_dir: Path) -> dict[str, int]:
    """Rows of every Parquet table under OUT (from the footers; nothing is loaded)."""
    counts = {}
    for path in sorted(Path(out_dir).rglob("*.parquet")):
        rel = path.relative_to(out_dir).as_posix()
        if rel.startswith("_state/") or path.name.startswith("."):
            continue
        try:
            counts[rel] = table_rows(path)
        except Exception:
            counts[rel] = -1
    return counts


def quarantine_counts(out_dir: Path) -> dict[str, dict[str, int]]:
    """``{stage: {reason: n}}`` from ``OUT/quarantine.parquet``."""
    path = Path(out_dir, "quarantine.parquet")
    if not path.exists():
        return {}
    rows = pq.read_table(path, columns=["stage", "reason"]).to_pylist()
    counts: dict[str, Counter] = {}
    for r in rows:
        counts.setdefault(r["stage"], Counter())[r["reason"]] += 1
    return {stage: dict(sorted(c.items())) for stage, c in sorted(counts.items())}


def build_manifest(
    out_dir: Path,
    report: "RunReport",
    inputs: Mapping[str, Path | None],
    config: Mapping[str, Any],
    stages: Sequence["Stage"],
) -> dict[str, Any]:

    effective = {s.name: effective_config(s, config.get(s.name, {})) for s in stages}

    return {
        "run_id": report.run_id,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "code_version": code_version(),
        "config": effective,
        "config_hash": config_hash(effective),
        # by name and fingerprint only: folder names of an export are often patient names or MRNs.
        # Where each input was lies in the PHI zone (phi/inputs.json, see write_input_paths).
        "inputs": {
            k: {"root": k, "given": v is not None, "fingerprint": fingerprint_path(v),
                "paths": f"{INPUT_PATHS} (PHI zone)" if v is not None else None}
            for k, v in inputs.items()
        },
        "ok": report.ok,
        "stages": {
            o.name: {
                "status": o.status,
                "depends_on": next((list(s.depends_on) for s in stages if s.name == o.name), []),
                "input_fingerprint": o.input_fingerprint,
                "config_hash": o.config_hash,
                "seconds": o.seconds,
                "counts": o.result,
                "message": o.message,
                "validation": o.validation,
            }
            for o in report.outcomes
        },
        "row_counts": row_counts(out_dir),
        "quarantine": quarantine_counts(out_dir),
    }


INPUT_PATHS = "phi/inputs.json"


def write_input_paths(out_dir: Path, run_id: str, inputs: Mapping[str, Path | None]) -> Path:
    """``OUT/phi/inputs.json`` (mode 0600, in the private PHI zone): each run's input paths by name,
    the newest run first; ``manifest.json`` names inputs only by their root name."""
    path = Path(out_dir, INPUT_PATHS)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        runs = json.loads(path.read_text())
        runs = runs if isinstance(runs, list) else []
    except (OSError, ValueError):
        runs = []
    runs = [{"run_id": run_id, "inputs": {k: str(v) if v is not None else None for k, v in inputs.items()}}] + runs[:49]
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(runs, fh, indent=2)
    os.replace(tmp, path)
    return path


def write_manifest(
    out_dir: Path,
    report: "RunReport",
    inputs: Mapping[str, Path | None],
    config: Mapping[str, Any],
    stages: Sequence["Stage"],
) -> Path:
    """Write ``OUT/manifest.json`` atomically and return its path."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)  # a run that failed before its first stage wrote
    manifest = build_manifest(Path(out_dir), report, inputs, config, stages)
    write_input_paths(Path(out_dir), report.run_id, inputs)
    path = Path(out_dir, "manifest.json")
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, default=str))
    os.replace(tmp, path)
    from .dataset_card import write_dataset_card

    write_dataset_card(out_dir, json.loads(json.dumps(manifest, default=str)))
    return path
