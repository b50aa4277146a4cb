"""An oncology researcher follows report-stated lesion sizes over a patient's studies (RECIST 1.1)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import yaml

from radcurate.nlp.report_tables import mine_report_tables
from radcurate.nlp.measurements import measurements_table
from radcurate.nlp.recist import RECIST_SCHEMA, recist_table, states_resolution


def course(*reports: str, patient: str = "p1") -> pd.DataFrame:
    dates = pd.date_range("2021-01-04", periods=len(reports), freq="90D").strftime("%Y-%m-%d")
    return pd.DataFrame({"report_id": [f"{patient}-{i}" for i in range(len(reports))],
                         "patient_id": patient, "study_date": dates, "text": list(reports)})


def responses(reports: pd.DataFrame) -> pd.DataFrame:
    return recist_table(measurements_table(reports), reports[["report_id", "patient_id", "study_date", "text"]])


BASELINE = ("FINDINGS: Target lesion 1: right upper lobe mass measures 3.2 x 2.5 cm (series 3, image 40). "
            "Target lesion 2: left lower lobe nodule measures 1.8 x 1.5 cm. "
            "Subcarinal lymph node measures 2.0 x 1.6 cm. A 6 mm nodule in the right middle lobe.")


def test_partial_response_then_progression_by_a_new_lesion():
    rows = responses(course(
        BASELINE,
        "FINDINGS: Target lesion 1: right upper lobe mass measures 2.1 x 1.7 cm, previously 3.2 x 2.5 cm. "
        "Target lesion 2: left lower lobe nodule measures 1.2 x 1.0 cm, previously 1.8 x 1.5 cm. "
        "Subcarinal lymph node measures 1.1 cm in short axis, previously 1.6 cm. "
        "Right middle lobe nodule measures 6 mm, previously 6 mm.",
        "FINDINGS: Target lesion 1: right upper lobe mass measures 2.0 x 1.6 cm, previously 2.1 x 1.7 cm. "
        "Target lesion 2: left lower lobe nodule measures 1.1 x 1.0 cm. Subcarinal lymph node 1.1 cm in short axis. "
        "Right middle lobe nodule measures 6 mm. New left upper lobe nodule measuring 9 mm.",
    ))
    assert list(rows["response"]) == ["BASELINE", "PR", "PD"]
    # targets: the mass, the nodule and the node (by short axis); the 6 mm nodule is not measurable
    assert list(rows["n_targets"]) == [3, 3, 3]
    assert list(rows["sum_mm"]) == [32 + 18 + 16.0, 21 + 12 + 11.0, 20 + 11 + 11.0]
    assert list(rows["nadir_mm"]) == [66.0, 66.0, 44.0]
    assert rows["change_from_baseline_pct"].iloc[1] == pytest.approx(-33.3)
    assert list(rows["new_lesion"]) == [False, False, True]
    assert (rows["derived_from"] == "report_text").all()
    assert rows["match_confidence"].iloc[1] >= 0.9  # labels, locations and quoted priors agree


def test_growth_over_the_nadir_is_progression_and_small_changes_are_stable():
    rows = responses(course(
        "FINDINGS: Right upper lobe mass measures 4.0 x 3.0 cm.",
        "FINDINGS: Right upper lobe mass measures 2.6 x 2.0 cm, previously 4.0 x 3.0 cm.",
        "FINDINGS: Right upper lobe mass measures 2.8 x 2.1 cm, previously 2.6 x 2.0 cm.",
        "FINDINGS: Right upper lobe mass measures 3.2 x 2.4 cm, previously 2.8 x 2.1 cm.",
    ))
    assert list(rows["response"]) == ["BASELINE", "PR", "PR", "PD"]
    assert rows["change_from_nadir_pct"].iloc[3] == pytest.approx(23.1)


def test_resolution_of_every_lesion_is_complete_response():
    reports = course(
        "FINDINGS: Left lower lobe nodule measures 1.5 x 1.2 cm. Prevascular lymph node measures 1.7 cm in short axis.",
        "FINDINGS: Previously seen left lower lobe nodule has resolved. Prevascular lymph node measures "
        "0.8 cm in short axis, previously 1.7 cm.",
        "FINDINGS: Previously seen left lower lobe nodule has resolved. Lungs are clear.",
    )
    rows = mine_report_tables(reports, "report_id", "text", patient_column="patient_id", date_column="study_date",
                       topics=False)["recist"]
    assert list(rows["response"]) == ["BASELINE", "CR", "CR"]
    assert states_resolution(reports["text"].iloc[2]) and not states_resolution(reports["text"].iloc[0])


def test_at_most_two_targets_per_organ_and_five_in_all():
    lobes = ["right upper lobe", "right middle lobe", "right lower lobe", "left upper lobe", "left lower lobe"]
    text = "FINDINGS: " + " ".join(f"{lobe.capitalize()} nodule measures {20 + i} mm." for i, lobe in enumerate(lobes))
    text += " Subcarinal lymph node measures 2.2 x 1.8 cm. Prevascular lymph node measures 2.0 x 1.7 cm."
    text += " Right paratracheal lymph node measures 1.9 x 1.6 cm. Right hepatic lobe mass measures 3.0 cm."
    row = responses(course(text)).iloc[0]
    # lung: 24 + 23; lymph nodes: 18 + 17 (short axes); liver: 30
    assert row["n_targets"] == 5 and row["sum_mm"] == 24 + 23 + 18 + 17 + 30


def test_patients_without_a_measurable_lesion_get_no_rows_and_bad_tables_are_refused():
    assert responses(course("FINDINGS: A 6 mm nodule in the lingula.", "FINDINGS: Lingula nodule 6 mm.")).empty
    empty = recist_table(measurements_table(pd.DataFrame({"report_id": [], "text": []})),
                         pd.DataFrame({"report_id": [], "patient_id": [], "study_date": []}))
    assert empty.empty and list(empty.columns) == RECIST_SCHEMA.names
    with pytest.raises(ValueError, match="patient_id"):
        recist_table(measurements_table(course(BASELINE)), pd.DataFrame({"report_id": ["x"], "study_date": ["2020-01-01"]}))


def test_responses_match_the_phantom_truth(synth_export):
    reports = pd.read_csv(synth_export / "ris" / "reports.csv", dtype=str, keep_default_na=False)
    truth = pd.read_parquet(synth_export / "truth" / "recist.parquet")
    studies = pd.read_parquet(synth_export / "truth" / "studies.parquet")[["accession", "modality"]]
    reports = reports.merge(studies, on="accession")
    assert truth["response"].nunique() >= 3
    for modality in ("modality", None):
        rows = mine_report_tables(reports, "accession", "report_text", patient_column="patient_id",
                           date_column="exam_date", modality_column=modality, topics=False)["recist"]
        pa.Table.from_pandas(rows, schema=RECIST_SCHEMA, preserve_index=False)
        got = rows.set_index("report_id")
        assert set(got.index) == set(truth["accession"])
        for _, t in truth.iterrows():
            row = got.loc[t["accession"]]
            assert (row["response"], row["timepoint"]) == (t["response"], t["timepoint"])
            assert row["sum_mm"] == pytest.approx(t["sum_mm"], abs=2.0)  # reports round to whole mm
            assert row["match_confidence"] >= 0.3


HANDWRITTEN = Path(__file__).parent / "data" / "recist_handwritten.yaml"
SERIES = yaml.safe_load(HANDWRITTEN.read_text(encoding="utf-8"))["patients"]


@pytest.fixture(scope="module")
def handwritten_responses() -> pd.DataFrame:
    """RECIST rows for the hand-written follow-up series, mined the way `radcurate mine` does."""
    reports = pd.DataFrame([{"report_id": f"{p['id']}-{i}", "patient_id": p["id"],
                             "study_date": f"{2020 + i}-03-01", "text": text}
                            for p in SERIES for i, text in enumerate(p["reports"])])
    return mine_report_tables(reports, "report_id", "text", patient_column="patient_id", date_column="study_date",
                       topics=False)["recist"]


def test_the_handwritten_series_cover_every_edge_case():
    assert len(SERIES) >= 25
    expected = {r for p in SERIES for r in p["expected"]}
    assert {"PD", "PR", "SD", "CR", "NE"} <= expected


@pytest.mark.parametrize("patient", SERIES, ids=[p["id"] for p in SERIES])
def test_handwritten_follow_up_series_get_their_recist_response(patient, handwritten_responses):
    rows = handwritten_responses[handwritten_responses["patient_id"] == patient["id"]]
    assert list(rows["response"]) == patient["expected"], patient["why"]
    if patient.get("sums"):
        assert [None if pd.isna(s) else float(s) for s in rows["sum_mm"]] == patient["sums"], patient["why"]
