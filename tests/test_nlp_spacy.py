"""A spaCy user reads the miner's results where spaCy users look for them, grows its rules in code,
and is told at once when a rules file is wrong."""
from __future__ import annotations

import pandas as pd
import pytest
import spacy
from spacy.tokens import Doc, Span

from radcurate.nlp import MinerConfig, build_pipeline, mine_reports
from radcurate.nlp.assertion import DEFAULT_RULES
from radcurate.nlp.rules_file import RulesError, read_rules

REPORT = ("INDICATION: Rule out pneumonia.\nFINDINGS: No pleural effusion or pneumothorax. "
          "Opacity may represent atelectasis. History of tuberculosis. Mild cardiomegaly.")


@pytest.fixture(scope="module")
def nlp():
    return build_pipeline()


def cxr14(doc):
    return {s.label_: s for s in doc.spans["findings"] if s.kb_id_ == "chestxray14"}


def test_assertion_flags_are_on_the_finding_spans(nlp):
    spans = cxr14(nlp(REPORT))
    assert spans["Effusion"]._.rc_negated and spans["Pneumothorax"]._.rc_negated
    assert spans["Effusion"]._.rc_trigger == "no" and spans["Effusion"]._.rc_value == 0
    assert spans["Atelectasis"]._.rc_uncertain and spans["Atelectasis"]._.rc_value == -1
    assert spans["Cardiomegaly"]._.rc_value == 1 and spans["Cardiomegaly"]._.rc_rule_id is None
    assert not any(spans["Cardiomegaly"]._.get(f"rc_{c}") for c in
                   ("negated", "uncertain", "historical", "hypothetical", "family"))
    assert spans["Pneumonia"]._.rc_section == "history" and spans["Pneumonia"]._.rc_hypothetical
    assert spans["Effusion"]._.rc_section == "findings"


def test_span_flags_agree_with_the_mentions_table(nlp):
    mentions = mine_reports(pd.DataFrame({"id": ["r"], "text": [REPORT]}), "id", ["text"]).mentions
    doc = nlp(REPORT)
    for span in doc.spans["findings"]:
        row = mentions[(mentions.start == span.start_char) & (mentions.finding == span.label_)
                       & (mentions.vocabulary == span.kb_id_)].iloc[0]
        assert (span._.rc_negated, span._.rc_uncertain, span._.rc_value) == (
            row.negated, row.uncertain, None if pd.isna(row.value) else row.value)
        assert span._.rc_rule_id == (None if pd.isna(row.rule_id) else row.rule_id)


def test_extensions_carry_a_prefix_and_leave_generic_names_free(nlp):
    nlp(REPORT)
    for generic in ("negex", "is_negated", "is_uncertain", "section", "sections", "mentions", "sentences", "text"):
        assert not Span.has_extension(generic) or generic == "negex"  # negspacy's own, if installed
        assert not Doc.has_extension(generic)
    assert Doc.has_extension("rc_sections") and Span.has_extension("rc_negated")


def test_rules_can_be_added_in_code(nlp):
    text = "FINDINGS: Pneumothorax not convincingly seen."
    assert cxr14(nlp(text))["Pneumothorax"]._.rc_value == 1
    mine = build_pipeline()  # a pipeline of its own: adding rules to it leaves others as they were
    mine.get_pipe("radcurate_assertion").add("negated", ["not convincingly seen"], direction="backward")
    assert cxr14(mine(text))["Pneumothorax"]._.rc_negated
    assert cxr14(nlp(text))["Pneumothorax"]._.rc_value == 1  # the other pipeline is untouched
    with pytest.raises(RulesError, match="unknown direction 'sideways'"):
        mine.get_pipe("radcurate_assertion").add("negated", ["nope"], direction="sideways")
    with pytest.raises(RulesError, match="unknown category 'negative'"):
        mine.get_pipe("radcurate_assertion").add("negative", ["nope"])


@pytest.mark.parametrize("text, message", [
    ("negated:\n  forward: [no]\nnegatd:\n  forward: [without]\n", "unknown key.*'negatd'"),
    ("negated:\n  forwards: [\"no\"]\n", "unknown direction 'forwards'"),
    ("negated:\n  forward: \"no\"\n", "expected a list of phrases"),
    ("negated:\n  forward: [no]\n", "quote it"),
    ("historical:\n  leaning_positive: [likely]\n", "unknown direction 'leaning_positive'"),
    ("pseudo: [no change]\n", "no trigger phrases"),
    ("- no\n- without\n", "must be a mapping"),
    ("negated: {forward: [\"no\"\n", "not valid YAML"),
])
def test_a_typo_in_the_rules_file_is_a_clear_error_not_zero_triggers(tmp_path, text, message):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(RulesError, match=message):
        read_rules(path)
    with pytest.raises(RulesError, match=str(path).replace("\\", "\\\\")):
        build_pipeline(MinerConfig(rules_path=str(path)))


def test_the_shipped_rules_and_sections_are_data_files():
    spec = read_rules(DEFAULT_RULES)
    assert {"negated", "uncertain", "pseudo", "terminate"} <= set(spec)
    from radcurate.nlp.sections import HEADER_SYNONYMS, SECTIONS_FILE, load_header_synonyms
    assert SECTIONS_FILE.exists() and load_header_synonyms() == HEADER_SYNONYMS
    assert "reason for exam" in HEADER_SYNONYMS["history"]


def test_a_blank_pipeline_can_take_a_single_component():
    nlp = spacy.blank("en")
    nlp.add_pipe("radcurate_sections")
    doc = nlp("HISTORY: cough. IMPRESSION: normal.")
    assert [name for name, _, _ in doc._.rc_sections] == ["history", "impression"]
