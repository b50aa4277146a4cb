"""A synthetic PACS export with planted PHI goes through `radcurate deid`: nothing planted
survives, burned-in text is gone, other pixels are unchanged, study intervals are kept, and
images and reports of one study share their keys."""

import datetime as dt

import numpy as np
import pandas as pd
import pydicom
import pytest

from radcurate.dags.cli import main as radcurate
from radcurate.dags.chained_commands import ingest_then_deid
from radcurate.deid import DeidConfig, Keyer, run_deid
from radcurate.deid.dicom import accession_key
from radcurate.deid.verify import burned_in_scores, find_leaks
from radcurate.ingest import run_ingest


@pytest.fixture(scope="module")
def deid_out(synth_export, tmp_path_factory):
    out = tmp_path_factory.mktemp("deid_out")
    secret = out.parent / "deid-stage-secret.key"
    # A fixed secret keeps the run reproducible: with a random one, a patient's shift can now and
    # then equal the gap between two of their real dates, and the byte-level leak check cannot tell
    # such a shifted date from the real one.
    secret.write_bytes(b"deid-stage-test-secret-" + b"d" * 41)
    secret.chmod(0o600)
    code = radcurate(["deid", "--dicom", str(synth_export / "pacs"), "--reports",
                      str(synth_export / "ris" / "reports.csv"), "--out", str(out), "--secret", str(secret),
                      "--crosswalk"])
    assert code == 0
    return out, secret


def test_no_planted_phi_value_survives_in_any_output(deid_out, synth_export):
    out, _ = deid_out
    assert find_leaks(out, synth_export / "truth") == []
    # curated tables hold keys only: no original UID, no path of the PHI zone
    studies = pd.read_parquet(out / "curated" / "studies.parquet")
    truth = pd.read_parquet(synth_export / "truth" / "studies.parquet")
    assert not set(truth.study_uid) & set(studies.astype(str).values.ravel())


def test_the_leak_check_would_notice_a_leak(deid_out, synth_export, tmp_path):
    """Control: put one planted name back into a copy of one output; the check finds it."""
    import shutil

    out, _ = deid_out
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    cw = pd.read_parquet(copy / "phi" / "crosswalk.parquet")
    inst = pd.read_parquet(copy / "curated" / "instances.parquet").set_index("instance_key")
    phi = pd.read_parquet(synth_export / "truth" / "phi.parquet")
    row = phi[(phi.location == "PatientName") & phi.source.isin(cw.source)].iloc[0]
    target = copy / "curated" / inst.loc[cw.set_index("source").loc[row.source, "instance_key"], "path"]
    ds = pydicom.dcmread(target)
    ds.StudyDescription = f"CT CHEST {row.value}"
    ds.save_as(target)
    assert any(l["kind"] == "patient_name" for l in find_leaks(copy, synth_export / "truth"))


def test_burned_in_text_is_blanked_and_nothing_else_changes(deid_out, synth_export):
    out, _ = deid_out
    scores = burned_in_scores(out, synth_export / "truth")
    assert scores["box_recall"] == 1.0 and scores["files_missed"] == 0
    assert scores["false_area"] < 0.5
    cw = pd.read_parquet(out / "phi" / "crosswalk.parquet")
    inst = pd.read_parquet(out / "curated" / "instances.parquet").set_index("instance_key")
    audit = pd.read_parquet(out / "curated" / "deid_audit.parquet")
    blanked = audit[audit.action == "blanked"]
    for row in cw.itertuples():
        before = pydicom.dcmread(synth_export / "pacs" / row.source).pixel_array
        after = pydicom.dcmread(out / "curated" / inst.loc[row.instance_key, "path"]).pixel_array
        mask = np.zeros(before.shape[:2], bool)
        for b in blanked[blanked.instance_key == row.instance_key].itertuples():
            mask[b.y0:b.y1, b.x0:b.x1] = True
        assert np.array_equal(before[~mask], after[~mask])


def test_study_intervals_and_links_between_images_and_reports_survive(deid_out, synth_export):
    out, secret = deid_out
    keyer = Keyer.from_secret_file(secret)
    truth = pd.read_parquet(synth_export / "truth" / "studies.parquet")
    studies = pd.read_parquet(out / "curated" / "studies.parquet")
    shifted = dict(zip(studies.accession_key, studies.study_date))
    for pid, group in truth.groupby("patient_id"):
        group = group.sort_values("study_date")
        real = [d for d in group.study_date]
        new = [shifted[accession_key(keyer, a)] for a in group.accession]
        assert [(b - a).days for a, b in zip(real, real[1:])] == [(b - a).days for a, b in zip(new, new[1:])]
        assert new[0] == real[0] + dt.timedelta(days=keyer.date_shift_days(pid))
    reports = pd.read_parquet(out / "curated" / "reports.parquet")
    assert len(reports) == pd.read_csv(synth_export / "ris" / "reports.csv").shape[0]
    assert set(reports.study_key) <= set(studies.study_key)
    linked = reports.merge(studies, on="study_key", suffixes=("_r", "_s"))
    assert (linked.patient_key_r == linked.patient_key_s).all()
    series = pd.read_parquet(out / "curated" / "series.parquet")
    instances = pd.read_parquet(out / "curated" / "instances.parquet")
    assert set(series.study_key) == set(studies.study_key)
    assert set(instances.series_key) == set(series.series_key)
    assert instances.rows.notna().all() and instances.pixel_spacing.notna().all()
    ct = instances[instances.modality == "CT"]  # single-valued DS geometry is kept as a number
    assert len(ct) and ct.slice_thickness.notna().all() and (ct.slice_thickness > 0).all()
    first = pydicom.dcmread(out / "curated" / ct.path.iloc[0], stop_before_pixels=True)
    assert ct.slice_thickness.iloc[0] == float(first.SliceThickness)


