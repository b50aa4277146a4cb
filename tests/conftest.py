"""Shared fixtures: small synthetic PACS exports every stage's tests run against."""

from __future__ import annotations

import os

import pytest

from radcurate.synthesis import generate_export


@pytest.fixture(scope="session", autouse=True)
def project_secret(tmp_path_factory):
    """The pseudonym secret of this test session, outside every output and never the user's own.

    Set in the environment before any Dask worker starts, so workers derive the same keys.
    """
    path = tmp_path_factory.mktemp("secret") / "secret.key"
    path.write_bytes(b"radcurate-test-session-secret-" + b"s" * 34)  # fixed: reproducible date shifts
    old = os.environ.get("RADCURATE_SECRET_FILE")
    os.environ["RADCURATE_SECRET_FILE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("RADCURATE_SECRET_FILE", None)
    else:
        os.environ["RADCURATE_SECRET_FILE"] = old


@pytest.fixture(scope="session")
def synth_export(tmp_path_factory):
    """A clean export of 3 patients (seed 7): DIR with pacs/, ris/reports.csv, truth/."""
    return generate_export(tmp_path_factory.mktemp("synth_export"), patients=3, seed=7)


@pytest.fixture(scope="session")
def synth_export_corrupt(tmp_path_factory):
    """An export of 2 patients (seed 11) with 8 planted bad inputs, one of each kind."""
    return generate_export(tmp_path_factory.mktemp("synth_export_corrupt"), patients=2, seed=11, corrupt=8)


@pytest.fixture(scope="session")
def images_run(synth_export, tmp_path_factory):
    """`radcurate run` over ``synth_export`` (crosswalk on; small row groups, part files and tasks so
    the images dataset is sharded like a big one): ``(OUT, RunReport)``."""
    from radcurate.dags.runner import run_pipeline

    out = tmp_path_factory.mktemp("images_run")
    inputs = {"dicom": synth_export / "pacs", "reports": synth_export / "ris" / "reports.csv"}
    config = {"deid": {"crosswalk": True}, "images": {"row_group_mb": 0.25, "part_mb": 1.0, "task_mb": 2.0}}
    report = run_pipeline(inputs, out, workers=0, log=lambda line: None, config=config)
    assert report.ok, [(o.name, o.status, o.message) for o in report.outcomes]
    return out, report
