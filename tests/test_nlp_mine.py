"""Mining reports into labels and evidence: the label rules, the pipeline, the CLI."""
import json

import pandas as pd
import pytest

from radcurate.nlp import (CHESTXRAY14, CHEXPERT, MinerConfig, build_pipeline, mine_partitioned, mine_reports,
                           resolve)

REPORTS = pd.DataFrame({
    "accession": ["A1", "A2", "A3", "A4", "A5"],
    "report_text": [
        "INDICATION: Pneumonia? Cough.\nFINDINGS: The heart is mildly enlarged. There is no pleural effusion "
        "or pneumothorax. Lungs are clear.\nIMPRESSION: 1. Cardiomegaly. 2. No acute pulmonary disease.",
        "FINDINGS: Heart size is normal. Left basilar opacity may represent atelectasis.\n"
        "IMPRESSION: Left lower lobe pneumonia.",
        "FINDINGS: The cardiomediastinal silhouette is within normal limits. The lungs are clear. "
        "No pneumothorax or pleural effusion.\nIMPRESSION: No acute cardiopulmonary abnormality.",
        "FINDINGS: Possible right upper lobe infiltrate.\nIMPRESSION: No pneumonia.",
        "",
    ],
})


def label(mined, report, finding, vocabulary="chestxray14"):
    lab = mined.labels
    row = lab[(lab.report_id == report) & (lab.vocabulary == vocabulary) & (lab.finding == finding)]
    assert len(row) == 1
    value = row["value"].iloc[0]
    return None if pd.isna(value) else int(value)


@pytest.fixture(scope="module")
def mined():
    return mine_reports(REPORTS, "accession", ["report_text"])


def test_every_report_gets_every_finding_of_both_vocabularies(mined):
    assert set(mined.labels.report_id) == {"A1", "A2", "A3", "A4"}
    per_report = mined.labels.groupby("report_id").size()
    assert (per_report == len(CHESTXRAY14) + 1 + len(CHEXPERT)).all()  # 14 findings + Normal, CheXpert 14
    assert str(mined.labels["value"].dtype) == "Int8"


def test_positive_negative_uncertain_and_not_mentioned(mined):
    assert label(mined, "A1", "Cardiomegaly") == 1
    assert label(mined, "A1", "Effusion") == 0
    assert label(mined, "A1", "Pneumothorax") == 0
    assert label(mined, "A1", "Mass") is None
    assert label(mined, "A2", "Atelectasis") == -1
    assert label(mined, "A2", "Pneumonia") == 1


def test_history_never_makes_a_finding_positive(mined):
    # "Pneumonia?" in the indication is not a finding; the impression says nothing about pneumonia.
    assert label(mined, "A1", "Pneumonia") in (None, 0)
    hist = mined.mentions[(mined.mentions.report_id == "A1") & (mined.mentions.section == "history")]
    assert not hist["labelled"].any()


def test_normal_statements_imply_absence(mined):
    assert label(mined, "A2", "Cardiomegaly") == 0          # "Heart size is normal."
    assert label(mined, "A3", "Consolidation") == 0         # "The lungs are clear."
    assert label(mined, "A3", "Enlarged Cardiomediastinum", "chexpert") == 0


def test_impression_decides_between_uncertain_findings_and_a_negative_impression(mined):
    assert label(mined, "A4", "Infiltration") == -1          # only the findings mention it
    assert label(mined, "A4", "Pneumonia") == 0


def test_no_finding_follows_chestxray14s_positive_only_view(mined):
    assert label(mined, "A3", "No Finding", "chexpert") == 1
    assert label(mined, "A1", "No Finding", "chexpert") == 0
    assert label(mined, "A4", "No Finding", "chexpert") == 1   # uncertain does not block it


def test_conflict_order():
    assert resolve([("findings", 0), ("impression", 1)]) == 1
    assert resolve([("findings", 1), ("impression", 0)]) == 1
    assert resolve([("findings", -1), ("impression", 0)]) == 0
    assert resolve([("findings", -1), ("findings", 0)]) == -1
    assert resolve([]) is None


def test_empty_reports_are_quarantined_not_dropped(mined):
    assert mined.quarantine.to_dict("records") == [
        {"source": "A5", "reason": "empty_report", "detail": "no text in report_text"}]


def test_mentions_trace_each_label_to_section_sentence_span_trigger_and_rule(mined):
    m = mined.mentions
    row = m[(m.report_id == "A1") & (m.finding == "Effusion")].iloc[0]
    text = REPORTS.report_text[0]
    assert text[row.start:row.end].lower() == "pleural effusion"
    assert row.section == "findings" and row.negated and row.trigger == "there is no"
    assert row.rule_id == "negated.forward:there is no"
    assert row.sentence_index == 3   # "Pneumonia?" 0, "Cough." 1, "The heart is mildly enlarged." 2
    assert row.sentence == "There is no pleural effusion or pneumothorax."


def test_the_spacy_pipeline_exposes_sentences_and_finding_spans():
    nlp = build_pipeline()
    assert nlp.pipe_names == ["radcurate_sections", "radcurate_sentences", "radcurate_findings",
                              "radcurate_assertion"]
    doc = nlp("FINDINGS: 1. Nodule measures 2.3 cm. 2. No effusion.")
    assert [s.text for s in doc.sents][-2:] == ["Nodule measures 2.3 cm. 2.", "No effusion."]
    spans = {(s.label_, s.kb_id_) for s in doc.spans["findings"]}
    assert ("Nodule", "chestxray14") in spans and ("Pleural Effusion", "chexpert") in spans