def test_pipeline_mode_reads_ingest_manifests_and_reruns_idempotently(synth_export, tmp_path):
    # the secret lives beside OUT (tmp_path), never inside it: a secret inside OUT is refused
    cfg = DeidConfig(secret_file=f"{tmp_path}.s.key")
    run_ingest(synth_export / "pacs", synth_export / "ris" / "reports.csv", tmp_path)
    first = run_deid(tmp_path, config=cfg)
    files = sorted(p.relative_to(tmp_path) for p in (tmp_path / "curated" / "dicom").rglob("*.dcm"))
    again = run_deid(tmp_path, config=cfg)
    assert first.instances == again.instances == len(files) > 0
    assert first.reports == again.reports > 0
    assert files == sorted(p.relative_to(tmp_path) for p in (tmp_path / "curated" / "dicom").rglob("*.dcm"))
    q = pd.read_parquet(tmp_path / "quarantine.parquet")
    assert (q.stage == "deid").sum() == again.files_quarantined + again.reports_quarantined


def test_reports_only_run_needs_no_dicom(synth_export, tmp_path, capsys):
    code = radcurate(["deid", "--reports", str(synth_export / "ris" / "reports.csv"), "--out", str(tmp_path),
                      "--secret", f"{tmp_path}.s.key", "--keep-column", "accession"])
    assert code == 0
    reports = pd.read_parquet(tmp_path / "curated" / "reports.parquet")
    assert {"report_key", "study_key", "patient_key", "study_date", "text", "accession"} <= set(reports.columns)
    assert not (tmp_path / "curated" / "dicom").exists()
    assert "reports:" in capsys.readouterr().out


def test_bad_usage_is_a_clear_error(tmp_path, capsys):
    assert radcurate(["deid", "--out", str(tmp_path)]) == 2
    assert "give --dicom" in capsys.readouterr().err


def test_asking_for_tesseract_where_it_is_missing_is_a_clear_error(synth_export, tmp_path, capsys, monkeypatch):
    import radcurate.deid.textdetect as textdetect

    monkeypatch.setattr(textdetect, "tesseract_available", lambda: False)  # a machine without OCR
    code = radcurate(["deid", "--reports", str(synth_export / "ris" / "reports.csv"), "--out", str(tmp_path),
                      "--secret", f"{tmp_path}.s.key", "--text-detector", "tesseract"])
    assert code == 2 and "radcurate[ocr]" in capsys.readouterr().err
    assert not (tmp_path / "curated").exists()


def test_a_corrupt_export_never_crashes_the_stage(synth_export_corrupt, tmp_path):
    s = ingest_then_deid(tmp_path, synth_export_corrupt / "pacs", synth_export_corrupt / "ris" / "reports.csv",
                         config=DeidConfig(secret_file=f"{tmp_path}.s.key"))
    assert s.files_in == s.instances + s.files_quarantined and s.instances > 0
    assert s.reports_in == s.reports + s.reports_quarantined
    q = pd.read_parquet(tmp_path / "quarantine.parquet")
    assert q.reason.notna().all() and set(q.stage) <= {"ingest", "deid"}
    for f in (tmp_path / "curated" / "dicom").rglob("*.dcm"):
        assert pydicom.dcmread(f).PatientIdentityRemoved == "YES"


def test_reports_only_run_with_realistic_fake_surrogates(synth_export, tmp_path):
    """A team that wants readable text asks for fakes: no tags, and still no planted value."""
    out = tmp_path / "out"
    secret = tmp_path / "secret.key"
    secret.write_bytes(b"fake-surrogates-test-secret-" + b"f" * 36)
    secret.chmod(0o600)
    assert radcurate(["deid", "--reports", str(synth_export / "ris" / "reports.csv"), "--out", str(out),
                      "--secret", str(secret), "--surrogates", "fake"]) == 0
    text = "\n".join(pd.read_parquet(out / "curated" / "reports.parquet")["text"])
    assert "[NAME]" not in text and "[PHONE]" not in text
    phi = pd.read_parquet(synth_export / "truth" / "phi.parquet")
    names = phi[(phi["where"] == "report") & phi["kind"].isin(["patient_name", "physician_name"])]["value"]
    assert len(names) and not [n for n in set(names) if n in text]
