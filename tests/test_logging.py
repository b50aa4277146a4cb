"""One ``radcurate`` logger: progress lines by default, -q for warnings only, Dask's chatter off."""

from __future__ import annotations

import logging

from radcurate.dags.cli import main
from radcurate.synthesis import generate_export


def test_quiet_and_default_verbosity(tmp_path, capsys):
    export = generate_export(tmp_path / "export", patients=1, seed=2)
    run = ["run", "--dicom", str(export / "pacs"), "--out", str(tmp_path / "out"), "--workers", "1", "--no-progress"]
    assert main(run) == 0
    captured = capsys.readouterr()
    assert "[ingest] done in" in captured.err and "expectations passed" in captured.err
    assert "distributed." not in captured.err and "Nanny" not in captured.err  # Dask INFO stays off
    assert "radcurate run" in captured.out  # the summary
    assert logging.getLogger("distributed").level == logging.WARNING
    assert main(["-q", *run]) == 0  # a rerun: every stage skipped, nothing logged below WARNING
    captured = capsys.readouterr()
    assert captured.err == "" and "skipped" in captured.out
    assert main(["-v", *run]) == 0
    assert "INFO radcurate.dags.runner: [ingest] up to date: skipped" in capsys.readouterr().err
