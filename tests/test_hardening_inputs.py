"""Issue 9, cases 4-6, 9, 10, 12, 13: every input is accounted for, every failure is told, no
wait is unbounded, and the PHI zone stays private."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from radcurate.dags.cli import main as radcurate
from radcurate.tables import read_table


@pytest.fixture()
def tree(synth_export, tmp_path) -> Path:
    """One small study of the synthetic export: 3 CT files under PATIENT/STUDY/SERIES."""
    folders = sorted({p.parent for p in (synth_export / "pacs").rglob("IM*") if "CD_IMPORT" not in str(p)})
    root = tmp_path / "pacs"
    series = next(sorted(d.iterdir()) for d in folders if len(list(d.iterdir())) >= 3)[:3]
    for i, f in enumerate(series):
        dest = root / ("PT_A" if i < 2 else "PT_B") / f.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, dest)
    return root


def extract(tmp_path, rows: list[bytes]) -> Path:
    path = tmp_path / "reports.csv"
    path.write_bytes(b"accession,patient_id,patient_name,exam_date,report_text\n" + b"".join(rows))
    return path


def quarantine(out: Path) -> pd.DataFrame:
    return read_table(out / "quarantine.parquet")


def test_a_folder_that_cannot_be_read_is_a_quarantine_row_not_a_silent_gap(tree, tmp_path, monkeypatch, capsys):
    locked = tree / "PT_B"
    locked.chmod(0)
    try:
        if os.geteuid() == 0:  # root reads any folder: make this one refuse, as the kernel would for a user
            real = os.scandir

            def scandir(path="."):
                if isinstance(path, (str, os.PathLike)) and Path(path) == locked:
                    raise PermissionError(13, "Permission denied", str(path))
                return real(path)

            monkeypatch.setattr(os, "scandir", scandir)
        out = tmp_path / "out"
        code = radcurate(["ingest", "--dicom", str(tree), "--out", str(out), "--workers", "0"])
    finally:
        locked.chmod(0o755)
    q = quarantine(out)
    row = q[q.reason == "unreadable_folder"]
    assert code == 0 and list(row.source) == ["PT_B/"]
    assert "Permission denied" in row.detail.iloc[0] and str(tmp_path) not in row.detail.iloc[0]
    assert "1 files quarantined" in capsys.readouterr().out


def test_a_fifo_in_the_tree_is_quarantined_and_never_hangs_the_run(tree, tmp_path):
    os.mkfifo(tree / "PT_A" / "pipe")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "radcurate.dags.cli", "ingest", "--dicom", str(tree), "--out", str(out),
           "--workers", "0"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    q = quarantine(out)
    assert list(q[q.reason == "not_regular_file"].source) == ["PT_A/pipe"]
    assert read_table(out / "phi/instances.parquet").shape[0] == 3


def test_one_long_report_and_one_latin1_row_are_quarantined_alone_by_ingest_deid_and_mine(tree, tmp_path, capsys):
    long_text = "FINDINGS: " + "No acute disease. " * 70_000  # ~1.2 MB: over the 1 MB limit
    rows = [
        b"ACC1,P1,DOE^JANE,2017-12-10,FINDINGS: Small right pleural effusion.\n",
        b'ACC2,P2,ROE^RICK,2017-12-11,"' + long_text.encode() + b'"\n',
        b"ACC3,P3,MULLER^HANS,2017-12-12,FINDINGS: Cardiom\xe9galy.\n",
        b"ACC4,P4,POE^EDGAR,2017-12-13,FINDINGS: No pneumothorax.\n",
    ]
    csv = extract(tmp_path, rows)
    # mine: the two good rows are mined, the two bad ones quarantined with their reasons
    assert radcurate(["mine", "--reports", str(csv), "--out", str(tmp_path / "mined"), "--no-topics",
                      "--no-progress"]) == 0
    q = quarantine(tmp_path / "mined")
    assert dict(zip(q.source, q.reason)) == {"ACC2": "report_too_large", "ACC3": "undecodable_text"}
    assert set(read_table(tmp_path / "mined/labels.parquet").report_id) == {"ACC1", "ACC4"}
    # deid, reports only: the same two rows quarantined, named by row (never by accession)
    assert radcurate(["deid", "--reports", str(csv), "--out", str(tmp_path / "deid"), "--workers", "0"]) == 0
    q = quarantine(tmp_path / "deid")
    assert sorted(zip(q.source, q.reason)) == [("reports.csv:row 2", "report_too_large"),
                                                ("reports.csv:row 3", "undecodable_text")]
    assert len(read_table(tmp_path / "deid/curated/reports.parquet")) == 2


def test_us_style_or_empty_exam_dates_are_quarantined_naming_the_expected_format(tree, tmp_path):
    csv = extract(tmp_path, [b"ACC1,P1,A^B,12/10/2017,FINDINGS: normal.\n", b"ACC2,P2,C^D,,FINDINGS: normal.\n",
                             b"ACC3,P3,E^F,2017-12-10,FINDINGS: normal.\n"])
    out = tmp_path / "out"
    assert radcurate(["ingest", "--dicom", str(tree), "--reports", str(csv), "--out", str(out), "--workers", "0"]) == 0
    q = quarantine(out)
    bad = q[q.reason == "bad_exam_date"].set_index("source")
    assert sorted(bad.index) == ["ACC1", "ACC2"]
    assert "YYYY-MM-DD" in bad.detail["ACC1"] and "99/99/9999" in bad.detail["ACC1"]
    assert "12/10/2017" not in bad.detail["ACC1"] and "empty" in bad.detail["ACC2"]
    assert set(q[q.source == "ACC3"].reason) == {"unmatched_accession"}  # a good date goes on to linking


def test_a_corrupt_parquet_extract_or_an_empty_dicom_folder_exit_2_with_a_clear_message(tree, tmp_path, capsys):
    bad = tmp_path / "reports.parquet"
    bad.write_bytes(b"PAR1 this is not really parquet")
    assert radcurate(["mine", "--reports", str(bad), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "reports.parquet" in err and "expected columns: accession, report_text" in err
    assert radcurate(["run", "--dicom", str(tree), "--reports", str(bad), "--out", str(tmp_path / "r"),
                      "--workers", "0"]) == 2
    assert "reports.parquet" in capsys.readouterr().err
    empty = tmp_path / "empty"
    (empty / "notes").mkdir(parents=True)
    (empty / "notes" / "readme.txt").write_text("not an image")
    assert radcurate(["ingest", "--dicom", str(empty), "--out", str(tmp_path / "e"), "--workers", "0"]) == 2
    assert "holds no DICOM instance" in capsys.readouterr().err
    from radcurate.dags.runner import run_pipeline

    # issue 25: `run` refuses it up front, as `ingest` does (exit 2), and writes nothing
    with pytest.raises(ValueError, match="holds no file that could be DICOM"):
        run_pipeline({"dicom": empty, "reports": None}, tmp_path / "p", workers=0, log=lambda line: None)
    assert radcurate(["run", "--dicom", str(empty), "--out", str(tmp_path / "p"), "--workers", "0"]) == 2
    assert "holds no file that could be DICOM" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_bad_worker_counts_and_scheduler_addresses_are_usage_errors(tree, tmp_path, capsys):
    for argv in (["--workers", "-1"], ["--scheduler", "10.0.0.5"], ["--worker-timeout", "0"]):
        with pytest.raises(SystemExit) as exit_:
            radcurate(["ingest", "--dicom", str(tree), "--out", str(tmp_path / "o"), *argv])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and ("--workers" in err or "--scheduler" in err or "--worker-timeout" in err)


@pytest.mark.slow
def test_a_cluster_without_workers_fails_after_the_timeout_instead_of_waiting_forever(tree, tmp_path, capsys):
    from distributed import LocalCluster

    with LocalCluster(n_workers=0, dashboard_address=":0", processes=False, protocol="tcp") as cluster:
        code = radcurate(["ingest", "--dicom", str(tree), "--out", str(tmp_path / "o"),
                          "--scheduler", cluster.scheduler_address, "--worker-timeout", "2"])
    assert code == 2 and "no worker" in capsys.readouterr().err


def test_phi_zone_is_private_and_quarantine_names_no_other_path(tree, tmp_path):
    dup = tree / "PT_B" / "COPY_OF_DOE_JANE.dcm"
    shutil.copy(next((tree / "PT_A").iterdir()), dup)
    out = tmp_path / "out"
    assert radcurate(["ingest", "--dicom", str(tree), "--out", str(out), "--workers", "0"]) == 0
    assert stat.S_IMODE((out / "phi").stat().st_mode) == 0o700
    for f in (out / "phi").rglob("*"):  # table folders owner-only, their part files too
        assert stat.S_IMODE(f.stat().st_mode) == (0o700 if f.is_dir() else 0o600), f.name
    q = quarantine(out)
    row = q[q.reason == "duplicate_sop_instance"]
    assert len(row) == 1 and "PT_A" not in row.detail.iloc[0]


def test_a_secret_others_can_read_or_inside_the_output_is_refused(synth_export, tmp_path, capsys):
    csv = synth_export / "ris" / "reports.csv"
    loose = tmp_path / "loose.key"
    loose.write_bytes(b"s" * 64)
    loose.chmod(0o644)
    assert radcurate(["deid", "--reports", str(csv), "--out", str(tmp_path / "a"), "--secret", str(loose),
                      "--workers", "0"]) == 2
    assert "chmod 600" in capsys.readouterr().err
    inside = tmp_path / "b" / "curated" / "secret.key"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(b"s" * 64)
    inside.chmod(0o600)
    assert radcurate(["deid", "--reports", str(csv), "--out", str(tmp_path / "b"), "--secret", str(inside),
                      "--workers", "0"]) == 2
    assert "inside the output folder" in capsys.readouterr().err
    assert not (tmp_path / "b" / "curated" / "reports.parquet").exists()


@pytest.mark.slow
def test_when_every_worker_dies_mid_run_the_wait_ends_with_a_message():
    import time

    from distributed import LocalCluster

    from radcurate.cluster import NoWorkersError, open_client

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with pytest.raises(NoWorkersError, match="all workers .* are gone"):
            with open_client(cluster.scheduler_address, worker_timeout=2) as client:
                cluster.scale(0)  # the cluster loses its only worker, and nobody restarts it
                client.submit(time.sleep, 0.1, pure=False).result()


@pytest.mark.slow
def test_ctrl_c_during_a_run_prints_one_line_and_no_worker_tracebacks(synth_export, tmp_path):
    import signal
    import time

    cmd = [sys.executable, "-m", "radcurate.dags.cli", "run", "--dicom", str(synth_export / "pacs"),
           "--reports", str(synth_export / "ris" / "reports.csv"), "--out", str(tmp_path / "out"),
           "--workers", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group, as a terminal's job
    try:
        for line in proc.stderr:  # wait for ingest to finish: deid is then running on the cluster
            if line.startswith("[ingest] done"):
                break
        time.sleep(1)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends: every process of the group
        rest = proc.stderr.read()
        assert proc.wait(timeout=120) == 130
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    lines = [line for line in rest.splitlines() if line.strip()]
    assert lines[-1] == "interrupted; rerun the same command to resume"
    assert "Traceback" not in rest and len(lines) <= 2, rest
