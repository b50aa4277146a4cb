"""The labeling commands as a user runs them: review export / import, eval-labels, label."""
from __future__ import annotations

import pandas as pd

from radcurate.dags.cli import main
from test_labeling_aggregate import mined_tables


def mined_dir(tmp_path):
    d = tmp_path / "mined"
    d.mkdir()
    for name, table in mined_tables(["normal"] * 8 + ["effusion"] * 4 + ["maybe_nodule"] * 2).items():
        table.to_parquet(d / f"{name}.parquet")
    return d


def test_review_round_trip(tmp_path, capsys):
    d = mined_dir(tmp_path)
    batch = tmp_path / "batch.csv"
    assert main(["review", "export", "--mined", str(d), "--n", "3", "--out", str(batch)]) == 0
    assert "wrote 3 reports" in capsys.readouterr().out
    filled = pd.read_csv(batch, dtype={"report_id": str})
    filled["Nodule"] = 1
    filled.to_csv(batch, index=False)
    store = tmp_path / "store"
    assert main(["review", "import", str(batch), "--store", str(store), "--mined", str(d)]) == 0
    assert "stored 3 reviewed report(s)" in capsys.readouterr().out
    assert main(["label", "--mined", str(d), "--out", str(tmp_path / "out"),
                 "--reviewed", str(store / "reviewed.csv")]) == 0
    assert "(3 reviewed)" in capsys.readouterr().out


def test_bad_review_file_exits_2_and_names_the_line(tmp_path, capsys):
    d = mined_dir(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("report_id,Effusion\nR000,1\nNOPE,1\n")
    code = main(["review", "import", str(bad), "--store", str(tmp_path / "s"), "--mined", str(d)])
    err = capsys.readouterr().err
    assert code == 2 and "line 3: unknown report_id" in err and "nothing was stored" in err
    assert not (tmp_path / "s" / "reviewed.csv").exists()


def test_eval_labels_prints_a_table(tmp_path, capsys):
    gold = tmp_path / "gold.csv"
    pd.DataFrame({"report_id": ["a", "b", "c"], "Effusion": [1, 0, 1]}).to_csv(gold, index=False)
    pred = tmp_path / "pred.csv"
    pd.DataFrame({"report_id": ["a", "b"], "finding": "Effusion", "value": [1, 1]}).to_csv(pred, index=False)
    assert main(["eval-labels", "--gold", str(gold), "--pred", str(pred), "--n-boot", "50"]) == 0
    out = capsys.readouterr().out
    assert "Effusion" in out and "micro" in out and "0.500" in out  # P 1/2, R 1/2
    assert main(["eval-labels", "--gold", str(tmp_path / "missing.csv"), "--pred", str(pred)]) == 2
