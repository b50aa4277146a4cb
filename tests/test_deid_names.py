"""Issue 25, case 2: names of people other than the patient leave free text — reports, SR text values,
any text VR — while eponyms and clinical words stay."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pydicom
import pytest
import yaml
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from radcurate.dags.cli import main as radcurate
from radcurate.deid import DeidConfig, Keyer, deidentify_file
from radcurate.deid.text_scrub import scrub_text
from radcurate.tables import read_table

from test_hardening_privacy import _sr

DATA = Path(__file__).parent / "data" / "names_in_context.yaml"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from deid_names import name_parts, score, survives  # noqa: E402  (the benchmark's scorer: one definition)


def ours(text: str, _known: str = "") -> str:
    return scrub_text(text).text


def test_a_caller_named_in_a_report_is_removed_by_deid(tmp_path):
    csv = tmp_path / "reports.csv"
    csv.write_text("accession,patient_id,patient_name,exam_date,report_text\n"
                   "ACC1,MRN1600000,\"RODRIGUEZ, JOSE\",2017-01-18,\"FINDINGS: Small right pleural effusion. "
                   "Patient Zenobia Quillfeather called back. Kerley B lines at both bases. "
                   "Swan-Ganz catheter tip in the right pulmonary artery.\"\n"
                   "ACC2,MRN1600001,\"ROE, RICK\",2017-01-19,\"IMPRESSION: No pneumothorax. "
                   "Dr. QUILLFEATHER, ZENOBIA agrees.\"\n")
    out = tmp_path / "out"
    assert radcurate(["deid", "--reports", str(csv), "--out", str(out), "--workers", "0"]) == 0
    first, second = read_table(out / "curated" / "reports.parquet").sort_values("study_date")["text"]
    assert "Zenobia" not in first and "Quillfeather" not in first
    assert "ZENOBIA" not in second and "QUILLFEATHER" not in second
    assert "Kerley B lines" in first and "Swan-Ganz catheter" in first and "pleural effusion" in first


def test_names_in_sr_text_values_never_reach_the_curated_object(tmp_path):
    ds = _sr()
    ds.ContentSequence[1].TextValue = "Patient Zenobia Quillfeather called"
    extra = Dataset()
    extra.ValueType, extra.RelationshipType = "TEXT", "CONTAINS"
    extra.ConceptNameCodeSequence = Sequence([ds.ContentSequence[1].ConceptNameCodeSequence[0]])
    extra.TextValue = "signed by Zenobia Quillfeather"
    ds.ContentSequence.append(extra)
    src = tmp_path / "SR0001"
    ds.save_as(src, enforce_file_format=True)
    res = deidentify_file(str(src), "SR0001", str(tmp_path / "out"), Keyer(b"n" * 64), DeidConfig())
    data = (tmp_path / "out" / res["instance"]["path"]).read_bytes()
    assert b"Zenobia" not in data and b"Quillfeather" not in data
    out = pydicom.dcmread(io.BytesIO(data))
    texts = [str(e.value) for e in out.iterall() if e.keyword == "TextValue"]
    assert "Patient [NAME] called" in texts and "signed by [NAME]" in texts


def test_last_first_and_every_later_mention_of_a_found_name_go_too():
    out = ours("Findings discussed with Dr. QUILLFEATHER, ZENOBIA. Dr. Quillfeather agrees; "
               "Zenobia will call the patient's daughter Keisha Abernathy-Osei. Keisha called back.")
    for part in ("QUILLFEATHER", "ZENOBIA", "Quillfeather", "Zenobia", "Keisha", "Abernathy", "Osei"):
        assert not survives(part, out), (part, out)
    assert out.startswith("Findings discussed with Dr. [NAME].")


@pytest.mark.parametrize("sentence", [
    "Kerley B lines are present at both lung bases.",
    "A wedge-shaped opacity (Hampton's hump) is seen in the right lower lobe.",
    "Swan-Ganz catheter tip projects over the right main pulmonary artery.",
    "PATIENT HAS A HISTORY OF LUNG CANCER. SON AT BEDSIDE.",
    "Patient Position: head first supine. White matter hyperintensities.",
])
def test_eponyms_headings_and_relation_words_without_a_name_are_kept(sentence):
    assert ours(sentence) == sentence


def test_recall_on_non_patient_names_and_clinical_retention_are_at_least_99_percent():
    data = yaml.safe_load(DATA.read_text())
    assert len(data["named"]) >= 200 and len(data["clinical"]) >= 50
    items = [(d["text"], d["names"], "") for d in data["named"]] + [(t, [], "") for t in data["clinical"]]
    s = score(items, ours)
    assert s["names_removed"] >= 0.99, s["missed"]
    assert s["clinical_kept"] >= 0.99 and s["words_kept"] >= 0.99
    held = [(d["text"], d["names"], "") for d in data["held_out_named"]] + \
        [(t, [], "") for t in data["held_out_clinical"]]
    h = score(held, ours)  # written after the rules were tuned: looser bounds, the figures are in the README
    assert h["names_removed"] >= 0.95 and h["clinical_kept"] >= 0.95
    for d in data["named"][:5]:
        assert all(name_parts(n) for n in d["names"])
