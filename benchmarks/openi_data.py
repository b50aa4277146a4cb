"""Where the benchmarks find the OpenI development reports, which are not part of the repository.

Order: the ``--openi PATH`` option, then the ``RADCURATE_OPENI`` environment variable, then
``../shared/benchmarks/openi/openi_dev.csv`` beside the checkout. When none exists the benchmark stops
with a message that says how to point it at the file (exit 2).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ENV = "RADCURATE_OPENI"
BESIDE_CHECKOUT = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "openi" / "openi_dev.csv"


def add_openi_option(ap: argparse.ArgumentParser, *aliases: str) -> None:
    """Add ``--openi PATH`` (and older spellings such as ``--csv``) to a benchmark's arguments."""
    ap.add_argument("--openi", *aliases, dest="openi", type=Path, default=None,
                    help=f"the OpenI development CSV (default: ${ENV}, else {BESIDE_CHECKOUT})")


def find_openi(path: Path | str | None) -> Path | None:
    """The OpenI CSV to read, or None when the file named (or, unnamed, the default) does not exist."""
    named = path or os.environ.get(ENV)
    candidate = Path(named) if named else BESIDE_CHECKOUT
    if candidate.is_file():
        return candidate
    if named:
        print(f"OpenI file not found: {candidate}", file=sys.stderr)
    return None


def require_openi(path: Path | str | None) -> Path:
    """The OpenI CSV, or exit 2 with a message saying how to provide it."""
    found = find_openi(path)
    if found is None:
        print("This benchmark needs the OpenI development reports (openi_dev.csv, 3,080 chest radiograph "
              f"reports with ChestX-ray14 gold labels), which are not in the repository. Pass --openi PATH "
              f"or set {ENV}=PATH (looked for {BESIDE_CHECKOUT}).", file=sys.stderr)
        raise SystemExit(2)
    return found


def smoke_openi(work: Path, patients: int = 10, seed: int = 3) -> Path:
    """A small CSV in the OpenI layout (report_id, indication, comparison, findings, impression, the 14
    ChestX-ray14 gold columns, normal) made from a synthetic export's reports and truth: what the
    benchmarks read in ``--smoke`` runs, so they run from a checkout without the shared data."""
    import re

    import pandas as pd

    from radcurate.synthesis import ExportConfig, generate_export
    from radcurate.vocabulary import BUILTIN

    path = Path(work) / "openi_smoke.csv"
    if path.is_file():
        return path
    # the reports are what is wanted: tiny CT series and radiographs keep the export to seconds
    small = ExportConfig(ct_size=64, ct_slices=8, dx_size=64)
    export = generate_export(Path(work) / "openi_smoke_export", patients=patients, seed=seed, config=small)
    reports = pd.read_csv(export / "ris" / "reports.csv", dtype=str, keep_default_na=False)
    truth = pd.read_parquet(export / "truth" / "findings.parquet")
    findings = list(BUILTIN["chestxray14"])
    findings = [f for f in findings if f in set(truth["finding"])]

    def section(text: str, name: str, until: str) -> str:
        m = re.search(rf"{name}\s*\n(.*?)(?:\n\s*{until}|\Z)", text, flags=re.S)
        return " ".join(m.group(1).split()) if m else ""

    gold = truth.pivot_table(index="accession", columns="finding", values="present", aggfunc="max").reindex(columns=findings)
    rows = []
    for acc, text in zip(reports["accession"], reports["report_text"]):
        g = gold.loc[acc].fillna(False).astype(int) if acc in gold.index else pd.Series(0, index=findings)
        rows.append({"report_id": acc, "indication": "", "comparison": "", "findings": section(text, "FINDINGS", "IMPRESSION"),
                     "impression": section(text, "IMPRESSION", "(?:Findings discussed|Electronically|$)"),
                     **{f: int(g[f]) for f in findings}, "normal": int(g.sum() == 0)})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def openi_or_smoke(path: Path | str | None, smoke: bool, work: Path | None = None) -> Path:
    """``--smoke``: the generated set (never the shared file); else :func:`require_openi`."""
    if smoke:
        import tempfile

        return smoke_openi(Path(work) if work else Path(tempfile.mkdtemp(prefix="openi-smoke-")))
    return require_openi(path)
