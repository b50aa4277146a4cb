"""Every benchmark still runs: each script in benchmarks/ at its smallest size (``--smoke``).

Benchmarks rot when the code they drive changes under them (a secret written with mode 0644 once
stopped three of them). Each script with a ``__main__`` block is picked up by glob (helper modules
such as ``openi_data.py`` have none), run with ``--smoke`` in a fresh process, without the shared
data (``--smoke`` uses a generated OpenI-shaped set) and must finish without a traceback and print
its figures. Exit 1 is allowed: it is how a benchmark says its goal is not met, which a smoke run at
toy size is not meant to show. The pipeline-backed ones take a minute or two on a shared machine,
hence the slow mark.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p for p in BENCHMARKS.glob("*.py") if "__main__" in p.read_text(encoding="utf-8"))
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:[.,]\d+)?(?:e-?\d+)?%?")


def test_every_benchmark_is_found_and_helpers_are_not():
    names = {p.stem for p in SCRIPTS}
    assert {"weak_vs_truth", "loader", "lesions", "synthesis", "gan"} <= names
    assert "openi_data" not in names


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_benchmark_runs_at_its_smallest_size(script, tmp_path):
    text = script.read_text(encoding="utf-8")
    assert '"--smoke"' in text, f"{script.name} has no --smoke flag (smallest size, seconds)"
    env = {k: v for k, v in os.environ.items() if k != "RADCURATE_OPENI"}
    env["RADCURATE_OPENI"] = str(tmp_path / "no-shared-data.csv")  # never the shared OpenI file
    env["MPLBACKEND"] = "Agg"
    proc = subprocess.run([sys.executable, str(script), "--smoke"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=900)
    out, err = proc.stdout, proc.stderr
    assert "Traceback" not in err, err[-4000:]
    assert proc.returncode in (0, 1), (proc.returncode, err[-4000:])
    figures = NUMBER.findall(out)
    assert len(figures) >= 3, f"{script.name} printed no figures:\n{out[-2000:]}\n{err[-2000:]}"
