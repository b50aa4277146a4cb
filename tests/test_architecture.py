"""The architecture holds: each stage owns its stage, stages never import each other, the core
imports no stage, training needs none of the NLP/DICOM/Dask libraries (import-linter contracts of
pyproject.toml), and building the stage graph loads no heavy library."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from lint_imports import installed_layout, lint  # noqa: E402

CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def test_every_import_contract_is_kept():
    run = subprocess.run([sys.executable, str(ROOT / "scripts/lint_imports.py")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in run.stdout


def test_a_stage_importing_another_stage_breaks_the_contracts(tmp_path):
    layout = tmp_path / "site"
    layout.mkdir()
    package = installed_layout(layout)
    lesions = package / "lesions"
    lesions.unlink()
    shutil.copytree(ROOT / "lesions", lesions, ignore=shutil.ignore_patterns("__pycache__"))
    (lesions / "shortcut.py").write_text("from radcurate.nlp.recist import recist_table  # a stage -> stage edge\n")
    run = lint(layout, capture_output=True, text=True)
    assert run.returncode != 0
    assert "Stage packages never import each other BROKEN" in run.stdout
    assert "radcurate.lesions.shortcut -> radcurate.nlp.recist" in run.stdout


def test_the_core_contract_names_every_core_module():
    core = next(c for c in CONTRACTS if c["name"].startswith("The core"))
    modules = {f"radcurate.{p.stem}" for p in (ROOT / "radcurate").glob("*.py") if p.stem != "__init__"}
    assert set(core["source_modules"]) == modules


def test_every_stage_package_exports_its_stage_and_the_graph_loads_no_heavy_library():
    code = (
        "import sys\n"
        "from radcurate.dags.pipeline import OPTIONAL_STAGES, PIPELINE\n"
        "from radcurate import deid, images, ingest, labeling, lesions, nlp\n"
        "assert PIPELINE[:4] == (ingest.STAGE, deid.STAGE, nlp.STAGE, labeling.STAGE)\n"
        "assert {lesions.STAGE, images.STAGE, images.SPLITS_STAGE} <= set(PIPELINE)\n"
        "assert all(s.optional for s in OPTIONAL_STAGES) and not any(s.optional for s in PIPELINE)\n"
        "heavy = [m for m in ('spacy', 'pydicom', 'torch', 'great_expectations', 'distributed') if m in sys.modules]\n"
        "print(heavy); sys.exit(bool(heavy))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("stage", ["lesions", "images"])
def test_a_stage_without_text_does_not_load_spacy(stage):
    code = (f"import sys; from radcurate.{stage}.run import *; import radcurate.{stage}.stage\n"
            "sys.exit('spacy' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
