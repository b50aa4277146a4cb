"""A research data team's story: one `radcurate run` over a hospital export, then the checks they
would make before handing the curated dataset to anyone — no PHI anywhere, counts that reconcile,
labels and RECIST responses that agree with what is really in the images."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from radcurate.dags.pipeline import PIPELINE
from radcurate.dags.runner import run_pipeline
from radcurate.deid.keys import Keyer
from radcurate.deid.verify import find_leaks, forms


@pytest.fixture(scope="module")
def pipeline_out(synth_export, tmp_path_factory):
    out = tmp_path_factory.mktemp("pipeline")
    inputs = {"dicom": synth_export / "pacs", "reports": synth_export / "ris" / "reports.csv"}
    report = run_pipeline(inputs, out, workers=0, config={"deid": {"crosswalk": True}}, log=lambda line: None)
    assert report.ok, [(o.name, o.status, o.message) for o in report.outcomes]
    return out


def test_every_stage_ran_validated_and_counts_reconcile(pipeline_out, synth_export):
    manifest = json.loads((pipeline_out / "manifest.json").read_text())
    assert [manifest["stages"][s.name]["status"] for s in PIPELINE] == ["ran"] * len(PIPELINE)
    for stage in PIPELINE:
        checks = [c for suite in manifest["stages"][stage.name]["validation"] for c in suite["checks"]]
        assert checks and all(c["success"] for c in checks), stage.name
    truth = pd.read_parquet(synth_export / "truth" / "studies.parquet")
    studies = pd.read_parquet(pipeline_out / "curated" / "studies.parquet")
    instances = pd.read_parquet(pipeline_out / "curated" / "instances.parquet")
    assert len(studies) == len(truth) and len(instances) == truth["n_instances"].sum()
    reports = pd.read_parquet(pipeline_out / "curated" / "reports.parquet")
    assert set(reports["study_key"]) == set(studies["study_key"])  # every report linked to its images


def test_no_planted_phi_survives_in_any_curated_file(pipeline_out, synth_export):
    assert find_leaks(pipeline_out, synth_export / "truth") == []
    # the saved topic model is part of the dataset too: its vocabulary must hold no names or IDs
    phi = pd.read_parquet(synth_export / "truth" / "phi.parquet")
    names = phi[phi["kind"].isin(["patient_name", "physician_name", "patient_id", "accession"])]
    blobs = b"".join(p.read_bytes().lower() for p in (pipeline_out / "curated" / "topic_model").rglob("*")
                     if p.is_file())
    leaked = {(k, f) for v, k in zip(names["value"], names["kind"]) for f in forms(v, k)
              if len(f) >= 6 and f.lower().encode() in blobs}
    assert not leaked, sorted({k for k, _ in leaked})


def test_labels_agree_with_the_phantoms_and_confident_labels_are_right(pipeline_out, synth_export, project_secret):
    keyer = Keyer.from_secret_file(project_secret)
    truth = pd.read_parquet(synth_export / "truth" / "findings.parquet")
    truth["report_key"] = [keyer.pseudonym("report", a) for a in truth["accession"]]
    labels = pd.read_parquet(pipeline_out / "curated" / "labels.parquet")
    cx = labels[labels["vocabulary"] == "chestxray14"]
    assert not cx.duplicated(["study_key", "finding"]).any()
    merged = truth.merge(cx, on=["report_key", "finding"], how="left", validate="one_to_one")
    assert merged["study_key"].notna().all()  # a label row for every study and finding
    stated = merged[merged["assertion"].isin(["positive", "negative"])]
    expected = stated["assertion"].map({"positive": 1, "negative": 0})
    assert (stated["value"].astype("Int64") == expected).mean() >= 0.98
    confident = merged[merged["probability"] >= 0.9]
    assert len(confident) >= 5 and confident["present"].mean() >= 0.9


def test_recist_responses_follow_the_lesions_over_time(pipeline_out, synth_export, project_secret):
    keyer = Keyer.from_secret_file(project_secret)
    truth = pd.read_parquet(synth_export / "truth" / "recist.parquet")
    truth["report_key"] = [keyer.pseudonym("report", a) for a in truth["accession"]]
    ours = pd.read_parquet(pipeline_out / "curated" / "recist.parquet")
    assert (ours["derived_from"] == "report_text").all()
    merged = truth.merge(ours, on="report_key", how="left", suffixes=("_truth", ""))
    assert len(merged) and (merged["response"] == merged["response_truth"]).all()


def test_birth_dates_are_removed_from_reports_not_shifted(pipeline_out, synth_export, project_secret):
    """A shifted birth date would still tell each patient's age (over 89 is itself PHI)."""
    import datetime as dt

    keyer = Keyer.from_secret_file(project_secret)
    phi = pd.read_parquet(synth_export / "truth" / "phi.parquet")
    studies = pd.read_parquet(synth_export / "truth" / "studies.parquet")
    patient_of = dict(zip(studies["accession"], studies["patient_id"]))
    births = phi[(phi["kind"] == "birth_date") & (phi["where"] == "report")]
    text = "\n".join(pd.read_parquet(pipeline_out / "curated" / "reports.parquet")["text"])
    assert len(births) and "[DOB]" in text
    for value, accession in zip(births["value"], births["source"]):
        born = pd.to_datetime(value).date() + dt.timedelta(days=keyer.date_shift_days(patient_of[accession]))
        assert not {born.isoformat(), born.strftime("%m/%d/%Y"), f"{born.month}/{born.day}/{born.year}"} & {
            w.strip(".,;()") for w in text.split()}
