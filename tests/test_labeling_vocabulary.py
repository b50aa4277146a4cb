"""A site's own vocabulary reaches the labels; value and probability agree by the stated rule;
the strict Normal label is defeated by any other abnormality."""
from __future__ import annotations

import pandas as pd
import pytest

from radcurate.dags.cli import main as cli
from radcurate.labeling import LabelingConfig, build_labels, value_probability_rule
from radcurate.nlp import mine_reports
from radcurate.vocabulary import registry

SITE_LEXICON = """\
name: neuro
findings:
  Hemorrhage: [hemorrhage, haemorrhage, bleed]
  Infarct: [infarct, infarction, stroke]
"""

REPORTS = [
    "FINDINGS: Acute hemorrhage in the left basal ganglia. No infarct.",
    "FINDINGS: No hemorrhage. Old infarct in the right occipital lobe.",
    "FINDINGS: No acute hemorrhage or infarct. Lungs are clear.",
    "FINDINGS: Possible small bleed near the falx.",
] * 6


def test_a_site_vocabulary_from_mine_lexicon_is_labelled(tmp_path):
    (tmp_path / "neuro.yaml").write_text(SITE_LEXICON)
    csv = tmp_path / "reports.csv"
    pd.DataFrame({"accession": [f"A{i}" for i in range(len(REPORTS))], "report_text": REPORTS}).to_csv(csv, index=False)
    reviewed = tmp_path / "reviewed.csv"
    pd.DataFrame({"report_id": ["A0", "A1"], "Hemorrhage": [1, 0]}).to_csv(reviewed, index=False)
    rc = cli(["mine", "--reports", str(csv), "--out", str(tmp_path / "out"), "--lexicon", str(tmp_path / "neuro.yaml"),
              "--reviewed", str(reviewed), "--no-topics", "--no-progress"])
    assert rc == 0
    labels = pd.read_parquet(tmp_path / "out" / "labels.parquet")
    neuro = labels[labels["vocabulary"] == "neuro"].set_index(["report_id", "finding"])
    assert set(neuro.index.get_level_values("finding")) == {"Hemorrhage", "Infarct"}
    assert neuro.loc[("A0", "Hemorrhage"), "value"] == 1 and neuro.loc[("A0", "Hemorrhage"), "reviewed"]
    assert neuro.loc[("A4", "Hemorrhage"), "value"] == 1  # not reviewed: the rules and the label model
    assert neuro.loc[("A2", "Infarct"), "value"] == 0
    # the rules' own votes are kept beside the label model's labels
    rules = pd.read_parquet(tmp_path / "out" / "rule_labels.parquet")
    assert {"neuro", "chestxray14", "chexpert"} <= set(rules["vocabulary"])


def test_the_label_builder_keeps_the_callers_id_column():
    mined = mine_reports(pd.DataFrame({"report_key": ["k1", "k2"], "text": REPORTS[:2]}), "report_key", ["text"])
    tables = {"labels": mined.labels.rename(columns={"report_id": "report_key"}),
              "mentions": mined.mentions.rename(columns={"report_id": "report_key"})}
    labels = build_labels(tables, id_column="report_key")
    assert "report_key" in labels.columns and "report_id" not in labels.columns
    assert set(labels["vocabulary"]) == {"chestxray14", "chexpert"}  # every vocabulary the rules carry


def test_an_unknown_vocabulary_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="known: chestxray14, chexpert"):
        LabelingConfig(vocabularies=("neuro",))
    assert registry({"neuro": ["Hemorrhage"]})["neuro"] == ("Hemorrhage",)


def _check_rule(labels: pd.DataFrame, config: LabelingConfig) -> list[str]:
    """Rows breaking the stated value/probability rule, by the expectations' own row conditions."""
    broken = []
    for _, kw, why in value_probability_rule(config):
        rows = labels.query(kw["row_condition"], engine="python")
        p = rows["probability"]
        bad = (p < kw["min_value"]) | ((p >= kw["max_value"]) if kw["strict_max"] else (p > kw["max_value"]))
        broken += [why] * int(bad.sum())
    return broken


def test_value_is_the_policy_applied_to_the_probability():
    texts = ["FINDINGS: Possible atelectasis at the left base.", "FINDINGS: Small left pleural effusion.",
             "FINDINGS: No effusion. Lungs are clear.", "FINDINGS: Cardiomegaly cannot be excluded."] * 5
    mined = mine_reports(pd.DataFrame({"id": [f"r{i}" for i in range(len(texts))], "text": texts}), "id", ["text"])
    tables = {"labels": mined.labels, "mentions": mined.mentions,
              "reports": pd.DataFrame({"report_id": [f"r{i}" for i in range(len(texts))], "text": texts})}
    reviewed = pd.DataFrame({"report_id": [f"r{i}" for i in range(8)],
                             "Atelectasis": [1, 0, 0, -1, 1, 0, 0, 0], "Effusion": [0, 1, 0, 0, 0, 1, 0, 0]})
    for rev in (None, reviewed):
        labels = build_labels(tables, rev)
        assert _check_rule(labels, LabelingConfig()) == []
    atel = labels[(labels["finding"] == "Atelectasis") & ~labels["reviewed"]]
    hedged = atel[atel["report_id"].isin([f"r{i}" for i in range(8, 20, 4)])]
    # uncertain atelectasis follows u_ones (CheXpert): value 1 with a probability in the uncertain band
    assert (hedged["value"] == 1).all() and hedged["probability"].between(0.2, 0.5).all()
    # a labels table whose value contradicts its probability is caught
    broken = labels.copy()
    broken.loc[broken.index[0], ["value", "probability", "policy"]] = [1, 0.15, "u_ignore"]
    assert _check_rule(broken, LabelingConfig())


@pytest.mark.parametrize("text,normal", [
    ("FINDINGS: Heart size normal. Lungs are clear. No effusion or pneumothorax.", 1),
    ("FINDINGS: Lungs are clear. Calcified granuloma in the right upper lobe.", 0),
    ("FINDINGS: Lungs are clear. Degenerative changes of the thoracic spine.", 0),
    ("FINDINGS: Lungs are clear. The aorta is tortuous.", 0),
    ("FINDINGS: Low lung volumes. No focal consolidation.", 0),
    ("FINDINGS: Lung volumes are low. No focal consolidation.", 0),
    ("FINDINGS: Median sternotomy wires. Lungs are clear.", 0),
    ("FINDINGS: Healed right rib fracture. Lungs are clear.", 0),
    ("FINDINGS: Mild scoliosis. No acute disease.", 0),
    ("FINDINGS: Hyperinflated lungs. No infiltrate.", 0),
    ("FINDINGS: Left-sided pacemaker. No acute cardiopulmonary disease.", 0),
    ("FINDINGS: Evidence of prior granulomatous disease. Lungs otherwise clear.", 0),  # old, still not normal
    ("FINDINGS: No fracture. No scoliosis. Lungs are clear.", 1),  # negated defeaters do not defeat
    ("FINDINGS: Small left pleural effusion.", 0),
])
def test_strict_normal_is_defeated_by_any_other_abnormality(text, normal):
    labels = mine_reports(pd.DataFrame({"id": ["r"], "text": [text]}), "id", ["text"]).labels
    value = labels[(labels["vocabulary"] == "chestxray14") & (labels["finding"] == "Normal")]["value"].iloc[0]
    assert value == normal
