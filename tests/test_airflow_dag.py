"""The Airflow DAG, run for real by Airflow 3 in its own virtualenv (installed once, cached in
``~/.cache/radcurate-airflow-venv``; see scripts/airflow_env.py).

A user's story: point Airflow's DAG folder at ``dags/``, trigger ``radcurate`` with the paths of a
PACS export, get the same curated dataset as ``radcurate run`` — in-process (``airflow dags test``)
and with tasks in LocalExecutor worker processes talking to the API server, Dask workers forked
inside the tasks. Missing or wrong inputs fail before anything is written; a failing stage fails
the DagRun, and the manifest is still written.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from radcurate.dags.pipeline import PIPELINE
from radcurate.dags.runner import run_pipeline
from radcurate.synthesis import generate_export
from radcurate.synthesis.config import ExportConfig

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from airflow_env import ensure_airflow_venv, project_site  # noqa: E402

CURATED = ("studies", "series", "instances", "reports", "deid_audit", "rule_labels", "mentions",
           "measurements", "recist", "labels")


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    """(airflow executable, environment) with a fresh SQLite metadata DB and our DAG folder."""
    venv = ensure_airflow_venv(log=lambda line: print(line, file=sys.stderr))
    home = tmp_path_factory.mktemp("airflow_home")
    env = {
        **os.environ,
        "RADCURATE_PROJECT_SITE": project_site(),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("PYTHONPATH", None)
    subprocess.run([str(venv / "bin/airflow"), "db", "migrate"], env=env, cwd=home, check=True,
                   capture_output=True, timeout=300)
    return venv, env


def dags_test(airflow, conf: dict | None, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    venv, base = airflow
    argv = [str(venv / "bin/airflow"), "dags", "test", *extra, "radcurate"]
    if conf is not None:
        argv += ["-c", json.dumps(conf)]
    return subprocess.run(argv, env=env or base, cwd=base["AIRFLOW_HOME"], capture_output=True, text=True,
                          timeout=600)


def dagrun_state(proc: subprocess.CompletedProcess) -> str:
    for line in reversed(proc.stdout.splitlines() + proc.stderr.splitlines()):
        if "DagRun Finished" in line:
            return line.split("state=")[1].split(",")[0]
    return "never finished"


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    return generate_export(tmp_path_factory.mktemp("af_export"), patients=2, seed=5, config=ExportConfig(ct_slices=12))


@pytest.fixture(scope="module")
def cli_out(export, tmp_path_factory):
    """What ``radcurate run`` writes for the same export: the reference."""
    out = tmp_path_factory.mktemp("cli_out")
    report = run_pipeline({"dicom": export / "pacs", "reports": export / "ris/reports.csv"}, out, workers=0,
                          log=lambda line: None)
    assert report.ok
    return out


def conf(export, out, **more) -> dict:
    return {"dicom": str(export / "pacs"), "reports": str(export / "ris/reports.csv"), "out": str(out), **more}


def assert_same_curated(a: Path, b: Path) -> None:
    for t in CURATED:
        assert pq.read_table(a / "curated" / f"{t}.parquet").equals(pq.read_table(b / "curated" / f"{t}.parquet")), t
    files = pq.read_table(a / "curated/instances.parquet", columns=["path"]).column(0).to_pylist()
    assert files and all((a / "curated" / p).read_bytes() == (b / "curated" / p).read_bytes() for p in files)


def test_only_the_dag_file_is_parsed_every_stage_is_a_task_and_params_are_required(airflow, tmp_path):
    venv, env = airflow
    confs = {
        "none": {},
        "relative": {"dicom": "relative/pacs", "out": str(tmp_path)},
        "bad_workers": {"dicom": "/data/pacs", "out": str(tmp_path), "workers": -1},
        "good": {"dicom": "/data/pacs", "out": str(tmp_path), "workers": 2},
    }
    script = f"""
import copy, json
from airflow.dag_processing.dagbag import DagBag
b = DagBag({str(REPO / 'dags')!r}); d = b.get_dag('radcurate')
rejected = {{}}
for name, conf in {confs!r}.items():
    try:
        params = copy.deepcopy(d.params)
        params.update(conf)
        params.validate()  # what triggering a run does
        rejected[name] = ''
    except Exception as exc:
        rejected[name] = str(exc)
