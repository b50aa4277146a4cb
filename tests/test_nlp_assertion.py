"""Assertion of findings in real report sentences (OpenI style): every trigger family and trap."""
import pytest

from radcurate.nlp import classify_assertion


def flags(sentence, target):
    out = classify_assertion(sentence, target)
    return {k for k in ("negated", "uncertain", "historical", "hypothetical", "family") if out[k]}


@pytest.mark.parametrize("sentence,target", [
    ("There is no evidence of pneumothorax.", "pneumothorax"),           # pre-trigger
    ("No focal airspace consolidation.", "consolidation"),
    ("Lungs are clear without focal consolidation.", "consolidation"),
    ("Negative for pneumothorax.", "pneumothorax"),
    ("Pneumothorax is not seen.", "pneumothorax"),                        # post-trigger
    ("The previously described left basilar atelectasis has resolved.", "atelectasis"),
    ("Pleural effusion is not identified.", "pleural effusion"),
    ("Interval resolution of the right pleural effusion.", "pleural effusion"),
])
def test_negations_before_and_after_the_finding(sentence, target):
    assert flags(sentence, target) == {"negated"}


@pytest.mark.parametrize("target", ["pneumothorax", "pleural effusion", "consolidation"])
def test_coordination_negates_every_finding_in_the_list(target):
    assert flags("No pneumothorax, pleural effusion, or focal airspace consolidation.", target) == {"negated"}


@pytest.mark.parametrize("sentence,target", [
    ("No change in mild cardiomegaly.", "cardiomegaly"),
    ("No interval change in small left pleural effusion.", "pleural effusion"),
    ("Stable appearance of the chest without change in the right upper lobe nodule.", "nodule"),
    ("Not only atelectasis but also consolidation.", "atelectasis"),
    ("No increase in size of the left apical nodule.", "nodule"),
])
def test_pseudo_triggers_do_not_negate(sentence, target):
    assert "negated" not in flags(sentence, target)


@pytest.mark.parametrize("sentence,target", [
    ("There is no pleural effusion, but there is left basilar atelectasis.", "atelectasis"),
    ("No pneumothorax; small right pleural effusion.", "pleural effusion"),
    ("No focal consolidation, however there is mild pulmonary edema.", "edema"),
    ("No acute infiltrate, although there is a calcified nodule.", "nodule"),
    ("No pneumothorax is seen, which is reassuring given the emphysema.", "emphysema"),
    ("The lungs are clear without pneumonia or effusion, and the heart is enlarged, cardiomegaly.", "cardiomegaly"),
])
def test_terminators_end_the_scope(sentence, target):
    assert flags(sentence, target) == set()


@pytest.mark.parametrize("sentence,target", [
    ("Opacity in the left midlung may represent focal airspace disease or pneumonia.", "pneumonia"),
    ("Left basilar airspace disease, pneumonia cannot be excluded.", "pneumonia"),
    ("Patchy opacity suspicious for pneumonia.", "pneumonia"),
    ("Questionable small left pleural effusion.", "pleural effusion"),
    ("Possible right middle lobe infiltrate.", "infiltrate"),
    ("Retrocardiac density could represent atelectasis.", "atelectasis"),
    ("Small left pleural effusion cannot be entirely excluded.", "pleural effusion"),
    ("Atelectasis is less likely.", "atelectasis"),
])
def test_radiology_uncertainty(sentence, target):
    assert flags(sentence, target) == {"uncertain"}


def test_high_probability_hedges_and_versus_are_flagged_uncertain_but_lean_positive():
    out = classify_assertion("Left basilar atelectasis versus pneumonia.", "pneumonia")
    assert out["uncertain"] and "versus" in out["rule_id"]
    assert flags("Probable right lower lobe pneumonia.", "pneumonia") == {"uncertain"}


def test_negation_outranks_uncertainty_words_inside_its_scope():
    assert "negated" in flags("No suspicious pulmonary nodules.", "nodules")
    assert "negated" in flags("There is no focal air space opacity to suggest a pneumonia.", "pneumonia")


@pytest.mark.parametrize("sentence,target,expected", [
    ("History of pneumonia.", "pneumonia", "historical"),
    ("Status post treatment for tuberculosis with prior pneumonia.", "pneumonia", "historical"),
    ("Evaluate for pneumonia.", "pneumonia", "hypothetical"),
    ("Recommend CT to rule-out underlying pulmonary nodule.", "nodule", "hypothetical"),
    ("Please correlate clinically for pneumonia.", "pneumonia", "hypothetical"),
    ("Family history of emphysema.", "emphysema", "family"),
    ("Mother had lung cancer with malignant pleural effusion.", "pleural effusion", "family"),
])
def test_historical_hypothetical_and_family(sentence, target, expected):
    assert expected in flags(sentence, target)


def test_a_positive_statement_has_no_flags_and_reports_no_trigger():
    out = classify_assertion("Moderate cardiomegaly with bilateral pleural effusions.", "cardiomegaly")
    assert not any(out[k] for k in ("negated", "uncertain", "historical", "hypothetical", "family"))
    assert out["trigger"] is None and out["rule_id"] is None


def test_the_trigger_and_rule_that_decided_are_returned():
    out = classify_assertion("No evidence of pneumothorax.", "pneumothorax")
    assert out["trigger"] == "no evidence of"
    assert out["rule_id"] == "negated.forward:no evidence of"


def test_target_is_matched_case_insensitively_and_must_occur():
    assert classify_assertion("NO PNEUMOTHORAX.", "Pneumothorax")["negated"]
    with pytest.raises(ValueError):
        classify_assertion("Lungs are clear.", "pneumothorax")


def test_scope_is_limited_to_nearby_words():
    sentence = ("No acute bony abnormality of the thoracic spine or ribs or shoulders on this examination "
                "today and the heart shows marked cardiomegaly.")
    assert "negated" not in flags(sentence, "cardiomegaly")


@pytest.mark.parametrize("sentence,target", [
    ("No acute distress.", "acute distress"),                       # the trigger "no acute" runs into the target
    ("No focal neurologic deficits.", "focal neurologic deficits"),
    ("No new lesion.", "new lesion"),
    ("Denied any headaches.", "headaches"),                         # denial verbs, with "any"
    ("The patient denied fever or chills.", "chills"),
    ("Patient denies any chest pain.", "chest pain"),
    ("Fecal occult blood was negative.", "fecal occult blood"),     # post-position results
    ("Blood cultures were negative.", "blood cultures"),
    ("Negative for pneumothorax.", "pneumothorax"),
    ("Breath sounds absent on the left.", "breath sounds"),
    ("Absent bowel sounds.", "bowel sounds"),
])
def test_clinical_negations_and_targets_that_overlap_a_trigger(sentence, target):
    assert flags(sentence, target) == {"negated"}


@pytest.mark.parametrize("sentence,target", [
    ("Acute distress.", "acute distress"),
    ("Mild cardiomegaly. Otherwise negative.", "cardiomegaly"),     # "negative" alone negates nothing before it
    ("Fever, but cultures were negative.", "fever"),
])
def test_those_forms_do_not_reach_what_they_do_not_govern(sentence, target):
    assert flags(sentence, target) == set()