def test_several_text_columns_become_sections_named_after_them():
    df = pd.DataFrame({"report_id": ["CXR1"], "indication": ["Pneumonia."],
                       "findings": ["Small right pleural effusion."], "impression": ["No pneumothorax."]})
    mined = mine_reports(df, "report_id", ["indication", "findings", "impression"])
    assert set(mined.mentions.section) == {"history", "findings", "impression"}
    assert label(mined, "CXR1", "Pneumonia") is None
    assert label(mined, "CXR1", "Effusion") == 1


def test_a_custom_lexicon_adds_its_own_vocabulary(tmp_path):
    lex = tmp_path / "devices.yaml"
    lex.write_text("name: lines\nfindings:\n  Sternotomy:\n    phrases: [sternotomy wire, median sternotomy]\n")
    df = pd.DataFrame({"id": ["r1", "r2"], "text": ["Median sternotomy wires are intact.", "No sternotomy wires."]})
    mined = mine_reports(df, "id", ["text"], MinerConfig(extra_lexicons=(str(lex),)))
    assert label(mined, "r1", "Sternotomy", "lines") == 1
    assert label(mined, "r2", "Sternotomy", "lines") == 0


def test_a_broken_lexicon_is_a_clear_error(tmp_path):
    from radcurate.nlp import LexiconError

    bad = tmp_path / "bad.yaml"
    bad.write_text("findings: [oops]\n")
    with pytest.raises(LexiconError, match="name"):
        mine_reports(REPORTS, "accession", ["report_text"], MinerConfig(extra_lexicons=(str(bad),)))


def test_missing_columns_are_named_in_the_error():
    with pytest.raises(ValueError, match="report_text"):
        mine_reports(REPORTS.drop(columns="report_text"), "accession", ["report_text"])


@pytest.mark.slow
def test_dask_partitions_give_the_same_labels(mined):
    parted = mine_partitioned(REPORTS, "accession", ["report_text"], partitions=2, progress=False)
    a = mined.labels.sort_values(["report_id", "vocabulary", "finding"]).reset_index(drop=True)
    b = parted.labels.sort_values(["report_id", "vocabulary", "finding"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert len(parted.quarantine) == 1


def run_cli(args):
    from radcurate.dags.cli import build_parser

    parsed = build_parser().parse_args(["mine", *args])
    return parsed.func(parsed)


def test_cli_mines_a_csv_extract_end_to_end(tmp_path, capsys):
    src = tmp_path / "openi.csv"
    pd.DataFrame({
        "report_id": ["CXR1", "CXR2", "CXR3"],
        "findings": ["The heart is enlarged. No pleural effusion.", "Lungs are clear.", ""],
        "impression": ["Cardiomegaly.", "No acute disease.", ""],
    }).to_csv(src, index=False)
    out = tmp_path / "mined"
    code = run_cli(["--reports", str(src), "--out", str(out), "--id-column", "report_id",
                    "--text-columns", "findings,impression", "--no-progress"])
    assert code == 0
    labels = pd.read_parquet(out / "labels.parquet")
    assert list(labels.columns) == ["report_id", "vocabulary", "finding", "value"]
    wide = labels[labels.vocabulary == "chestxray14"].set_index(["report_id", "finding"])["value"]
    assert wide["CXR1", "Cardiomegaly"] == 1 and wide["CXR1", "Effusion"] == 0
    assert pd.isna(wide["CXR2", "Cardiomegaly"])
    mentions = pd.read_parquet(out / "mentions.parquet")
    assert {"report_id", "section", "sentence_index", "start", "end", "finding", "vocabulary", "negated",
            "uncertain", "historical", "hypothetical", "family", "trigger", "rule_id"} <= set(mentions.columns)
    quarantine = pd.read_parquet(out / "quarantine.parquet")
    assert quarantine.to_dict("records")[0]["reason"] == "empty_report"
    assert "mined 2 reports" in capsys.readouterr().out


def test_cli_reads_parquet_with_default_columns(tmp_path):
    src = tmp_path / "reports.parquet"
    pd.DataFrame({"accession": ["X1"], "report_text": ["IMPRESSION: Small left pneumothorax."]}).to_parquet(src)
    assert run_cli(["--reports", str(src), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    labels = pd.read_parquet(tmp_path / "o" / "labels.parquet")
    assert labels.query("finding == 'Pneumothorax' and vocabulary == 'chestxray14'")["value"].tolist() == [1]


def test_cli_bad_input_is_exit_code_2_with_a_message(tmp_path, capsys):
    assert run_cli(["--reports", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o")]) == 2
    src = tmp_path / "r.csv"
    src.write_text("id,text\n1,No effusion.\n")
    assert run_cli(["--reports", str(src), "--out", str(tmp_path / "o")]) == 2
    assert "accession" in capsys.readouterr().err


def test_labels_agree_with_the_synthetic_export_truth(synth_export, tmp_path):
    from pathlib import Path

    export = Path(synth_export)
    out = tmp_path / "mined"
    assert run_cli(["--reports", str(export / "ris" / "reports.csv"), "--out", str(out), "--no-progress"]) == 0
    labels = pd.read_parquet(out / "labels.parquet")
    ours = labels[labels.vocabulary == "chestxray14"].set_index(["report_id", "finding"])["value"]
    truth = pd.read_parquet(export / "truth" / "findings.parquet")
    expected = {"positive": 1, "negative": 0, "uncertain": -1, "not_mentioned": None}
    mismatches = []
    for row in truth.itertuples():
        got = ours.get((str(row.accession), row.finding))
        got = None if got is None or pd.isna(got) else int(got)
        if got != expected[row.assertion]:
            mismatches.append((row.accession, row.finding, row.assertion, got))
    assert not mismatches, json.dumps(mismatches[:10], default=str)