print(json.dumps({{'errors': {{k: str(v)[:200] for k, v in b.import_errors.items()}},
                  'files': sorted(set(x.fileloc.rsplit('/', 1)[1] for x in b.dags.values())),
                  'tasks': sorted(d.task_ids), 'teardown': [t.task_id for t in d.tasks if t.is_teardown],
                  'rejected': rejected}}))
"""
    proc = subprocess.run([str(venv / "bin/python"), "-c", script], env=env, capture_output=True, text=True,
                          timeout=300, cwd=env["AIRFLOW_HOME"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["errors"] == {}  # runner.py, cli.py ... are not parsed as DAG files (.airflowignore)
    assert found["files"] == ["airflow_dag.py"]
    assert found["tasks"] == sorted(["check_inputs", "manifest", *(s.name for s in PIPELINE)])
    assert found["teardown"] == ["manifest"]
    rejected = found["rejected"]
    assert "dicom" in rejected["none"] and "relative/pacs" in rejected["relative"]
    assert rejected["bad_workers"] and rejected["good"] == ""


def test_airflow_dags_test_gives_the_curated_dataset_of_radcurate_run(airflow, export, cli_out, tmp_path):
    out = tmp_path / "out"
    proc = dags_test(airflow, conf(export, out, workers=0))
    assert proc.returncode == 0 and dagrun_state(proc) == "success", proc.stdout[-3000:]
    assert_same_curated(out, cli_out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["ok"] and set(manifest["stages"]) == {s.name for s in PIPELINE}
    assert manifest["run_id"].startswith("manual__")


def test_missing_or_wrong_inputs_fail_before_anything_is_written(airflow, export, tmp_path):
    out = tmp_path / "out"
    proc = dags_test(airflow, None)  # no params at all: the run is not even created
    assert proc.returncode != 0 and "dicom" in (proc.stdout + proc.stderr)
    bad = tmp_path / "bad.yaml"
    bad.write_text("deid: {text_detector: tesseract2}\n")
    proc = dags_test(airflow, conf(export, out, dicom=str(tmp_path / "no_such_export"), config=str(bad)))
    text = proc.stdout + proc.stderr
    assert dagrun_state(proc) == "failed"
    assert "dicom: not a folder" in text and "deid.text_detector" in text
    assert not out.exists()


def test_a_failing_stage_fails_the_dagrun_and_the_manifest_is_still_written(airflow, tmp_path):
    junk = tmp_path / "not_a_pacs"
    junk.mkdir()
    for i in range(3):
        (junk / f"scan{i}.dcm").write_bytes(b"")
    out = tmp_path / "out"
    proc = dags_test(airflow, {"dicom": str(junk), "out": str(out), "workers": 0})
    assert proc.returncode != 0 and dagrun_state(proc) == "failed"
    manifest = json.loads((out / "manifest.json").read_text())
    assert not manifest["ok"]
    # nothing usable is an ingest error naming its reasons (a tree with no DICOM instance), never OK
    assert manifest["stages"]["ingest"]["status"] == "error"
    assert manifest["stages"]["deid"]["status"] == "blocked"
    assert not (out / "curated").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def api_server(airflow):
    """``airflow api-server``: the execution API that LocalExecutor's task processes talk to."""
    venv, env = airflow
    port = _free_port()
    env = {**env, "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
           "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/"}
    log = open(Path(env["AIRFLOW_HOME"], "api-server.log"), "w")
    proc = subprocess.Popen([str(venv / "bin/airflow"), "api-server", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, cwd=env["AIRFLOW_HOME"], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, Path(log.name).read_text()[-3000:]
            assert time.monotonic() < deadline, "api-server did not start"
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2)
                break
            except OSError:
                time.sleep(1)
        yield env
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_local_executor_with_forked_dask_workers_gives_the_same_dataset(airflow, export, cli_out, tmp_path):
    out = tmp_path / "out"
    with api_server(airflow) as env:
        proc = dags_test(airflow, conf(export, out, workers=1), "--use-executor", env=env)
    text = proc.stdout + proc.stderr
    assert "Loaded executor: :LocalExecutor:" in text
    assert "Nanny failed to start" not in text
    assert proc.returncode == 0 and dagrun_state(proc) == "success", text[-3000:]
    assert_same_curated(out, cli_out)
