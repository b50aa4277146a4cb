"""Failures that fail: a bad config is rejected before any work; a stage that quarantines most or
all of its input does not pass."""

from __future__ import annotations

import argparse
import dataclasses
import re
import shutil
from pathlib import Path

import pydicom
import pydicom.data
import pytest
from radcurate.dags import commands
from radcurate.dags.config import ConfigError, validate_config
from radcurate.dags.pipeline import PIPELINE
from radcurate.stage import Stage
from radcurate.dags.runner import run_pipeline

PYDICOM_DATA = Path(pydicom.data.__file__).parent


def radcurate(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="radcurate")
    commands.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture()
def small_tree(tmp_path) -> Path:
    """Two readable CT/MR images in a PACS-like folder."""
    root = tmp_path / "pacs"
    for i, name in enumerate(["CT_small.dcm", "MR_small.dcm"]):
        ds = pydicom.dcmread(PYDICOM_DATA / "test_files" / name)
        ds.StudyInstanceUID, ds.SOPInstanceUID = f"1.2.3.{i}", f"1.2.3.{i}.1"
        (root / f"p{i}").mkdir(parents=True)
        ds.save_as(root / f"p{i}" / "IM1")
    return root


@pytest.mark.parametrize(
    "text, message",
    [
        ("deid: {max_age_years: old}\n", "deid.max_age_years: Input should be a valid integer"),
        ("deid: {text_detector: tesseract2}\n", "deid.text_detector: Input should be 'auto', 'tesseract', 'numpy' or 'none'"),
        ("deid: {surrogates: [tag]}\n", "deid.surrogates"),
        ("nlp: {topics: perhaps}\n", "nlp.topics: Input should be a valid boolean"),
        ("ingest: {max_quarantined_share: 1.5}\n", "ingest.max_quarantined_share: Input should be less than or equal to 1"),
        ("deid: {retain_dates: true, keep_colums: [x]}\n", "unknown deid setting(s): keep_colums (known: "),
    ],
)
def test_a_mistyped_config_is_rejected_before_any_work(small_tree, tmp_path, capsys, text, message):
    config = tmp_path / "config.yaml"
    config.write_text(text)
    out = tmp_path / "out"
    code = radcurate(["run", "--dicom", str(small_tree), "--out", str(out), "--config", str(config), "--workers", "0"])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()  # nothing was read or written
    # the same holds for a caller of the Python API
    with pytest.raises(ConfigError, match="^" + re.escape(message.split(":")[0])):
        run_pipeline({"dicom": small_tree}, out, workers=0, config=__import__("yaml").safe_load(text))
    assert not out.exists()


def test_values_are_coerced_to_their_declared_types():
    config = validate_config({"deid": {"max_age_years": "90", "keep_columns": ["ward"]},
                              "ingest": {"batch_size": 16, "max_quarantined_share": 0.2}})
    assert config == {"deid": {"max_age_years": 90, "keep_columns": ["ward"]},
                      "ingest": {"batch_size": 16, "max_quarantined_share": 0.2}}


def test_a_new_stages_section_is_typed_from_its_own_config_dataclass():
    @dataclasses.dataclass(frozen=True)
    class LesionConfig:
        min_size_mm: float = 3.0
        method: str = dataclasses.field(default="box", metadata={"choices": ("box", "ellipse")})

    def configure(section):
        return LesionConfig(**section)

    stages = (*PIPELINE, Stage("lesions", lambda ctx: {}, (), (), depends_on=("nlp",), configure=configure))
    assert validate_config({"lesions": {"min_size_mm": "4.5"}}, stages) == {"lesions": {"min_size_mm": 4.5}}
    with pytest.raises(ConfigError, match=r"lesions.method: Input should be 'box' or 'ellipse' \(got 'blob'\)"):
        validate_config({"lesions": {"method": "blob"}}, stages)
    with pytest.raises(ConfigError, match="lesions.min_size_mm: Input should be a valid number"):
        validate_config({"lesions": {"min_size_mm": "big"}}, stages)


def test_a_stage_that_quarantines_all_its_input_does_not_pass(tmp_path, capsys):
    junk = tmp_path / "not_a_pacs"
    junk.mkdir()
    for i in range(3):  # a DICOM prefix (so the folder passes the upfront check), then nothing readable
        (junk / f"IM{i}").write_bytes(b"\0" * 128 + b"DICM" + b"meeting notes, not an image")
    code = radcurate(["run", "--dicom", str(junk), "--out", str(tmp_path / "out"), "--workers", "0"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED" in out
    # Nothing usable is an error of the stage itself, named with the reasons, never "OK".
    assert "no DICOM instance" in out and "all 3 files were quarantined" in out
    assert "blocked" in out  # deid and later never ran


def test_the_quarantined_share_is_configurable_per_stage(small_tree, tmp_path):
    for i in range(3):  # 3 bad files beside 2 images: 60 % quarantined
        (small_tree / f"junk{i}.dcm").write_bytes(b"")
    report = run_pipeline({"dicom": small_tree}, tmp_path / "strict", workers=0, log=lambda line: None)
    ingest = report.outcomes[0]
    assert ingest.status == "failed_validation" and not report.ok
    assert "3 of 5 files quarantined (60%)" in ingest.message and "at most 50%" in ingest.message
    lenient = {"ingest": {"max_quarantined_share": 0.75}}
    report = run_pipeline({"dicom": small_tree}, tmp_path / "lenient", workers=0, config=lenient,
                          log=lambda line: None)
    assert report.outcomes[0].status == "ran"
    shutil.rmtree(small_tree / "p0")
    shutil.rmtree(small_tree / "p1")
    # all quarantined: never OK, whatever the share (a tree with no file that could be DICOM is
    # refused before the run, issue 25)
    with pytest.raises(ValueError, match="holds no file that could be DICOM"):
        run_pipeline({"dicom": small_tree}, tmp_path / "lenient", workers=0,
                     config={"ingest": {"max_quarantined_share": 1.0}}, log=lambda line: None)
