"""On the synthetic PACS export, weak-label probabilities mean what they say."""
from __future__ import annotations

import pandas as pd
import pytest

from radcurate.labeling import weak_labels
from radcurate.nlp import mine_reports


@pytest.fixture(scope="module")
def labelled(synth_export):
    reports = pd.read_csv(synth_export / "ris" / "reports.csv", dtype=str)
    mined = mine_reports(reports, "accession", ["report_text"])
    tables = {"labels": mined.labels, "mentions": mined.mentions,
              "reports": reports.rename(columns={"accession": "report_id",
                                                 "report_text": "text"})[["report_id", "text"]]}
    labels = weak_labels(tables)
    truth = pd.read_parquet(synth_export / "truth" / "findings.parquet")
    truth = truth.rename(columns={"accession": "report_id"})[["report_id", "finding", "present",
                                                             "assertion"]]
    return labels.merge(truth, on=["report_id", "finding"], validate="one_to_one"), len(reports)


def test_one_label_per_study_and_finding(labelled):
    table, n_reports = labelled
    assert len(table) == n_reports * 14
    assert table["probability"].between(0, 1).all()
    assert set(table["value"].dropna().astype(int)) <= {1, 0, -1}


def test_confident_labels_are_right_at_least_as_often_as_they_claim(labelled):
    table, _ = labelled
    sure_present = table[table["probability"] >= 0.9]
    assert len(sure_present) >= 10
    assert sure_present["present"].mean() >= 0.9
    # and confidence is not handed out to findings the report does not assert
    assert (table.loc[table["assertion"] == "not_mentioned", "probability"] < 0.9).all()


def test_every_positive_label_names_its_evidence(labelled):
    table, _ = labelled
    positives = table[table["value"] == 1]
    assert len(positives) > 0
    assert positives["sources"].map(lambda s: "miner_label" in s or "impression_mentions" in s
                                    or "findings_mentions" in s).all()
    # findings the report states plainly come out positive
    stated = table[table["assertion"] == "positive"]
    assert (stated["value"] == 1).mean() >= 0.9
