"""De-identifying a RIS report extract: keys that link to the images, shifted dates, clean text."""

from __future__ import annotations

import collections
import datetime as dt
import re

import pandas as pd
import pytest

from radcurate.deid.keys import Keyer
from radcurate.deid.reports import ReportDeidConfig, deidentify_reports
from radcurate.deid.text_scrub import KnownPHI, ScrubConfig

KEYER = Keyer(b"test-secret-" + b"k" * 40)


def _extract(**overrides) -> pd.DataFrame:
    rows = {
        "accession": ["CT210000132", "CT210000285", "XR210000089"],
        "patient_id": ["4600000", "4600000", "1500001"],
        "patient_name": ["ROBERTS^BARBARA", "ROBERTS^BARBARA", "NGUYEN^KAREN^D"],
        "exam_date": ["2021-05-04", "2021-08-02", "2020-08-11"],
        "report_text": [
            "Patient ROBERTS^BARBARA (ID 4600000), born 1960-02-26.\nCT CHEST 05/04/2021: "
            "nodule 2.3 x 1.6 cm (series 2, image 13). Ms. Roberts was told. Acc CT210000132.",
            "Name: Barbara Roberts\nComparison: CT chest dated 05/04/2021. Nodule now 1.5 x 1.0 cm "
            "(series 3, image 15), previously 2.3 x 1.6 cm.",
            "PATIENT: NGUYEN, KAREN    MRN: 1500001\nDOB: 10/30/1928\n92-year-old female. Cardiomegaly. "
            "Findings discussed with Dr. Walker at 12:02 on 08/11/2020.",
        ],
        "modality": ["CT", "CT", "DX"],
    }
    rows.update(overrides)
    return pd.DataFrame(rows)


def test_curated_rows_link_to_the_images_by_the_same_keys():
    frame, quarantine = deidentify_reports(_extract(), KEYER, keep_columns=["modality"])
    assert quarantine == []
    assert list(frame.columns) == ["report_key", "study_key", "patient_key", "study_date", "text", "modality"]
    src = _extract()
    for row, acc, pid, day in zip(frame.itertuples(), src.accession, src.patient_id, src.exam_date):
        assert row.report_key == KEYER.pseudonym("report", acc)
        assert row.study_key == KEYER.study_key(accession=acc)  # what the DICOM side derives
        assert row.patient_key == KEYER.patient_key(pid)
        assert row.study_date == KEYER.shift_date(pid, dt.date.fromisoformat(day))
    assert frame.modality.tolist() == ["CT", "CT", "DX"]
    # one patient: one key, one shift, so the interval between her two studies is kept
    assert frame.patient_key[0] == frame.patient_key[1]
    assert (frame.study_date[1] - frame.study_date[0]).days == 90


def test_text_dates_move_with_the_study_date():
    frame, _ = deidentify_reports(_extract(), KEYER)
    shifted = KEYER.shift_date("4600000", dt.date(2021, 5, 4))
    assert shifted.strftime("%m/%d/%Y") in frame.text[0]
    assert f"dated {shifted:%m/%d/%Y}" in frame.text[1]
    assert frame.study_date[0] == shifted


def test_no_ris_value_survives_in_the_curated_table():
    src = _extract()
    frame, _ = deidentify_reports(src, KEYER)
    blob = " ".join(frame.astype(str).to_numpy().ravel()).lower()
    for value in ["roberts", "barbara", "nguyen", "karen", "4600000", "1500001", "ct210000132",
                  "ct210000285", "xr210000089", "1960-02-26", "10/30/1928", "walker", "12:02",
                  "2021-05-04", "05/04/2021", "08/11/2020"]:
        assert value not in blob, value
    assert "90+-year-old female" in frame.text[2]
    assert "nodule 2.3 x 1.6 cm (series 2, image 13)" in frame.text[0]


def test_header_phi_removes_what_the_ris_row_does_not_carry():
    src = _extract(report_text=[
        "Pt known as Bobbie Roberts-Lane; outside MRN X73019284. Nodule 2.3 x 1.6 cm.",
        "Stable nodule.", "Cardiomegaly."])
    alone, _ = deidentify_reports(src, KEYER)
    assert "Bobbie" in alone.text[0]  # the RIS row alone cannot know this alias
    header = {"4600000": KnownPHI(names=["ROBERTS-LANE^BOBBIE"], ids=["X73019284"], dates=[dt.date(1960, 2, 26)])}
    merged, _ = deidentify_reports(src, KEYER, header_phi=header)
    assert "Bobbie" not in merged.text[0] and "Roberts" not in merged.text[0]
    assert "X73019284" not in merged.text[0] and "Nodule 2.3 x 1.6 cm." in merged.text[0]


