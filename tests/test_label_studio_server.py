"""Round trip through a real Label Studio server on loopback: create the project with
label-studio-sdk, import the exported pre-annotated tasks, submit a reviewer's annotations
through the API, export JSON, `radcurate review import` it, and label with the answers.

Label Studio pins its own Django/pydantic stack, so it lives in its own virtual environment,
created here on first use and kept at ~/.cache/radcurate-label-studio-venv-<version>
(RADCURATE_LABEL_STUDIO_VENV overrides), then reused. The SDK runs as a subprocess script there.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from radcurate.dags.cli import main
from radcurate.labeling.label_studio import CHOICE_VALUE, control_name
from test_labeling_cli import mined_dir

LS_VERSION, SDK_VERSION = "1.23.2", "2.1.2"
VENV = Path(os.environ.get("RADCURATE_LABEL_STUDIO_VENV",
                           Path.home() / ".cache" / f"radcurate-label-studio-venv-{LS_VERSION}"))
TOKEN = "radcuratetesttoken0123456789abcdef012345"

pytestmark = pytest.mark.slow


def label_studio_venv() -> Path:
    """The cached environment with label-studio + label-studio-sdk; created when missing."""
    marker = VENV / f".installed-{LS_VERSION}-{SDK_VERSION}"
    if marker.exists():
        return VENV
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True,
                       timeout=300)
        subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "-q",
                        f"label-studio=={LS_VERSION}", f"label-studio-sdk=={SDK_VERSION}"],
                       check=True, capture_output=True, text=True, timeout=1500)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        pytest.skip(f"cannot install label-studio {LS_VERSION} into {VENV} (no package index "
                    f"reachable?): {type(exc).__name__} {str(detail)[-300:]}")
    marker.touch()
    return VENV


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SDK_SCRIPT = textwrap.dedent('''
    import json, sys
    from label_studio_sdk import LabelStudio
    url, token, project_dir, answers_file, out = sys.argv[1:6]
    ls = LabelStudio(base_url=url, api_key=token)
    config = open(f"{project_dir}/config.xml", encoding="utf-8").read()
    tasks = json.load(open(f"{project_dir}/tasks.json", encoding="utf-8"))
    project = ls.projects.create(title="radcurate review queue", label_config=config)
    ls.projects.import_tasks(id=project.id, request=tasks)
    answers = json.load(open(answers_file))
    for task in ls.tasks.list(project=project.id, fields="all"):
        a = answers[task.data["report_id"]]
        assert len(task.predictions) == 1, "pre-annotation imported with the task"
        result = [{"from_name": name, "to_name": "report", "type": "choices",
                   "value": {"choices": [choice]}} for name, choice in a["choices"].items()]
        result.append({"from_name": "comment", "to_name": "report", "type": "textarea",
                       "value": {"text": [a["comment"]]}})
        ls.annotations.create(id=task.id, result=result, was_cancelled=False,
                              ground_truth=False)
    data = b"".join(ls.projects.exports.download_sync(project.id, export_type="JSON",
                                                       download_all_tasks=True))
    open(out, "wb").write(data)
    print(json.dumps({"project": project.id, "tasks": len(json.loads(data))}))
''')


def test_review_round_trip_through_label_studio(tmp_path, capsys):
    venv = label_studio_venv()
    d = mined_dir(tmp_path)
    proj = tmp_path / "project"
    assert main(["review", "export", "--mined", str(d), "--n", "5", "--format", "label-studio",
                 "--out", str(proj)]) == 0
    tasks = json.loads((proj / "tasks.json").read_text())
    # what the reviewer decides: disagree with the model on Effusion, call Nodule uncertain
    answers = {}
    for i, t in enumerate(tasks):
        pred = {r["from_name"]: r["value"]["choices"][0]
                for r in t["predictions"][0]["result"] if r["type"] == "choices"}
        choices = dict(pred, Effusion="negative" if pred["Effusion"] == "positive" else "positive",
                       Nodule="uncertain")
        answers[t["data"]["report_id"]] = {"choices": choices, "comment": f"checked {i}"}
    (tmp_path / "answers.json").write_text(json.dumps(answers))
    port = free_port()
    data_dir = tmp_path / "ls-data"
    env = dict(os.environ, LABEL_STUDIO_BASE_DATA_DIR=str(data_dir),
               LABEL_STUDIO_USERNAME="reviewer@example.org", LABEL_STUDIO_PASSWORD="reviewpass1",
               LABEL_STUDIO_USER_TOKEN=TOKEN, LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN="true",
               LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK="true", COLLECT_ANALYTICS="false",
               SENTRY_DSN="", FRONTEND_SENTRY_DSN="")
    log = open(tmp_path / "label-studio.log", "w")
    server = subprocess.Popen([str(venv / "bin" / "label-studio"), "start", "--no-browser",
                               "--host", "127.0.0.1", "--port", str(port),
                               "--data-dir", str(data_dir)],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=5)
                break
            except (urllib.error.URLError, OSError):
                if server.poll() is not None or time.time() > deadline:
                    pytest.fail("Label Studio did not start: "
                                + (tmp_path / "label-studio.log").read_text()[-2000:])
                time.sleep(1)
        script = tmp_path / "sdk_round_trip.py"
        script.write_text(SDK_SCRIPT)
        export = tmp_path / "export.json"
        run = subprocess.run([str(venv / "bin" / "python"), str(script), url, TOKEN, str(proj),
                              str(tmp_path / "answers.json"), str(export)],
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
        assert json.loads(run.stdout.strip().splitlines()[-1])["tasks"] == 5
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    store = tmp_path / "store"
    assert main(["review", "import", str(export), "--format", "label-studio", "--store",
                 str(store), "--mined", str(d)]) == 0
    assert "stored 5 reviewed report(s)" in capsys.readouterr().out
    per = pd.read_csv(store / "reviewers.csv", dtype={"report_id": str, "reviewer": str})
    assert len(per) == 5 and per["reviewer"].nunique() == 1
    assert sorted(per["comment"]) == [f"checked {i}" for i in range(5)]
    stored = load = pd.read_csv(store / "reviewed.csv", dtype={"report_id": str})
    load = stored.set_index("report_id")
    names = {control_name(c): c for c in load.columns}
    for rid, a in answers.items():  # imported labels equal the submitted ones, every finding
        for name, choice in a["choices"].items():
            got = load.loc[rid, names[name]]
            assert (None if pd.isna(got) else int(got)) == CHOICE_VALUE[choice], (rid, name)
    assert main(["label", "--mined", str(d), "--out", str(tmp_path / "out"),
                 "--reviewed", str(store / "reviewed.csv")]) == 0
    assert "(5 reviewed)" in capsys.readouterr().out
    labels = pd.read_parquet(tmp_path / "out" / "labels.parquet")
    for rid, a in answers.items():  # the label model takes the reviewer's word
        row = labels[(labels["report_id"] == rid) & (labels["finding"] == "Effusion")].iloc[0]
        assert row["reviewed"] and row["value"] == CHOICE_VALUE[a["choices"]["Effusion"]]
