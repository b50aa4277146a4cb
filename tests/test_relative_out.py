"""A user runs from their project folder with relative paths (as `make demo` does): every check and
the Data Docs work the same as with absolute paths."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pydicom.data

from radcurate.dags.cli import main as radcurate

PYDICOM_FILES = Path(pydicom.data.__file__).parent / "test_files"


def test_a_relative_out_folder_validates_and_writes_data_docs(tmp_path, monkeypatch, capsys):
    pacs = tmp_path / "pacs" / "site"
    pacs.mkdir(parents=True)
    for name in ("CT_small.dcm", "MR_small.dcm"):
        shutil.copy(PYDICOM_FILES / name, pacs / name)
    monkeypatch.chdir(tmp_path)
    code = radcurate(["run", "--dicom", "pacs", "--out", "out", "--workers", "0", "--no-progress"])
    out = capsys.readouterr().out
    assert "suite evaluated" not in out  # no expectation suite crashed on the relative path
    assert code == 0, out
    assert (tmp_path / "out" / "validation" / "ingest" / "index.html").is_file()