def test_rows_that_cannot_be_processed_are_quarantined_without_phi():
    src = _extract(
        accession=["CT210000132", None, "XR210000089"],
        patient_id=["4600000", "4600000", "  "],
    )
    src = pd.concat([src, _extract().iloc[[0]].assign(report_text="   "),
                     _extract().iloc[[0]].assign(accession="CT999", report_text="bad \ufffd bytes"),
                     _extract().iloc[[0]]], ignore_index=True)
    frame, quarantine = deidentify_reports(src, KEYER)
    reasons = collections.Counter(q["reason"] for q in quarantine)
    assert reasons == {"missing_accession": 1, "missing_patient_id": 1, "empty_report": 1,
                       "undecodable_text": 1, "duplicate_accession": 1}
    assert len(frame) + len(quarantine) == len(src)
    for q in quarantine:
        assert q["stage"] == "deid" and set(q) == {"source", "stage", "reason", "detail"}
        text = " ".join(q.values())
        assert "CT210000132" not in text and "4600000" not in text and "CT999" not in text
    assert {q["source"] for q in quarantine} >= {KEYER.accession_key("CT210000132"), "row 1"}


def test_configurable_columns_fake_surrogates_and_missing_columns():
    src = _extract().rename(columns={"accession": "AccessionNumber", "report_text": "body"})
    cfg = ReportDeidConfig(accession_column="AccessionNumber", text_column="body",
                           scrub=ScrubConfig(style="fake"))
    a, _ = deidentify_reports(src, KEYER, config=cfg)
    b, _ = deidentify_reports(src, KEYER, config=cfg)
    assert a.text.tolist() == b.text.tolist()  # fakes keyed by the project secret: stable
    assert "[NAME]" not in a.text[0] and "Roberts" not in a.text[0]
    other, _ = deidentify_reports(src, Keyer(b"another-secret-" + b"z" * 40), config=cfg)
    assert other.text[0] != a.text[0]
    with pytest.raises(ValueError, match="lacks column"):
        deidentify_reports(_extract(), KEYER, keep_columns=["no_such_column"])
    with pytest.raises(ValueError, match="report_text"):
        deidentify_reports(src, KEYER)


def test_reports_only_run_uses_the_row_and_the_text(tmp_path):
    src = _extract().drop(columns=["patient_name", "exam_date"])
    frame, _ = deidentify_reports(src, KEYER)
    assert frame.study_date.isna().all()
    assert "Roberts" not in frame.text[0] and "Barbara" not in frame.text[1]
    assert "NGUYEN" not in frame.text[2]
    path = tmp_path / "reports.parquet"
    frame.to_parquet(path)
    assert pd.read_parquet(path).text.tolist() == frame.text.tolist()


# ------------------------------------------------------------------ the synthetic export

def _date_forms(d: dt.date) -> set[str]:
    return {d.strftime("%m/%d/%Y"), f"{d.month}/{d.day}/{d.year}", d.isoformat(), d.strftime("%Y%m%d"),
            f"{d:%B} {d.day}, {d.year}", d.strftime("%B %d, %Y"), d.strftime("%d %b %Y")}


def _survives(kind: str, value: str, out: str) -> bool:
    if kind == "age":  # ages up to 89 are kept on purpose; over 89 must be capped
        return int(value) > 89 and re.search(rf"(?<![\d.]){value}\s*-?\s*year", out) is not None
    if value.lower() in out.lower():
        return True
    if kind in ("patient_name", "physician_name"):
        parts = [p for p in re.split(r"[^A-Za-z']+", value) if len(p) > 1 and p.lower() not in {"mr", "ms", "dr"}]
        return any(re.search(rf"(?<![A-Za-z]){re.escape(p)}(?![A-Za-z])", out, re.IGNORECASE) for p in parts)
    if kind in ("date", "birth_date"):
        for fmt in ("%m/%d/%Y", "%Y-%m-%d", "%B %d, %Y"):
            try:
                d = dt.datetime.strptime(value, fmt).date()
            except ValueError:
                continue
            return any(f in out for f in _date_forms(d))
    return False


