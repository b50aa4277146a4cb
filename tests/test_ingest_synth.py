"""Ingest of the synthetic PACS export: the manifests agree with the generator's ground truth, and
the planted bad inputs are quarantined exactly, with the reasons the truth expects."""

from __future__ import annotations

from radcurate.ingest import list_files, run_ingest

from radcurate.tables import read_table


def test_clean_export_becomes_one_row_per_instance_study_and_report(synth_export, tmp_path):
    summary = run_ingest(synth_export / "pacs", synth_export / "ris/reports.csv", tmp_path)
    truth = read_table(synth_export / "truth/studies.parquet")
    studies = read_table(tmp_path / "phi/studies.parquet")
    instances = read_table(tmp_path / "phi/instances.parquet")
    reports = read_table(tmp_path / "phi/reports.parquet")
    quarantine = read_table(tmp_path / "quarantine.parquet")

    # only DICOMDIR indexes are set aside, and every other file is an instance
    assert set(quarantine["reason"]) <= {"dicomdir"}
    assert summary.instances + summary.files_quarantined == len(list_files(synth_export / "pacs"))
    assert summary.instances == truth["n_instances"].sum()
    by_study = studies.set_index("study_uid")
    truth = truth.set_index("study_uid")
    assert sorted(by_study.index) == sorted(truth.index)
    for column in ("patient_id", "accession", "modality"):
        got = by_study["modalities"].map(lambda m: m[0]) if column == "modality" else by_study[column]
        assert (got.sort_index() == truth[column].sort_index()).all(), column
    assert (by_study["study_date"].sort_index() == truth["study_date"].sort_index()).all()
    assert (by_study["n_instances"].sort_index() == truth["n_instances"].sort_index()).all()
    # every report found its study, and the RIS patient ID agrees with the DICOM one
    assert summary.reports == summary.reports_in == len(reports) > 0
    assert set(reports["study_uid"]) <= set(by_study.index)
    assert reports["patient_id_matches"].all()
    # CT series keep their geometry
    ct = instances[instances["modality"] == "CT"]
    assert ct["pixel_spacing"].map(len).eq(2).all() and ct["image_position"].map(len).eq(3).all()
    assert ct["slice_thickness"].gt(0).all() and ct["rescale_intercept"].notna().all()


def test_corrupt_export_quarantines_exactly_the_planted_inputs(synth_export_corrupt, tmp_path):
    export = synth_export_corrupt
    summary = run_ingest(export / "pacs", export / "ris/reports.csv", tmp_path)
    quarantine = read_table(tmp_path / "quarantine.parquet")
    planted = read_table(export / "truth/corrupt.parquet")
    got = sorted(zip(quarantine["source"], quarantine["reason"]))
    expected = sorted(zip(planted["source"], planted["expected_reason"]))
    assert [g for g in got if g[1] != "dicomdir"] == expected
    assert summary.files_found == summary.instances + summary.files_quarantined
    assert summary.reports_in == summary.reports + summary.reports_quarantined
    # details are readable and carry no report text or names
    names = set(read_table(export / "truth/studies.parquet")["patient_name"])
    assert not any(name in detail for name in names for detail in quarantine["detail"])
