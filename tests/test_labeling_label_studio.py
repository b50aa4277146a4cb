"""Review in Label Studio and on the static page: the queue goes out pre-annotated, the
reviewers' answers come back whole (or not at all) and the label model learns from them."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pandas as pd

from radcurate.dags.cli import main
from radcurate.labeling import VOCABULARIES, import_label_studio, load_reviewed
from radcurate.labeling.label_studio import CHOICE_VALUE, control_name
from test_labeling_cli import mined_dir


def export(tmp_path, capsys, n=4):
    d = mined_dir(tmp_path)
    proj = tmp_path / "ls"
    assert main(["review", "export", "--mined", str(d), "--n", str(n), "--format", "label-studio",
                 "--out", str(proj)]) == 0
    assert f"{n} pre-annotated reports" in capsys.readouterr().out
    return d, proj


def annotate(task: dict, reviewer, answers: dict[str, str], ann_id: int, comment: str = "") -> dict:
    """What Label Studio's JSON export holds for one submitted annotation."""
    result = [{"from_name": control_name(f), "to_name": "report", "type": "choices",
               "value": {"choices": [c]}} for f, c in answers.items()]
    if comment:
        result.append({"from_name": "comment", "to_name": "report", "type": "textarea",
                       "value": {"text": [comment]}})
    return {"id": ann_id, "completed_by": reviewer, "was_cancelled": False, "result": result}


def test_project_has_one_choice_group_per_finding_and_tasks_show_the_evidence(tmp_path, capsys):
    _, proj = export(tmp_path, capsys)
    root = ET.fromstring((proj / "config.xml").read_text())
    choices = root.findall(".//Choices")
    assert len(choices) == len(VOCABULARIES["chestxray14"]) and {c.get("toName") for c in choices} == {"report"}
    assert [c.get("value") for c in choices[0]] == ["positive", "negative", "uncertain",
                                                    "not mentioned"]
    assert root.find(".//TextArea") is not None and root.find(".//Labels") is not None
    tasks = json.loads((proj / "tasks.json").read_text())
    assert [t["data"]["rank"] for t in tasks] == [1, 2, 3, 4]  # the queue's order
    pri = [t["data"]["priority"] for t in tasks]
    assert pri[0] == max(pri)
    eff = next(t for t in tasks if "effusion" in t["data"]["text"].lower())
    result = eff["predictions"][0]["result"]
    assert {"from_name": "Effusion", "to_name": "report", "type": "choices",
            "value": {"choices": ["positive"]}}.items() <= next(
        r for r in result if r["from_name"] == "Effusion").items()
    spans = [r for r in result if r["type"] == "labels"]
    assert spans, "each mention is highlighted"
    for r in spans:  # the span points at its trigger in the text, with why it voted
        v = r["value"]
        assert eff["data"]["text"][v["start"]:v["end"]] == v["text"]
        assert "assertion:" in r["meta"]["text"][0] and "sentence:" in r["meta"]["text"][0]
    assert "**" not in eff["data"]["text"]  # plain text: highlights are regions, not markers


