"""The finding lexicon: built-in vocabularies, variants, site extensions, hierarchy."""
import pandas as pd
import pytest

from radcurate.nlp import CHESTXRAY14, CHEXPERT, LexiconError, MinerConfig, load_lexicon, mine_reports


def labels_for(text, config=MinerConfig(), vocabulary="chestxray14"):
    mined = mine_reports(pd.DataFrame({"id": ["r"], "text": [text]}), "id", ["text"], config)
    lab = mined.labels[mined.labels.vocabulary == vocabulary].set_index("finding")["value"]
    return {f: (None if pd.isna(v) else int(v)) for f, v in lab.items()}


def test_built_in_vocabularies_use_the_design_names():
    vocabularies = load_lexicon().vocabularies
    assert vocabularies["chestxray14"] == [*CHESTXRAY14, "Normal"]  # Normal: derived, strict
    assert sorted(vocabularies["chexpert"]) == sorted(CHEXPERT)


@pytest.mark.parametrize("text,finding", [
    ("Small bilateral pleural effusions.", "Effusion"),
    ("Bibasilar atelectatic changes.", "Atelectasis"),
    ("Subsegmental atelectases at both bases.", "Atelectasis"),
    ("The heart is mildly enlarged.", "Cardiomegaly"),
    ("Lungs are hyperinflated consistent with emphysema.", "Emphysema"),
    ("Emphysematous changes in the upper lobes.", "Emphysema"),
    ("Right apical pleural thickening.", "Pleural_Thickening"),
    ("Thickening of the minor fissure.", "Pleural_Thickening"),
    ("Right upper lobe pulmonary nodules.", "Nodule"),
    ("Multiple cavitary bilateral pulmonary masses and nodules.", "Mass"),
])
def test_synonyms_and_morphological_variants_are_found(text, finding):
    assert labels_for(text)[finding] == 1


@pytest.mark.parametrize("text,finding", [
    ("Small pericardial effusion.", "Effusion"),
    ("Subcutaneous emphysema in the left chest wall.", "Emphysema"),
    ("No mass effect.", "Mass"),
])
def test_look_alikes_are_excluded(text, finding):
    assert labels_for(text)[finding] is None


def test_an_enlarged_cardiac_silhouette_is_cardiomegaly_for_chexpert_only():
    # The silhouette includes the pericardium; ChestX-ray14/OpenI do not code it as cardiomegaly.
    assert labels_for("Stable enlarged cardiac silhouette.")["Cardiomegaly"] is None
    assert labels_for("Stable enlarged cardiac silhouette.", vocabulary="chexpert")["Cardiomegaly"] == 1
    assert labels_for("Normal cardiac silhouette.")["Cardiomegaly"] == 0


def test_a_negated_construction_inside_the_match_is_honoured():
    assert labels_for("The heart is not enlarged.")["Cardiomegaly"] == 0
    assert labels_for("Heart size is normal.")["Cardiomegaly"] == 0


def test_chexpert_hierarchy_makes_the_parent_positive_but_not_negative():
    chexpert = labels_for("Right lower lobe consolidation. No cardiomegaly.", vocabulary="chexpert")
    assert chexpert["Consolidation"] == 1 and chexpert["Lung Opacity"] == 1
    assert chexpert["Cardiomegaly"] == 0 and chexpert["Enlarged Cardiomediastinum"] is None
    assert chexpert["No Finding"] == 0


def test_a_site_lexicon_can_extend_a_built_in_vocabulary(tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text("name: chestxray14\nfindings:\n  Nodule: {phrases: [nodular density]}\n"
                    "  Infiltration: {implied_by: [Consolidation]}\n")
    before = labels_for("There is a left lower lung zone nodular density. Airspace consolidation.")
    after = labels_for("There is a left lower lung zone nodular density. Airspace consolidation.",
                       MinerConfig(extra_lexicons=(str(site),)))
    assert before["Nodule"] is None and before["Infiltration"] is None
    assert after["Nodule"] == 1 and after["Infiltration"] == 1


def test_a_json_lexicon_with_a_new_vocabulary(tmp_path):
    lex = tmp_path / "lines.json"
    lex.write_text('{"name": "lines", "findings": {"PICC": ["picc line", "peripherally inserted central catheter"]}}')
    assert labels_for("Right PICC line tip in the SVC.", MinerConfig(extra_lexicons=(str(lex),)), "lines") == {"PICC": 1}


@pytest.mark.parametrize("content,message", [
    ("- just a list\n", "mapping"),
    ("name: x\nfindings: {A: 3}\n", "list of phrases"),
    ("name: x\nfindings: {A: {phrases: []}}\n", "no phrases"),
    ("name: [unclosed\n", "not valid"),
])
def test_bad_lexicons_say_what_to_fix(tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(LexiconError, match=message):
        load_lexicon(extra=(str(path),))


def test_an_invalid_token_pattern_is_a_lexicon_error(tmp_path):
    path = tmp_path / "bad_pattern.yaml"
    path.write_text("name: x\nfindings:\n  A: {patterns: [[{NOPE: 1}]]}\n")
    with pytest.raises(LexiconError, match="invalid token pattern"):
        mine_reports(pd.DataFrame({"id": ["r"], "text": ["t"]}), "id", ["text"],
                     MinerConfig(extra_lexicons=(str(path),)))
