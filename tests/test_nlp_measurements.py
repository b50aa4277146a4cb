"""A data curator pulls every stated lesion size out of report text, in millimetres."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from radcurate.nlp.measurements import (MEASUREMENTS_SCHEMA, match_counts, measurements_table,
                                        report_sentences)

DATA = Path(__file__).parent / "data"


def table(*texts: str) -> pd.DataFrame:
    return measurements_table(pd.DataFrame({"report_id": [f"r{i}" for i in range(len(texts))],
                                            "text": list(texts)}))


def axes(row) -> tuple:
    return tuple(None if pd.isna(row[k]) else row[k] for k in ("long_axis_mm", "short_axis_mm", "third_axis_mm"))


@pytest.mark.parametrize("sentence, expected", [
    ("There is an 8mm nodule in the right upper lobe.", (8.0, None, None)),
    ("Lingular nodule measuring 1.9 x 1.8 cm.", (19.0, 18.0, None)),
    ("Right upper lobe mass measuring approximately 5.8 cm x 6.0 cm.", (60.0, 58.0, None)),
    ("A 15 x 11 x 9 mm cyst in the left kidney.", (15.0, 11.0, 9.0)),
    ("Nodule in the left lower lobe, 16 x 23 x 19 mm (series 4, image 14).", (23.0, 16.0, 19.0)),
    ("There is an eighteen millimeters nodule in the left lower lobe.", (18.0, None, None)),
    ("A sub-centimeter (4 mm) nodule in the lingula.", (4.0, None, None)),
    ("A 2.5-cm mass in the liver.", (25.0, None, None)),
    ("13 - 14 mm ring-shaped opacity projects over the right midlung.", (14.0, None, None)),
    ("A two point five centimeter mass in the liver.", (25.0, None, None)),
    ("Half a centimeter nodule in the lingula.", (5.0, None, None)),
])
def test_sizes_in_many_shapes_become_millimetres_longest_first(sentence, expected):
    rows = table(sentence)
    assert len(rows) == 1
    assert axes(rows.iloc[0]) == expected
    assert rows.iloc[0]["kind"] == "lesion"


def test_a_node_short_axis_is_kept_as_short_axis():
    row = table("Right paratracheal lymph node, short axis 1.6 cm.").iloc[0]
    assert row["kind"] == "lymph_node" and row["finding"] == "lymph node"
    assert row["short_axis_mm"] == 16.0 and pd.isna(row["long_axis_mm"])


def test_each_size_is_linked_to_its_finding_location_image_and_label():
    text = ("FINDINGS: Target lesion 1: right lower lobe mass measures 3.2 x 2.5 cm (series 3, image 45). "
            "Lesion 2 is a 12 mm nodule in the left upper lobe (4/112). "
            "Subcarinal lymph node 2.1 x 1.6 cm [Se 4, Im 130]. Liver segment 7 cyst 9 mm, se 5 im 88. "
            "A 7 mm nodule in the lingula, image 62.")
    rows = table(text).set_index("text")
    mass = rows.loc["3.2 x 2.5 cm"]
    assert (mass["finding"], mass["location"], mass["lesion_label"]) == ("mass", "right lower lobe", "Target lesion 1")
    assert (mass["series"], mass["image"]) == (3, 45)
    nodule = rows.loc["12 mm"]
    assert (nodule["finding"], nodule["location"], nodule["lesion_label"]) == ("nodule", "left upper lobe", "Lesion 2")
    assert (nodule["series"], nodule["image"]) == (4, 112)
    node = rows.loc["2.1 x 1.6 cm"]
    assert node["kind"] == "lymph_node" and (node["series"], node["image"]) == (4, 130)
    assert node["location"].startswith("subcarinal")
    cyst = rows.loc["9 mm"]
    assert (cyst["finding"], cyst["location"], cyst["series"], cyst["image"]) == ("cyst", "liver segment 7", 5, 88)
    last = rows.loc["7 mm"]
    assert pd.isna(last["series"]) and last["image"] == 62 and last["location"] == "lingula"


@pytest.mark.parametrize("sentence, timepoints", [
    ("The right lower lobe mass now measures 2.3 x 1.8 cm, previously 2.9 x 2.2 cm.", ["current", "prior"]),
    ("Left hepatic lesion 5.1 x 4.2 cm, compared with 4.0 x 3.6 cm on 01/2021.", ["current", "prior"]),
    ("Right upper lobe nodule 3.8 cm (prior 4.1 cm).", ["current", "prior"]),
    ("Subcarinal node 1.2 cm, baseline 2.5 cm.", ["current", "prior"]),
    ("The nodule has decreased from 2.9 to 2.3 cm.", ["prior", "current"]),
    ("Mass measuring 4.5 x 6.8 cm, increased in size compared to prior study.", ["current"]),
])
def test_current_and_prior_sizes_in_one_sentence_are_told_apart(sentence, timepoints):
    rows = table(sentence).sort_values("char_start")
    assert list(rows["timepoint"]) == timepoints
    assert set(rows["kind"]) == {"lesion"} or set(rows["kind"]) == {"lymph_node"}


@pytest.mark.parametrize("sentence, kind", [
    ("Endotracheal tube tip approximately 4.5 cm above the carina.", "device"),
    ("Tracheostomy tube tip 6.4 cm above the carina.", "device"),
    ("A right PICC is seen with the tip in the brachiocephalic vein, an interval retraction of 6 cm.", "device"),
    ("Right IJ central venous line terminates 2 cm below the cavoatrial junction.", "device"),
    ("No pulmonary nodule larger than 5 mm.", "other"),
    ("There are no lymph nodes greater than 1 cm in short axis.", "other"),
    ("Axial images were reconstructed at 1.25 mm slice thickness.", "other"),
    ("Contiguous 5 mm axial sections were obtained after 100 mL of intravenous contrast.", "other"),
    ("Moderate right pneumothorax measuring 3.3 cm at the apex.", "other"),
    ("The mass lies 2 cm from the pleura.", "other"),
])
def test_sizes_that_are_not_findings_are_never_lesions(sentence, kind):
    rows = table(sentence)
    assert len(rows) == 1
    assert rows.iloc[0]["kind"] == kind


def test_this_measures_refers_back_to_the_previous_finding():
    rows = table("There is a moderate sized right pneumothorax. This measures 3.2 cm at the right apex. "
                 "A mass density is present in the left midlung zone. This measures approximately 3.2 cm.")
    assert list(rows["kind"]) == ["other", "lesion"]
    assert list(rows["finding"]) == ["pneumothorax", "mass"]


def test_sentence_index_and_span_point_at_the_stated_size():
    text = "INDICATION: cough.\nFINDINGS: Heart normal. 2.3 cm nodule in the right lower lobe.\nIMPRESSION: Nodule 2.3 cm."
    rows = table(text)
    sentences = report_sentences(text)
    assert len(rows) == 2
    for _, row in rows.iterrows():
        assert text[row["char_start"]:row["char_end"]] == row["text"] == "2.3 cm"
        _, s, e = sentences[row["sentence_index"]]
        assert s <= row["char_start"] < e
    assert list(rows["section"]) == ["findings", "impression"]


def test_reports_without_text_give_no_rows_and_the_table_keeps_its_schema():
    rows = measurements_table(pd.DataFrame({"report_id": ["a", "b", "c"], "text": [None, "", float("nan")]}))
    assert rows.empty and list(rows.columns) == MEASUREMENTS_SCHEMA.names
    pa.Table.from_pandas(table("8 mm nodule."), schema=MEASUREMENTS_SCHEMA, preserve_index=False)
    with pytest.raises(ValueError, match="lacks columns"):
        measurements_table(pd.DataFrame({"id": [1]}))


def test_annotated_openi_sentences_reach_the_f1_goal():
    records = [json.loads(line) for line in (DATA / "openi_measurements.jsonl").read_text().splitlines()]
    assert len(records) >= 100 and any(not r["expected"] for r in records)
    assert {e["kind"] for r in records for e in r["expected"]} >= {"lesion", "device", "other"}
    tp = n_pred = n_exp = 0
    for rec in records:
        got = table(rec["sentence"])[["long_axis_mm", "short_axis_mm", "third_axis_mm", "kind", "timepoint"]]
        counts = match_counts(got.to_dict("records"), rec["expected"])
        tp, n_pred, n_exp = tp + counts[0], n_pred + counts[1], n_exp + counts[2]
    precision, recall = tp / n_pred, tp / n_exp
    assert 2 * precision * recall / (precision + recall) >= 0.97


def test_every_size_in_the_synthetic_reports_matches_truth(synth_export):
    reports = pd.read_csv(synth_export / "ris" / "reports.csv", dtype=str, keep_default_na=False)
    truth = pd.read_parquet(synth_export / "truth" / "measurements.parquet")
    pred = measurements_table(reports, id_column="accession", text_column="report_text")
    pred["kind"] = pred["kind"].replace({"organ": "other"})  # truth/ has no organ kind (aorta calibre)
    cols = ["long_axis_mm", "short_axis_mm", "third_axis_mm", "kind", "timepoint"]
    assert truth["kind"].isin(["lesion", "lymph_node"]).sum() > 5 and truth["kind"].eq("other").any()
    for acc, expected in truth.groupby("accession"):
        got = pred[pred["report_id"] == acc]
        tp, n_pred, n_exp = match_counts(got[cols].to_dict("records"), expected[cols].to_dict("records"))
        assert tp == n_pred == n_exp, acc
        # lesions carry the image they were measured on
        cur = expected[expected["kind"].isin(["lesion", "lymph_node"]) & (expected["timepoint"] == "current")]
        got_cur = got[got["kind"].isin(["lesion", "lymph_node"]) & (got["timepoint"] == "current")]
        assert sorted(zip(cur["series"], cur["image"])) == sorted(zip(got_cur["series"], got_cur["image"]))
        labels = expected["lesion_label"].dropna()
        assert set(labels) <= set(got["lesion_label"].dropna())


def test_no_device_or_technique_size_in_the_synthetic_reports_becomes_a_lesion(synth_export):
    reports = pd.read_csv(synth_export / "ris" / "reports.csv", dtype=str, keep_default_na=False)
    truth = pd.read_parquet(synth_export / "truth" / "measurements.parquet")
    pred = measurements_table(reports, id_column="accession", text_column="report_text")
    not_findings = truth[truth["kind"].isin(["device", "other"])]
    assert len(not_findings) > 0
    for _, row in not_findings.iterrows():
        same = pred[(pred["report_id"] == row["accession"]) & (pred["long_axis_mm"] == row["long_axis_mm"])
                    & pred["short_axis_mm"].isna()]
        assert len(same) and not same["kind"].isin(["lesion", "lymph_node"]).any()


def test_sentence_indices_agree_with_the_finding_miner():
    from radcurate.nlp import mine_reports

    text = ("INDICATION: cough.\nFINDINGS: Heart normal. 1. There is a 2.3 cm nodule in the right lower lobe. "
            "No effusion.\nIMPRESSION: 1. Nodule 2.3 cm. 2. No pneumothorax.")
    reports = pd.DataFrame({"report_id": ["a"], "text": [text]})
    mentions = mine_reports(reports, "report_id", ["text"]).mentions
    nodule_sentences = set(mentions.loc[mentions["text"].str.lower() == "nodule", "sentence_index"])
    assert set(table(text)["sentence_index"]) == nodule_sentences == {2, 4}


def test_several_text_columns_are_read_like_the_finding_miner_reads_them():
    from radcurate.nlp import mine_reports

    reports = pd.DataFrame({"report_id": ["a"], "indication": ["Cough."],
                            "findings": ["Heart normal. There is a 9 mm nodule in the lingula."],
                            "impression": ["9 mm lingular nodule. No effusion."]})
    columns = ["indication", "findings", "impression"]
    rows = measurements_table(reports, "report_id", columns)
    mentions = mine_reports(reports, "report_id", columns).mentions
    nodules = mentions[mentions["text"].str.lower() == "nodule"]
    assert list(rows["section"]) == ["findings", "impression"]
    assert list(rows["sentence_index"]) == list(nodules["sentence_index"].drop_duplicates())
