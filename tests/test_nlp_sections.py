"""Sections and sentences of real-world radiology report layouts."""
from radcurate.nlp import section_spans, sentence_spans


def sections(text):
    return [(name, text[s:e]) for name, s, e in section_spans(text)]


def sentences(text):
    return [text[s:e] for s, e in sentence_spans(text)]


def test_headers_on_their_own_lines_upper_case_without_colons():
    text = ("EXAMINATION: CHEST 2 VIEWS\nHISTORY: cough\nCOMPARISON: None\nFINDINGS\n"
            "The lungs are clear.\nIMPRESSION\n1. No acute cardiopulmonary disease.")
    assert sections(text) == [
        ("examination", "CHEST 2 VIEWS"), ("history", "cough"), ("comparison", "None"),
        ("findings", "The lungs are clear."), ("impression", "1. No acute cardiopulmonary disease."),
    ]


def test_inline_mixed_case_headers_and_variants_map_to_canonical_names():
    text = ("Reason for exam: fever. Clinical History: Positive TB test. Technique: PA and lateral. "
            "Findings: Heart size normal. Conclusion: No pneumonia.")
    assert [n for n, _ in sections(text)] == ["history", "history", "technique", "findings", "impression"]
    assert sections(text)[-1] == ("impression", "No pneumonia.")


def test_text_before_any_header_is_the_body_and_a_report_without_headers_is_all_body():
    assert sections("Clinical note. FINDINGS: Lungs clear.")[0] == ("body", "Clinical note.")
    assert sections("Lungs are clear. No effusion.") == [("body", "Lungs are clear. No effusion.")]
    assert section_spans("") == []


def test_words_like_findings_inside_a_sentence_are_not_headers():
    text = "These findings are stable. Impression is limited by technique"
    assert [n for n, _ in sections(text)] == ["body"]


def test_numbered_impressions_split_and_lose_their_numbers():
    text = ("1. Increased opacity in the right upper lobe may represent focal consolidation. Recommend chest CT "
            "for further evaluation. 2. XXXX opacity overlying the left 5th rib may represent focal airspace disease.")
    assert sentences(text) == [
        "Increased opacity in the right upper lobe may represent focal consolidation.",
        "Recommend chest CT for further evaluation.",
        "XXXX opacity overlying the left 5th rib may represent focal airspace disease.",
    ]


def test_numbered_items_without_final_periods_still_split():
    assert sentences("1. No pneumothorax 2. Stable cardiomegaly 3) Small effusion") == [
        "No pneumothorax", "Stable cardiomegaly", "Small effusion"]


def test_decimals_abbreviations_and_placeholders_do_not_split():
    text = "Nodule measures 2.3 cm. Atelectasis vs. scarring, e.g. at the base. Dr. XXXX was notified. Normal chest x-XXXX."
    assert sentences(text) == ["Nodule measures 2.3 cm.", "Atelectasis vs. scarring, e.g. at the base.",
                               "Dr. XXXX was notified.", "Normal chest x-XXXX."]


def test_missing_space_after_period_splits():
    assert sentences("Low lung volumes.There is no effusion.No pneumothorax.") == [
        "Low lung volumes.", "There is no effusion.", "No pneumothorax."]


def test_bullets_and_blank_lines_split_and_ranges_are_respected():
    text = "FINDINGS\nLungs clear\n- no effusion\n- heart normal\n\nIMPRESSION\nNormal"
    (_, s, e) = section_spans(text)[0]
    assert [text[a:b] for a, b in sentence_spans(text, s, e)] == ["Lungs clear", "no effusion", "heart normal"]
    assert sentence_spans("   ") == []


def test_one_statement_per_line_templates_split_at_line_breaks_but_wrapped_lines_do_not():
    assert sentences("Heart size normal\nLungs clear\nNo effusion") == ["Heart size normal", "Lungs clear",
                                                                        "No effusion"]
    assert sentences("There is a small effusion and\nLeft basilar atelectasis.") == [
        "There is a small effusion and\nLeft basilar atelectasis."]


def test_upper_case_headers_followed_by_text_on_the_same_line():
    text = "PROCEDURE XR CHEST, PA VIEW\nINDICATION 61-year-old with nodule.\nCOMPARISON None.\n\nFINDINGS\nClear."
    assert [n for n, _ in sections(text)] == ["examination", "history", "comparison", "findings"]
