"""Weak labels: one row per study and finding, with probability, policy, sources; reviews win."""
from __future__ import annotations

import numpy as np
import pandas as pd

from radcurate.labeling import (LABELS_SCHEMA, VOCABULARIES, LabelingConfig, apply_reviewed, labels_expectations,
                                run_labeling, weak_labels)

TEMPLATES = {
    # name: (text, [(finding, phrase, section, negated, uncertain)])
    "effusion": ("FINDINGS: Small left pleural effusion. IMPRESSION: Left effusion.",
                 [("Effusion", "pleural effusion", "findings", False, False),
                  ("Effusion", "effusion", "impression", False, False)]),
    "normal": ("FINDINGS: No pleural effusion. Lungs are clear. "
               "IMPRESSION: No acute cardiopulmonary disease.",
               [("Effusion", "pleural effusion", "findings", True, False)]),
    "maybe_atelectasis": ("FINDINGS: Basilar opacity. IMPRESSION: Possible atelectasis.",
                          [("Atelectasis", "atelectasis", "impression", False, True)]),
    "maybe_cardiomegaly": ("FINDINGS: Heart size borderline. "
                           "IMPRESSION: Cardiomegaly cannot be excluded.",
                           [("Cardiomegaly", "Cardiomegaly", "impression", False, True)]),
    "maybe_nodule": ("FINDINGS: Small density. IMPRESSION: Questionable nodule.",
                     [("Nodule", "nodule", "impression", False, True)]),
    "hernia": ("FINDINGS: Small hiatal hernia. IMPRESSION: Hiatal hernia, otherwise unremarkable.",
               [("Hernia", "hiatal hernia", "findings", False, False),
                ("Hernia", "Hiatal hernia", "impression", False, False)]),
}


def mined_tables(kinds: list[str]) -> dict[str, pd.DataFrame]:
    """Miner-shaped tables (labels, mentions, reports) for reports built from TEMPLATES."""
    reports, mentions, labels = [], [], []
    for i, kind in enumerate(kinds):
        rid = f"R{i:03d}"
        text, spans = TEMPLATES[kind]
        reports.append({"report_id": rid, "text": text})
        best: dict[str, int] = {}
        imp = text.index("IMPRESSION")
        for finding, phrase, section, neg, unc in spans:
            start = text.find(phrase, imp if section == "impression" else 0)
            mentions.append({"report_id": rid, "section": section, "sentence_index": 0,
                             "start": start, "end": start + len(phrase), "finding": finding,
                             "vocabulary": "chestxray14", "negated": neg, "uncertain": unc,
                             "historical": False, "hypothetical": False, "family": False,
                             "trigger": phrase, "rule_id": "test", "labelled": True})
            v = 0 if neg else (-1 if unc else 1)
            best[finding] = max(best.get(finding, v), v)
        for f in ("Atelectasis", "Cardiomegaly", "Effusion", "Nodule", "Hernia", "Mass"):
            labels.append({"report_id": rid, "vocabulary": "chestxray14", "finding": f,
                           "value": best.get(f)})
    return {"reports": pd.DataFrame(reports), "mentions": pd.DataFrame(mentions),
            "labels": pd.DataFrame(labels).astype({"value": "Int8"})}


def label_of(labels: pd.DataFrame, rid: str, finding: str) -> pd.Series:
    return labels[(labels["report_id"] == rid) & (labels["finding"] == finding)].iloc[0]


def test_every_study_gets_every_finding_with_probability_and_sources():
    mined = mined_tables(["effusion"] * 10 + ["normal"] * 20)
    labels = weak_labels(mined)
    assert len(labels) == 30 * len(VOCABULARIES["chestxray14"])  # the 14 findings and Normal
    assert list(labels.columns) == [f.name for f in LABELS_SCHEMA]
    eff = label_of(labels, "R000", "Effusion")
    assert eff["value"] == 1 and eff["probability"] > 0.9
    assert {"miner_label", "findings_mentions", "impression_mentions"} <= set(eff["sources"])
    neg = label_of(labels, "R015", "Effusion")
    assert neg["value"] == 0 and neg["probability"] < 0.1 and "normal_statement" in neg["sources"]
    silent = label_of(labels, "R015", "Pneumothorax")
    assert pd.isna(silent["value"])  # not mentioned stays null
    assert not labels["reviewed"].any()


def test_uncertain_mentions_follow_each_findings_policy():
    mined = mined_tables(["maybe_atelectasis", "maybe_cardiomegaly", "maybe_nodule"] * 5
                         + ["normal"] * 10)
    labels = weak_labels(mined)
    at, card, nod = (label_of(labels, r, f) for r, f in
                     (("R000", "Atelectasis"), ("R001", "Cardiomegaly"), ("R002", "Nodule")))
    assert (at["policy"], at["value"]) == ("u_ones", 1)  # CheXpert: uncertain atelectasis counts
    assert (card["policy"], card["value"]) == ("u_zeros", 0)
    assert (nod["policy"], nod["value"]) == ("u_ignore", -1)  # left for the trainer to mask
    keep_all = weak_labels(mined, config=LabelingConfig(policies={}, default_policy="u_ignore"))
    assert label_of(keep_all, "R000", "Atelectasis")["value"] == -1


