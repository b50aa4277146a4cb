"""pydicom's own test files (odd encodings, broken files, nested private sequences, charsets) go
through deid: each one de-identified or quarantined with a reason, outputs readable, UIDs shared
across files mapped the same way."""

import os
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pydicom
import pydicom.data
import pytest

from radcurate.dags.chained_commands import ingest_then_deid
from radcurate.deid import DeidConfig, Keyer, deidentify_file

DATA = Path(os.path.dirname(pydicom.data.__file__))


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    secret = out.parent / "corpus-secret.key"
    summary = ingest_then_deid(out, DATA, config=DeidConfig(secret_file=str(secret), crosswalk=True))
    return out, summary


def test_every_file_is_deidentified_or_quarantined_with_a_reason(corpus_run):
    out, s = corpus_run
    assert s.files_in > 50 and s.instances > 50
    assert s.files_in == s.instances + s.files_quarantined
    q = pd.read_parquet(out / "quarantine.parquet")
    deid_q = q[q.stage == "deid"]
    assert len(deid_q) == s.files_quarantined
    assert deid_q.reason.str.len().gt(0).all() and deid_q.detail.str.len().gt(0).all()
    ingest = q[q.stage == "ingest"]
    assert {"not_dicom", "duplicate_sop_instance"} <= set(ingest.reason) | set(deid_q.reason)


def test_every_output_reads_back_as_deidentified_dicom(corpus_run):
    out, s = corpus_run
    files = sorted((out / "curated" / "dicom").rglob("*.dcm"))
    assert len(files) == s.instances
    for f in files:
        ds = pydicom.dcmread(f)
        assert ds.PatientIdentityRemoved == "YES"
        assert not any(e.tag.is_private for e in ds.iterall())
        assert str(ds.SOPInstanceUID).startswith("2.25.")
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID


def test_files_sharing_a_study_share_its_new_uid(corpus_run):
    out, _ = corpus_run
    cw = pd.read_parquet(out / "phi" / "crosswalk.parquet")
    inst = pd.read_parquet(out / "curated" / "instances.parquet").set_index("instance_key")
    new_study = {}
    for row in cw.itertuples():
        ds = pydicom.dcmread(out / "curated" / inst.loc[row.instance_key, "path"], stop_before_pixels=True)
        assert new_study.setdefault(row.study_uid, ds.StudyInstanceUID) == ds.StudyInstanceUID
    assert len(set(new_study.values())) == len(new_study)


def test_the_same_image_in_other_encodings_gets_the_same_uids(tmp_path):
    """57 corpus files share a SOP Instance UID with another (same image, other transfer syntax)."""
    by_uid = defaultdict(list)
    for f in sorted((DATA / "test_files").glob("*.dcm")):
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True, specific_tags=["SOPInstanceUID"])
            by_uid[str(ds.SOPInstanceUID)].append(f)
        except Exception:
            continue
    groups = [fs for fs in by_uid.values() if len(fs) > 1][:6]
    assert groups
    keyer, cfg = Keyer(b"c" * 64), DeidConfig()
    for g, files in enumerate(groups):
        seen = set()
        for i, f in enumerate(files[:3]):
            res = deidentify_file(str(f), f.name, str(tmp_path / f"{g}-{i}"), keyer, cfg)
            if "instance" in res:
                ds = pydicom.dcmread(tmp_path / f"{g}-{i}" / res["instance"]["path"], stop_before_pixels=True)
                seen.add((ds.SOPInstanceUID, ds.get("StudyInstanceUID"), ds.get("SeriesInstanceUID")))
        assert len(seen) <= 1
