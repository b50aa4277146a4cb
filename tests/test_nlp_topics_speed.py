"""`radcurate mine` at full speed: topics fitted on a sample, inferred for every report (also as
Dask tasks), a saved model reused, and the K grid only on request."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from radcurate.dags.cli import main as cli
from radcurate.nlp.report_tables import ReportTablesConfig, mine_report_tables
from radcurate.nlp.topics import TopicConfig

PARTS = [
    ["Heart size is normal.", "The heart is enlarged.", "Mild cardiomegaly is present."],
    ["Lungs are clear.", "Patchy right lower lobe airspace opacity.", "Small left pleural effusion.",
     "Bibasilar atelectasis."],
    ["No pneumothorax.", "Calcified granuloma in the left upper lobe.", "Degenerative changes of the spine."],
    ["IMPRESSION: No acute disease.", "IMPRESSION: Pneumonia.", "IMPRESSION: Stable chronic changes."],
]


def corpus() -> pd.DataFrame:
    texts = [" ".join(c) for c in itertools.product(*PARTS)] * 2  # 216 reports
    return pd.DataFrame({"report_id": [f"r{i:03d}" for i in range(len(texts))], "text": texts})


def test_topics_fit_on_a_sample_and_are_inferred_for_every_report_in_any_partition(tmp_path):
    reports = corpus()
    cfg = ReportTablesConfig(topics=TopicConfig(num_topics_grid=(4,), passes=2, iterations=30, fit_sample=60))
    one = mine_report_tables(reports, "report_id", "text", topic_model_dir=tmp_path / "tm", config=cfg)
    assert len(one["topics"]) == len(reports) and one["topic_terms"]["topic"].nunique() == 4
    from distributed import Client

    with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
        split = mine_report_tables(reports, "report_id", "text", topic_model_dir=tmp_path / "tm", config=cfg,
                            partitions=3, scheduler=client)
    # the same reports get the same mixtures whichever partition (Dask task) inferred them
    a = np.stack(one["topics"].sort_values("report_id")["mixture"].to_numpy())
    b = np.stack(split["topics"].sort_values("report_id")["mixture"].to_numpy())
    assert np.allclose(a, b)
    assert split["measurements"].equals(one["measurements"])


def test_mine_reuses_a_saved_topic_model_and_searches_k_only_when_asked(tmp_path):
    csv = tmp_path / "reports.csv"
    corpus().rename(columns={"report_id": "accession", "text": "report_text"}).to_csv(csv, index=False)
    assert cli(["mine", "--reports", str(csv), "--out", str(tmp_path / "a"), "--topic-k", "3,4",
                "--no-progress"]) == 0
    import json

    meta = json.loads((tmp_path / "a" / "topic_model" / "config.json").read_text())
    assert set(meta["coherence_by_k"]) == {"3", "4"}  # the grid, on request
    assert cli(["mine", "--reports", str(csv), "--out", str(tmp_path / "b"), "--no-progress",
                "--topic-model", str(tmp_path / "a" / "topic_model")]) == 0
    first = pd.read_parquet(tmp_path / "a" / "topic_terms.parquet")
    again = pd.read_parquet(tmp_path / "b" / "topic_terms.parquet")
    assert again.equals(first)  # the saved model, not a refit
    assert cli(["mine", "--reports", str(csv), "--out", str(tmp_path / "c"), "--no-progress",
                "--topic-model", str(tmp_path / "nowhere")]) == 2
    assert cli(["mine", "--reports", str(csv), "--out", str(tmp_path / "d"), "--no-progress",
                "--topic-k", "many"]) == 2