def test_synthetic_export_round_trip(synth_export):
    """Every planted PHI value is gone (in any format) and >= 99 % of findings and sizes are kept."""
    reports = pd.read_csv(synth_export / "ris" / "reports.csv", dtype=str, keep_default_na=False)
    frame, quarantine = deidentify_reports(reports, KEYER)
    assert quarantine == [] and len(frame) == len(reports)
    out = {acc: frame.text[i] for i, acc in enumerate(reports.accession)}
    original = dict(zip(reports.accession, reports.report_text))

    phi = pd.read_parquet(synth_export / "truth" / "phi.parquet")
    phi = phi[phi["where"] == "report"]
    assert len(phi) > 50 and set(phi.kind) >= {"patient_name", "physician_name", "date", "accession"}
    leaks = [(r.kind, r.source) for r in phi.itertuples() if _survives(r.kind, str(r.value), out[r.source])]
    assert leaks == []

    meas = pd.read_parquet(synth_export / "truth" / "measurements.parquet")
    kept = [m.text in out[m.accession] for m in meas.itertuples() if m.text in original[m.accession]]
    assert kept and sum(kept) / len(kept) >= 0.99

    words = {"Atelectasis": "atelectasis", "Cardiomegaly": "cardiomegaly", "Effusion": "effusion",
             "Pneumothorax": "pneumothorax", "Consolidation": "consolidation", "Edema": "edema",
             "Emphysema": "emphysem", "Pneumonia": "pneumonia", "Nodule": "nodul", "Mass": "mass",
             "Hernia": "hernia"}
    fnd = pd.read_parquet(synth_export / "truth" / "findings.parquet")
    fnd = fnd[(fnd.assertion != "not_mentioned") & fnd.finding.isin(words)]
    pairs = [(original[r.accession].lower().count(words[r.finding]), out[r.accession].lower().count(words[r.finding]))
             for r in fnd.itertuples()]
    total = sum(a for a, _ in pairs)
    assert total > 0 and sum(min(a, b) for a, b in pairs) / total >= 0.99

    # the keys are the ones the DICOM side computes from the same accession and patient ID
    studies = pd.read_parquet(synth_export / "truth" / "studies.parquet")
    by_acc = dict(zip(studies.accession, studies.patient_id))
    assert set(frame.study_key) == {KEYER.study_key(accession=a) for a in reports.accession}
    assert set(frame.patient_key) == {KEYER.patient_key(by_acc[a]) for a in reports.accession}


def test_broken_report_rows_of_an_export_are_quarantined_and_the_rest_go_on(synth_export_corrupt):
    from radcurate.deid.reports import read_reports_extract

    # one row has a Latin-1 byte: the shared reader quarantines that row, deid the empty one
    reports, read_quarantine, n_in = read_reports_extract(synth_export_corrupt / "ris" / "reports.csv")
    frame, quarantine = deidentify_reports(reports, KEYER)
    truth = pd.read_parquet(synth_export_corrupt / "truth" / "corrupt.parquet")
    expected = sorted(r.expected_reason for r in truth.itertuples()
                      if r.expected_reason in ("empty_report", "undecodable_text"))
    assert expected and sorted(q["reason"] for q in read_quarantine + quarantine) == expected
    assert len(frame) + len(quarantine) + len(read_quarantine) == n_in
    assert not any(a in q["source"] for q in read_quarantine for a in truth.source)  # no accession


def test_reports_link_to_the_deidentified_images_of_the_same_export(synth_export, tmp_path):
    """Through the whole deid stage: each curated report finds its image study by study_key, with
    the same patient_key and the same shifted study date, and no RIS value is left in the text."""
    from radcurate.dags.chained_commands import ingest_then_deid
    from radcurate.deid import DeidConfig

    out = tmp_path / "out"
    secret = tmp_path / "secret.key"
    secret.write_bytes(b"fixed-test-secret-" + b"s" * 40)  # fixed, so the date shifts are reproducible
    secret.chmod(0o600)
    cfg = DeidConfig(secret_file=str(secret))
    ingest_then_deid(out, synth_export / "pacs", synth_export / "ris" / "reports.csv", config=cfg)
    reports = pd.read_parquet(out / "curated" / "reports.parquet")
    studies = pd.read_parquet(out / "curated" / "studies.parquet")
    linked = reports.merge(studies, on="study_key", suffixes=("", "_image"))
    assert len(linked) == len(reports) > 0
    assert (linked.patient_key == linked.patient_key_image).all()
    assert (linked.study_date.astype(str) == linked.study_date_image.astype(str)).all()
    ris = pd.read_csv(synth_export / "ris" / "reports.csv", dtype=str)
    blob = "\n".join(reports.text).lower()
    for value in {*ris.patient_id, *ris.accession, *ris.exam_date}:
        assert value.lower() not in blob