def test_two_reviewers_round_trip_into_the_store_and_the_label_model(tmp_path, capsys):
    d, proj = export(tmp_path, capsys)
    tasks = json.loads((proj / "tasks.json").read_text())
    submitted = {}
    for i, t in enumerate(tasks):
        rid = t["data"]["report_id"]
        a = {"Effusion": "negative", "Nodule": "positive" if i % 2 else "uncertain",
             "Hernia": "not mentioned"}
        b = dict(a, Nodule="positive")
        t["id"] = 100 + i
        t["annotations"] = [annotate(t, 7, a, 2 * i, comment="checked"),
                            annotate(t, {"id": 8, "email": "rad2@example.org"}, b, 2 * i + 1)]
        submitted[rid] = a
    tasks.append({"id": 999, "data": tasks[0]["data"] | {"report_id": "R010"},
                  "annotations": [dict(annotate(tasks[0], 7, {"Effusion": "positive"}, 50),
                                       was_cancelled=True)]})  # skipped: not a review
    export_file = tmp_path / "export.json"
    export_file.write_text(json.dumps(tasks, indent=2))
    store = tmp_path / "store"
    assert main(["review", "import", str(export_file), "--format", "label-studio",
                 "--store", str(store), "--mined", str(d)]) == 0
    out = capsys.readouterr().out
    assert "stored 4 reviewed report(s)" in out and "agreement between reviewers" in out
    assert "Nodule" in out and "Effusion" in out
    per = pd.read_csv(store / "reviewers.csv", dtype={"report_id": str, "reviewer": str})
    assert len(per) == 8 and set(per["reviewer"]) == {"7", "rad2@example.org"}
    assert (per.loc[per["reviewer"] == "7", "comment"] == "checked").all()
    mine = per[per["reviewer"] == "7"].set_index("report_id")
    for rid, a in submitted.items():  # what the reviewer submitted is what was stored
        for f, c in a.items():
            got = mine.loc[rid, f]
            assert (None if pd.isna(got) else int(got)) == CHOICE_VALUE[c]
    stored = load_reviewed(store).set_index("report_id")
    assert set(stored.index) == set(submitted)
    assert (stored["Effusion"] == 0).all() and stored["Hernia"].isna().all()
    # the reviewers agree on Nodule for half the reports; a 1-1 tie stores uncertain
    assert sorted(stored["Nodule"].tolist()) == [-1, -1, 1, 1]
    assert main(["label", "--mined", str(d), "--out", str(tmp_path / "out"),
                 "--reviewed", str(store / "reviewed.csv")]) == 0
    assert "(4 reviewed)" in capsys.readouterr().out
    labels = pd.read_parquet(tmp_path / "out" / "labels.parquet")
    eff = labels[(labels["finding"] == "Effusion") & labels["report_id"].isin(list(submitted))]
    assert eff["reviewed"].all() and (eff["value"] == 0).all()  # the reviewers' word wins


def test_a_bad_export_is_rejected_whole_with_its_lines(tmp_path, capsys):
    d, proj = export(tmp_path, capsys, n=2)
    tasks = json.loads((proj / "tasks.json").read_text())
    tasks[0]["annotations"] = [annotate(tasks[0], 7, {"Effusion": "positive"}, 1)]
    tasks[1]["annotations"] = [annotate(tasks[1], 7, {"Effusion": "maybe"}, 2)]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(tasks, indent=1))
    second_line = bad.read_text().splitlines().index(" {", 2) + 1
    code = main(["review", "import", str(bad), "--format", "label-studio", "--store",
                 str(tmp_path / "s"), "--mined", str(d)])
    err = capsys.readouterr().err
    assert code == 2 and "nothing was stored" in err
    assert f"line {second_line}: report {tasks[1]['data']['report_id']}" in err
    assert "Effusion: choice must be one of" in err
    assert not (tmp_path / "s" / "reviewed.csv").exists()
    trunc = tmp_path / "trunc.json"
    trunc.write_text(bad.read_text()[:200])
    r = import_label_studio(trunc, tmp_path / "s")
    assert not r.ok and "trunc.json" in r.errors[0]


def test_html_page_embeds_the_tasks_and_its_saved_file_imports(tmp_path, capsys):
    d = mined_dir(tmp_path)
    page = tmp_path / "review.html"
    assert main(["review", "export", "--mined", str(d), "--n", "3", "--format", "html",
                 "--out", str(page)]) == 0
    html = page.read_text()
    assert "<script" in html and "http" not in html.replace("http-equiv", "")  # no fetches
    start = html.index('<script id="tasks" type="application/json">') + len(
        '<script id="tasks" type="application/json">')
    tasks = json.loads(html[start:html.index("</script>", start)])
    assert len(tasks) == 3 and tasks[0]["predictions"][0]["result"]


def test_mentions_with_missing_trigger_or_foreign_offsets(tmp_path):
    """The pipeline's mentions carry nullable columns; offsets that don't match are not shown."""
    from radcurate.labeling.review import review_tasks
    from test_labeling_aggregate import mined_tables

    mined = mined_tables(["effusion"] * 3 + ["normal"] * 3)
    m = mined["mentions"]
    m["trigger"] = pd.array([None] * len(m), dtype="string")
    m["negated"] = pd.array(m["negated"], dtype="boolean")
    m["text"] = [mined["reports"].set_index("report_id").loc[r, "text"][s:e]
                 for r, s, e in zip(m["report_id"], m["start"], m["end"])]
    m.loc[0, "text"] = "something else"
    _, tasks = review_tasks(mined, 6)
    spans = [r for t in tasks for r in t["predictions"][0]["result"] if r["type"] == "labels"]
    assert len(spans) == len(m) - 1
    assert all("trigger: <NA>" not in r["meta"]["text"][0] for r in spans)
