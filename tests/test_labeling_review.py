"""Review queue: the right reports go out, highlighted; answers come back whole or not at all."""
from __future__ import annotations

import json

import pandas as pd

from radcurate.labeling import (export_review, import_review, label_with_votes, load_reviewed,
                                review_priority, select_for_review)
from test_labeling_aggregate import mined_tables

KINDS = ["normal"] * 12 + ["effusion"] * 6 + ["maybe_nodule"] * 3 + ["hernia"] * 3


def test_export_covers_each_kind_of_evidence_with_it_highlighted(tmp_path):
    mined = mined_tables(KINDS)
    out = export_review(mined, 3, tmp_path / "batch.csv", seed=1)
    batch = pd.read_csv(out, dtype={"report_id": str})
    assert len(batch) == 3
    kinds = [KINDS[int(r[1:])] for r in batch["report_id"]]
    # one report per kind of evidence ("questionable nodule", effusion, hiatal hernia), never two
    # of a kind; plain normal reports, where every rule agrees, wait
    assert sorted(kinds) == ["effusion", "hernia", "maybe_nodule"]
    first = batch.iloc[0]
    assert "**" in first["text"]  # the evidence is marked in the text
    assert batch["Nodule"].isna().all() and batch["Effusion"].isna().all()  # blank, to fill
    assert "current_Nodule" in batch.columns and "p_Nodule" in batch.columns


def test_jsonl_export_reads_back_one_object_per_report(tmp_path):
    out = export_review(mined_tables(KINDS), 4, tmp_path / "batch.jsonl")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 4 and all(r["Effusion"] is None for r in rows)
    assert rows[0]["text"].count("**") % 2 == 0


def test_one_topic_cannot_fill_the_batch():
    mined = mined_tables(KINDS)
    labels, votes = label_with_votes(mined)
    priority = review_priority(labels, votes)
    # all uncertain reports in topic 0, the rest in topic 1
    topics = pd.DataFrame({"report_id": priority["report_id"],
                           "dominant_topic": [0 if r in {"R018", "R019", "R020"} else 1
                                              for r in priority["report_id"]]})
    alone = select_for_review(priority, 3)
    spread = select_for_review(priority, 3, topics=topics)
    assert set(alone) == {"R018", "R019", "R020"}
    assert len(set(spread) - {"R018", "R019", "R020"}) >= 1


def write_csv(path, rows: list[dict]):
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_import_stores_answers_and_later_files_update_them(tmp_path):
    store = tmp_path / "store"
    f1 = write_csv(tmp_path / "a.csv", [
        {"report_id": "R000", "Effusion": 0, "Nodule": "", "notes": "fine"},
        {"report_id": "R018", "Effusion": "", "Nodule": -1, "notes": "hmm"},
        {"report_id": "R019", "Effusion": "", "Nodule": "", "notes": "not done yet"},
    ])
    result = import_review(f1, store, known_ids=[f"R{i:03d}" for i in range(24)])
    assert result.ok and result.n_stored == 2 and result.n_blank == 1
    f2 = write_csv(tmp_path / "b.csv", [{"report_id": "R018", "Effusion": 0, "Nodule": 1}])
    assert import_review(f2, store).ok
    stored = load_reviewed(store).set_index("report_id")
    assert list(stored.index) == ["R000", "R018"]
    assert stored.loc["R018", "Nodule"] == 1 and stored.loc["R000", "Effusion"] == 0
    assert "notes" not in stored.columns


def test_a_file_with_bad_rows_is_rejected_whole_with_line_numbers(tmp_path):
    store = tmp_path / "store"
    good = write_csv(tmp_path / "good.csv", [{"report_id": "R000", "Effusion": 1}])
    assert import_review(good, store).ok
    before = (store / "reviewed.csv").read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_text("report_id,Effusion,Nodule,text\n"
                   "R001,1,0,\"a report\nspanning two lines\"\n"
                   "R002,yes,0,x\n"
                   "R999,0,0,x\n"
                   ",1,,x\n"
                   "R001,0,0,x\n"
                   "R003,2,0,x\n")
    result = import_review(bad, store, known_ids=[f"R{i:03d}" for i in range(10)])
    assert not result.ok and result.path is None
    joined = "\n".join(result.errors)
    assert "line 4: Effusion" in joined  # 'yes' (line 4: the quoted text spans lines 2-3)
    assert "line 5: unknown report_id" in joined
    assert "line 6: report_id is blank" in joined
    assert "line 7: report_id repeats line 2" in joined
    assert "line 8: Effusion" in joined
    assert "yes" not in joined  # cell contents are never echoed
    assert (store / "reviewed.csv").read_bytes() == before  # nothing half-applied


def test_files_without_findings_or_ids_are_refused(tmp_path):
    f = write_csv(tmp_path / "x.csv", [{"report_id": "R000", "Comment": "ok"}])
    assert "no finding columns" in import_review(f, tmp_path).errors[0]
    g = write_csv(tmp_path / "y.csv", [{"id": "R000", "Effusion": 1}])
    assert "no report_id column" in import_review(g, tmp_path).errors[0]
    h = tmp_path / "z.csv"
    h.write_bytes(b"report_id,Effusion\n\xff\xfe,1\n")
    assert "not UTF-8" in import_review(h, tmp_path).errors[0]


def test_reviewed_reports_are_not_asked_again(tmp_path):
    mined = mined_tables(KINDS)
    first = pd.read_csv(export_review(mined, 3, tmp_path / "1.csv"), dtype={"report_id": str})
    filled = first[["report_id"]].assign(Nodule=0, Effusion=0, Hernia=0)
    filled.to_csv(tmp_path / "1_filled.csv", index=False)
    assert import_review(tmp_path / "1_filled.csv", tmp_path / "store").ok
    second = pd.read_csv(export_review(mined, 3, tmp_path / "2.csv",
                                       reviewed=load_reviewed(tmp_path / "store")),
                         dtype={"report_id": str})
    assert not set(first["report_id"]) & set(second["report_id"])
