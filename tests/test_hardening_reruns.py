"""Issue 9, cases 7, 8, 11, 13: reruns know what changed (files a config points at, the secret,
the outputs themselves), two runs never share an OUT, and config paths mean what they say."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pydicom.data
import pytest

from radcurate.dags.cli import main as radcurate
from radcurate.dags.pipeline import PIPELINE
from radcurate.stage import Stage
from radcurate.dags.runner import input_fingerprint, run_pipeline, run_stage
from radcurate.outlock import OutputLocked, lock_output
from radcurate.tables import write_table

STAGES = {s.name: s for s in PIPELINE}


def toy_stage(ctx):
    schema = pa.schema([pa.field("x", pa.int64(), metadata={"description": "a number"})])
    write_table(pd.DataFrame({"x": [1, 2, 3]}), Path(ctx.out_dir) / "toy.parquet", schema)
    return {"rows": 3}


TOY = Stage(name="toy", function=toy_stage, inputs=(), outputs=("toy.parquet",))


def test_a_deleted_or_garbage_output_is_not_trusted_on_rerun(tmp_path):
    quiet = dict(log=lambda line: None)
    assert run_stage(TOY, {}, tmp_path, **quiet).status == "ran"
    assert run_stage(TOY, {}, tmp_path, **quiet).status == "skipped"
    (tmp_path / "toy.parquet" / "part-00000.parquet").write_bytes(b"garbage")  # someone replaced a part
    assert run_stage(TOY, {}, tmp_path, **quiet).status == "ran"
    assert pd.read_parquet(tmp_path / "toy.parquet").x.tolist() == [1, 2, 3]
    shutil.rmtree(tmp_path / "toy.parquet")
    assert run_stage(TOY, {}, tmp_path, **quiet).status == "ran"


def test_a_new_review_batch_an_edited_lexicon_or_a_new_secret_changes_the_fingerprint(tmp_path, monkeypatch):
    reviewed = tmp_path / "reviewed.csv"
    reviewed.write_text("report_id,Effusion\nR1,1\n")
    labeling = STAGES["labeling"]
    before = input_fingerprint(labeling, {}, tmp_path, {"reviewed": str(reviewed)})
    reviewed.write_text("report_id,Effusion\nR1,1\nR2,0\n")  # the second review batch
    assert input_fingerprint(labeling, {}, tmp_path, {"reviewed": str(reviewed)}) != before

    lexicon = tmp_path / "lex.yaml"
    lexicon.write_text("name: mine\nfindings:\n  Nodule: [nodule]\n")
    nlp = STAGES["nlp"]
    before = input_fingerprint(nlp, {}, tmp_path, {"lexicons": [str(lexicon)]})
    lexicon.write_text("name: mine\nfindings:\n  Nodule: [nodule, nodular opacity]\n")
    assert input_fingerprint(nlp, {}, tmp_path, {"lexicons": [str(lexicon)]}) != before

    deid = STAGES["deid"]
    one, two = tmp_path / "one.key", tmp_path / "two.key"
    for key, byte in ((one, b"1"), (two, b"2")):
        key.write_bytes(byte * 64)
        key.chmod(0o600)
    out = tmp_path / "out"  # the secrets live outside OUT, as de-id demands
    fp_one = input_fingerprint(deid, {}, out, {"secret_file": str(one)})
    assert input_fingerprint(deid, {}, out, {"secret_file": str(two)}) != fp_one
    assert b"1" * 32 not in fp_one.encode()  # the secret itself is never part of it


def test_a_second_run_on_the_same_out_is_refused_with_a_clear_message(tmp_path, capsys):
    dicom = tmp_path / "pacs"
    dicom.mkdir()
    shutil.copy(pydicom.data.get_testdata_file("CT_small.dcm"), dicom)  # a tree that passes its own check
    out = tmp_path / "out"
    with lock_output(out):
        with pytest.raises(OutputLocked, match="in use by another radcurate run"):
            run_pipeline({"dicom": dicom, "reports": None}, out, workers=0, log=lambda line: None)
        assert radcurate(["run", "--dicom", str(dicom), "--out", str(out), "--workers", "0"]) == 2
        err = capsys.readouterr().err
        assert "in use by another radcurate run" in err and "choose another --out" in err
    assert not (out / "_state").exists()  # the refused runs wrote nothing


def test_config_paths_are_relative_to_the_config_file_and_a_missing_lexicon_fails_first(tmp_path, capsys):
    from radcurate.dags.config import load_config

    conf_dir = tmp_path / "project"
    conf_dir.mkdir()
    (conf_dir / "reviewed.csv").write_text("report_id,Effusion\nR1,1\n")
    (conf_dir / "config.yaml").write_text("labeling:\n  reviewed: reviewed.csv\n")
    config = load_config(str(conf_dir / "config.yaml"))  # from another working directory
    assert config["labeling"]["reviewed"] == str(conf_dir / "reviewed.csv")

    (conf_dir / "bad.yaml").write_text("nlp:\n  lexicons: [missing_lexicon.yaml]\n")
    dicom = tmp_path / "pacs"
    dicom.mkdir()
    shutil.copy(pydicom.data.get_testdata_file("CT_small.dcm"), dicom)  # a tree that passes its own check
    code = radcurate(["run", "--dicom", str(dicom), "--out", str(tmp_path / "out"), "--workers", "0",
                      "--config", str(conf_dir / "bad.yaml")])
    assert code == 2 and "missing_lexicon.yaml" in capsys.readouterr().err
    assert not (tmp_path / "out" / "phi").exists()  # nothing ran before the config was checked


def test_a_second_review_file_with_fewer_findings_keeps_the_earlier_answers(tmp_path):
    from radcurate.labeling.review import import_review, load_reviewed

    store = tmp_path / "store"
    first = tmp_path / "first.csv"
    first.write_text("report_id,Effusion,Nodule,Cardiomegaly\nR1,1,0,-1\nR2,0,0,0\n")
    assert import_review(first, store).ok
    second = tmp_path / "second.csv"  # a reviewer asked only about nodules this time
    second.write_text("report_id,Nodule\nR1,1\n")
    assert import_review(second, store).ok
    stored = load_reviewed(store).set_index("report_id")
    assert stored.loc["R1", "Nodule"] == 1
    assert stored.loc["R1", "Effusion"] == 1 and stored.loc["R1", "Cardiomegaly"] == -1
    assert stored.loc["R2", "Effusion"] == 0


def test_eval_labels_with_ids_that_match_no_prediction_says_so_instead_of_scoring_zero(tmp_path, capsys):
    gold = tmp_path / "gold.csv"
    pd.DataFrame({"report_id": ["a", "b", "c"], "Effusion": [1, 0, 1]}).to_csv(gold, index=False)
    pred = tmp_path / "pred.csv"
    pd.DataFrame({"report_id": ["ACC-a", "ACC-b"], "finding": "Effusion", "value": [1, 1]}).to_csv(pred, index=False)
    assert radcurate(["eval-labels", "--gold", str(gold), "--pred", str(pred), "--n-boot", "20"]) == 2
    assert "none of the 3 gold report ids" in capsys.readouterr().err
    pd.DataFrame({"report_id": ["a", "b"], "finding": "Effusion", "value": [1, 1]}).to_csv(pred, index=False)
    assert radcurate(["eval-labels", "--gold", str(gold), "--pred", str(pred), "--n-boot", "20"]) == 0
    assert "1 of 3 gold reports have no prediction" in capsys.readouterr().err


def test_a_secret_inside_out_named_in_the_run_config_is_refused_before_anything_is_written(tmp_path, capsys):
    dicom = tmp_path / "pacs"
    dicom.mkdir()
    shutil.copy(pydicom.data.get_testdata_file("CT_small.dcm"), dicom)  # a tree that passes its own check
    out = tmp_path / "out"
    config = tmp_path / "config.yaml"
    config.write_text(f"deid:\n  secret_file: {out / 'secret.key'}\n")
    code = radcurate(["run", "--dicom", str(dicom), "--out", str(out), "--workers", "0", "--config", str(config)])
    assert code == 2
    assert "is inside the output folder" in capsys.readouterr().err
    assert not (out / "secret.key").exists()  # fingerprinting did not create the secret in OUT
    assert not out.exists()  # nothing at all was written


def test_a_resumed_run_accepts_the_runner_settings_in_any_section(tmp_path):
    import pydicom.data

    dicom = tmp_path / "pacs"
    dicom.mkdir()
    shutil.copy(pydicom.data.get_testdata_file("CT_small.dcm"), dicom)  # a tree that passes its own check
    for name in ("CT_small.dcm", "MR_small.dcm"):
        shutil.copy(pydicom.data.get_testdata_file(name), dicom / name)
    stages = (STAGES["ingest"], STAGES["deid"])
    config = {"deid": {"max_quarantined_share": 0.2}, "ingest": {"max_quarantined_share": 0.2}}
    quiet = dict(workers=0, log=lambda line: None, stages=stages, config=config)
    first = run_pipeline({"dicom": dicom, "reports": None}, tmp_path / "out", **quiet)
    assert [o.status for o in first.outcomes] == ["ran", "ran"]
    again = run_pipeline({"dicom": dicom, "reports": None}, tmp_path / "out", **quiet)
    assert [o.status for o in again.outcomes] == ["skipped", "skipped"]
