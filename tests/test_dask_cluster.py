"""A real Dask cluster: a `dask scheduler` and two `dask worker` processes on 127.0.0.1, started and
stopped here, give the same rows as an in-process run — for ingest and for the whole pipeline."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pydicom.data
import pytest
from radcurate.dags import commands
from radcurate.ingest import run_ingest

BIN = Path(sys.executable).parent
PYDICOM_DATA = Path(pydicom.data.__file__).parent
TABLES = [
    "phi/instances.parquet",
    "phi/series.parquet",
    "phi/studies.parquet",
    "phi/reports.parquet",
    "quarantine.parquet",
]


def start(args: list[str], env: dict) -> subprocess.Popen:
    """A `dask` command in its own process group (so that stopping it stops its children)."""
    return subprocess.Popen(
        [str(BIN / "dask"), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Scheduler address of a fresh cluster of two single-threaded worker processes."""
    tmp = tmp_path_factory.mktemp("dask")
    env = {**os.environ, "DASK_TEMPORARY_DIRECTORY": str(tmp)}
    info = tmp / "scheduler.json"
    local = ["--host", "127.0.0.1", "--no-dashboard"]
    scheduler = ["scheduler", *local, "--port", "0", "--dashboard-address", "127.0.0.1:0"]
    procs = [start([*scheduler, "--scheduler-file", str(info)], env)]
    try:
        deadline = time.monotonic() + 60
        while not info.exists() or not info.read_text().strip():
            assert procs[0].poll() is None, "dask scheduler exited"
            assert time.monotonic() < deadline, "dask scheduler did not start"
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        for i in range(2):
            worker = ["worker", address, *local, "--nworkers", "1", "--nthreads", "1", "--name", f"w{i}"]
            procs.append(start([*worker, "--local-directory", str(tmp / f"w{i}")], env))
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for p in reversed(procs):
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tree") / "pacs"
    for sub in ("test_files", "charset_files"):
        shutil.copytree(PYDICOM_DATA / sub, root / sub)
    return root


@pytest.mark.slow
def test_two_remote_workers_share_the_work_and_produce_the_local_rows(cluster, tree, tmp_path):
    from distributed import Client, get_task_stream

    local = tmp_path / "local"
    run_ingest(tree, None, local)
    remote = tmp_path / "remote"
    with Client(cluster) as client, get_task_stream(client) as stream:
        summary = run_ingest(tree, None, remote, client=client)
    workers = {t["worker"] for t in stream.data if str(t["key"]).startswith("read_part")}
    assert len(workers) == 2  # both worker processes read headers
    assert summary.batches >= 8
    for t in TABLES:
        assert pq.read_table(remote / t).equals(pq.read_table(local / t)), t


@pytest.mark.slow
def test_radcurate_run_with_scheduler_address(cluster, tree, tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="radcurate")
    commands.register(parser.add_subparsers())
    config = tmp_path / "mixed.yaml"  # pydicom's corpus: most files are not images a PACS sends
    config.write_text("ingest: {max_quarantined_share: 0.9}\n")
    args = parser.parse_args(
        ["run", "--dicom", str(tree), "--out", str(tmp_path / "out"), "--scheduler", cluster, "--config", str(config)]
    )
    assert args.func(args) == 0
    run_ingest(tree, None, tmp_path / "local")
    for t in TABLES:  # the run also quarantines in later stages: compare ingest's own rows
        ours = pq.read_table(tmp_path / "out" / t, filters=[("stage", "==", "ingest")] if "quarantine" in t else None)
        assert ours.equals(pq.read_table(tmp_path / "local" / t)), t
    assert "expectations passed" in capsys.readouterr().out


@pytest.mark.slow
def test_the_whole_pipeline_on_the_cluster_gives_the_in_process_dataset(cluster, synth_export, tmp_path):
    """deid, nlp and labeling spread over remote workers: the same curated rows as one process."""
    from radcurate.dags.runner import run_pipeline

    inputs = {"dicom": synth_export / "pacs", "reports": synth_export / "ris" / "reports.csv"}
    remote = run_pipeline(inputs, tmp_path / "remote", scheduler=cluster, log=lambda line: None)
    local = run_pipeline(inputs, tmp_path / "local", workers=0, log=lambda line: None)
    assert remote.ok and local.ok, [(o.name, o.status, o.message[:600]) for o in remote.outcomes + local.outcomes]
    for t in ("studies", "series", "instances", "reports", "rule_labels", "mentions", "measurements",
              "recist", "labels"):
        a = pq.read_table(tmp_path / "remote" / "curated" / f"{t}.parquet")
        b = pq.read_table(tmp_path / "local" / "curated" / f"{t}.parquet")
        if t == "instances":  # one part per task: row order follows the task plan, which has more tasks here
            a, b = a.sort_by("instance_key"), b.sort_by("instance_key")
        assert a.equals(b), t
    for rel in pq.read_table(tmp_path / "local" / "curated" / "instances.parquet", columns=["path"]).column(0).to_pylist():
        assert (tmp_path / "remote" / "curated" / rel).read_bytes() == (tmp_path / "local" / "curated" / rel).read_bytes()