def test_stated_lesion_size_votes_mass_or_nodule():
    mined = mined_tables(["normal"] * 6)
    mined["measurements"] = pd.DataFrame({
        "report_id": ["R000", "R001"], "finding": ["lesion", "nodule"], "kind": ["lesion", "lesion"],
        "long_axis_mm": [42.0, 12.0], "short_axis_mm": [30.0, 10.0],
        "timepoint": ["current", "current"]})
    labels = weak_labels(mined)
    assert "measurement_size" in label_of(labels, "R000", "Mass")["sources"]
    assert "measurement_size" not in label_of(labels, "R000", "Nodule")["sources"]
    assert "measurement_size" in label_of(labels, "R001", "Nodule")["sources"]


def test_reviewed_reports_keep_their_labels_and_teach_the_rest():
    # The rules call every hiatal hernia a Hernia; this site's reviewers do not label it.
    kinds = ["hernia"] * 40 + ["effusion"] * 30 + ["normal"] * 50
    mined = mined_tables(kinds)
    before = weak_labels(mined)
    assert (before[before["finding"] == "Hernia"]["value"] == 1).sum() == 40
    reviewed_ids = [f"R{i:03d}" for i in list(range(0, 20)) + list(range(40, 60)) + list(range(70, 90))]
    reviewed = pd.DataFrame({"report_id": reviewed_ids, "Hernia": 0,
                             "Effusion": [0] * 20 + [1] * 20 + [0] * 20,
                             "notes": "ignored column"})
    reviewed.loc[reviewed["report_id"] == "R041", "Effusion"] = -1
    after = apply_reviewed(mined, reviewed)
    mine = after[after["report_id"].isin(reviewed_ids) & after["finding"].isin(["Hernia", "Effusion"])]
    assert not after[after["finding"] == "Nodule"]["reviewed"].any()  # not a reviewed column
    assert mine["reviewed"].all() and mine["sources"].map(lambda s: "reviewed" in s).all()
    assert label_of(after, "R041", "Effusion")["value"] == -1  # the reviewer's word stands
    assert label_of(after, "R000", "Hernia")["probability"] == 0.0
    unreviewed_hernia = after[(after["finding"] == "Hernia") & ~after["reviewed"]
                              & after["report_id"].isin([f"R{i:03d}" for i in range(20, 40)])]
    assert (unreviewed_hernia["value"] == 0).all()
    assert unreviewed_hernia["sources"].map(lambda s: "text_classifier" in s).all()
    # ... while unreviewed effusions stay positive
    unreviewed_eff = after[(after["finding"] == "Effusion") & (after["report_id"] == "R065")]
    assert unreviewed_eff["value"].iloc[0] == 1


def test_run_labeling_writes_the_labels_table(tmp_path):
    mined = mined_tables(["effusion"] * 5 + ["normal"] * 5)
    src = tmp_path / "mined"
    src.mkdir()
    for name, table in mined.items():
        table.to_parquet(src / f"{name}.parquet")
    summary = run_labeling(src, tmp_path / "out")
    written = pd.read_parquet(tmp_path / "out" / "labels.parquet")
    assert summary["rows"] == len(written) == 10 * len(VOCABULARIES["chestxray14"])
    assert summary["positive"] == 5
    assert written["probability"].between(0, 1).all()
    assert isinstance(written["sources"].iloc[0], (list, np.ndarray))


def test_labels_pass_their_expectation_suite_and_a_broken_table_fails_it():
    import great_expectations as gx

    labels = weak_labels(mined_tables(["effusion"] * 4 + ["maybe_nodule"] * 2 + ["normal"] * 4))
    ctx = gx.get_context(mode="ephemeral")
    batch = ctx.data_sources.add_pandas("p").add_dataframe_asset("labels") \
        .add_batch_definition_whole_dataframe("all")
    suite = ctx.suites.add(gx.ExpectationSuite(name="labels"))
    for kind, kwargs, _why in labels_expectations():
        suite.add_expectation(getattr(gx.expectations, kind)(**kwargs))
    table = labels.drop(columns=["sources"]).astype({"value": "float"})
    assert batch.get_batch(batch_parameters={"dataframe": table}).validate(suite).success
    broken = pd.concat([table, table.iloc[:1].assign(probability=1.5)], ignore_index=True)
    result = batch.get_batch(batch_parameters={"dataframe": broken}).validate(suite)
    failed = {r.expectation_config.type for r in result.results if not r.success}
    assert failed == {"expect_compound_columns_to_be_unique", "expect_column_values_to_be_between"}


def test_a_misspelt_policy_or_vocabulary_is_a_clear_error():
    import pytest

    with pytest.raises(ValueError, match="u_ones, u_zeros, u_ignore"):
        LabelingConfig(policies={"Edema": "u_one"})
    with pytest.raises(ValueError, match="unknown vocabulary 'chexpret'"):
        LabelingConfig(vocabularies=("chexpret",))
