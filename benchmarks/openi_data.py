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
