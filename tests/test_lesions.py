"""A lesion-detection researcher's story: the hospital's PACS export holds the radiologists' RECIST
measurements as presentation states and SR documents; after one `radcurate run` they want every
measurement as a lesion row on a curated slice, sizes they can trust, the report's words for it,
a weak mask, and annotation objects with no PHI left whose image references still resolve."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pydicom
import pytest

from radcurate.deid.keys import Keyer
from radcurate.dags.runner import run_pipeline
from radcurate.lesions import LinkConfig, ellipse_mask, grabcut_mask, link
from radcurate.synthesis import ExportConfig, generate_export


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """3 patients with the readers' GSPS and SR measurement objects (seed 7 has both kinds)."""
    return generate_export(tmp_path_factory.mktemp("lesion_export"), patients=3, seed=7,
                           config=ExportConfig(annotations=True))


@pytest.fixture(scope="module")
def out(export, tmp_path_factory):
    out = tmp_path_factory.mktemp("lesion_run")
    inputs = {"dicom": export / "pacs", "reports": export / "ris" / "reports.csv"}
    report = run_pipeline(inputs, out, workers=0, log=lambda line: None)
    assert report.ok, [(o.name, o.status, o.message) for o in report.outcomes]
    return out


@pytest.fixture(scope="module")
def matched(export, out):
    """Truth annotation rows beside the lesion row drawn from them (matched by study, slice, endpoint)."""
    keyer = Keyer.from_secret_file()
    truth = pd.read_parquet(export / "truth" / "annotations.parquet")
    lesions = pd.read_parquet(out / "curated" / "lesions.parquet")
    drawn = lesions[lesions["source"] != "report"]
    pairs = []
    for t in truth.itertuples():
        cand = drawn[(drawn["study_key"] == keyer.study_key(t.accession)) & (drawn["instance_number"] == t.instance_number)
                     & ((drawn["long_x0"] - t.long_x0).abs() < 1e-3) & ((drawn["long_y0"] - t.long_y0).abs() < 1e-3)]
        assert len(cand) == 1, (t.accession, t.lesion_id)
        pairs.append((t, cand.iloc[0]))
    return pairs


def test_every_annotation_becomes_a_lesion_row_with_diameters_within_the_reader_error(export, out, matched):
    truth = pd.read_parquet(export / "truth" / "annotations.parquet")
    lesions = pd.read_parquet(out / "curated" / "lesions.parquet")
    assert set(truth["source"]) == {"GSPS", "SR"}
    assert len(lesions[lesions["source"] != "report"]) == len(truth) == len(matched)
    assert lesions.loc[lesions["source"] != "report", "pixels_blanked"].notna().all()
    for t, row in matched:
        assert row["source"] == t.source
        bound = 2 * t.max_endpoint_error_mm + 0.05  # each endpoint off by at most the reader error
        assert abs(row["long_axis_mm"] - t.true_long_mm) <= bound
        assert abs(row["short_axis_mm"] - t.true_short_mm) <= bound
        assert abs(row["long_axis_mm"] - t.annotated_long_mm) < 0.02  # pixel spacing applied exactly
        x0, y0, x1, y1 = (int(row[c]) for c in ("box_x0", "box_y0", "box_x1", "box_y1"))
        mask = np.frombuffer(row["mask"], np.uint8).reshape(y1 - y0, x1 - x0)
        assert row["mask_method"] == "ellipse" and set(np.unique(mask)) <= {0, 1}
        # the weak mask covers the true cross-section well
        yy, xx = np.mgrid[y0:y1, x0:x1] + 0.5
        u = (xx - t.center_col) * math.cos(t.angle_rad) + (yy - t.center_row) * math.sin(t.angle_rad)
        v = -(xx - t.center_col) * math.sin(t.angle_rad) + (yy - t.center_row) * math.cos(t.angle_rad)
        true = ((u / t.semi_long_px) ** 2 + (v / t.semi_short_px) ** 2) <= 1
        assert 2 * (mask.astype(bool) & true).sum() / (mask.sum() + true.sum()) > 0.7


def test_links_to_report_measurements_are_right_for_at_least_95_percent(export, out, matched):
    lesions_truth = pd.read_parquet(export / "truth" / "lesions.parquet").set_index(["accession", "lesion_id"])
    reports = pd.read_parquet(out / "curated" / "reports.parquet").set_index("report_key")
    stated = [(t, row) for t, row in matched if t.stated_in_report]
    assert stated
    right = 0
    for t, row in stated:
        lt = lesions_truth.loc[(t.accession, t.lesion_id)]
        if pd.isna(row["report_key"]) or reports.loc[row["report_key"], "study_key"] != row["study_key"]:
            continue
        long_ok = pd.isna(lt.stated_long_mm) or row["report_long_axis_mm"] == lt.stated_long_mm
        right += bool(long_ok and row["report_short_axis_mm"] == lt.stated_short_mm
                      and lt.location in str(row["location"]) and 0 < row["link_confidence"] <= 1)
    assert right / len(stated) >= 0.95
    # nothing dropped: every current lesion measurement in the reports is in the table
    lesions = pd.read_parquet(out / "curated" / "lesions.parquet")
    meas = pd.read_parquet(out / "curated" / "measurements.parquet")
    current = meas[meas["kind"].isin(["lesion", "lymph_node"]) & (meas["timepoint"] == "current")]
    assert len(current) == lesions["report_key"].notna().sum()
    report_only = lesions[lesions["source"] == "report"]
    assert report_only["long_x0"].isna().all() and report_only["report_key"].notna().all()


def test_gsps_and_sr_are_de_identified_and_their_image_references_resolve(export, out):
    phi = pd.read_parquet(export / "truth" / "phi.parquet")
    studies = pd.read_parquet(export / "truth" / "studies.parquet")
    truth = pd.read_parquet(export / "truth" / "annotations.parquet")
    ann = pd.read_parquet(out / "curated" / "annotations.parquet")
    assert sorted(ann["kind"].unique()) == ["GSPS", "SR"] and len(ann) == truth["path"].nunique()
    curated = out / "curated"
    image_uids = {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID)
                  for p in (curated / "dicom").rglob("*.dcm")}
    planted = phi[phi["source"].isin(set(truth["path"]))]
    assert {"physician_name", "patient_name", "patient_id", "date", "uid"} <= set(planted["kind"])
    kept_by_design = planted["kind"] == "age"  # ages up to 89 are kept (Retain Patient Characteristics)
    values = set(planted.loc[~kept_by_design, "value"]) | set(studies["patient_id"]) | set(studies["accession"])
    for name in studies["patient_name"]:
        values |= {p for p in re.split(r"[\^ ,]+", name) if len(p) >= 4}
    keyer = Keyer.from_secret_file()
    for a in ann.itertuples():
        raw = (curated / a.path).read_bytes().decode("latin-1").lower()
        leaked = [v for v in values if len(v) >= 4 and v.lower() in raw]
        assert not leaked, (a.kind, leaked)
        ds = pydicom.dcmread(curated / a.path)
        refs = [str(e.value) for e in ds.iterall() if e.keyword == "ReferencedSOPInstanceUID"]
        image_refs = [r for r in refs if r in image_uids]
        assert image_refs and set(image_refs) == set(refs) - _study_refs(ds)
        if a.kind == "SR":  # coded content intact, observer identity gone, dates shifted with the patient
            codes = {str(e.value) for e in ds.iterall() if e.keyword == "CodeValue"}
            assert {"126000", "125007", "103339001", "103340004", "121071", "112039"} <= codes
            texts = [str(e.value) for e in ds.iterall() if e.keyword == "TextValue"]
            assert any(t.startswith("Target lesion") for t in texts)
        else:
            texts = [str(e.value) for e in ds.iterall() if e.keyword == "UnformattedTextValue"]
            assert texts and all(re.search(r"\d+\.\d x \d+\.\d mm", t) for t in texts)
    # dates shifted by the patient's shift, like the images'
    for t in truth.drop_duplicates("path").itertuples():
        key = keyer.study_key(t.accession)
        row = ann[ann["study_key"] == key].iloc[0]
        study_date = studies.set_index("accession").loc[t.accession, "study_date"]
        assert (row["content_date"] - study_date).days == keyer.date_shift_days(t.patient_id)


def _study_refs(ds) -> set[str]:
    out = set()
    for kw in ("ReferencedStudySequence", "ReferencedPerformedProcedureStepSequence"):
        for item in ds.get(kw, []):
            out |= {str(e.value) for e in item.iterall() if e.keyword == "ReferencedSOPInstanceUID"}
    return out


def test_recist_from_annotation_diameters_agrees_with_the_reports(out):
    rec = pd.read_parquet(out / "curated" / "recist_images.parquet")
    assert len(rec) and (rec["derived_from"] == "annotations").all()
    compared = rec[rec["text_response"].notna()]
    # a reader who measured on the slice next to the widest one draws smaller: sums agree in the median
    assert len(compared) and compared["sum_difference_mm"].abs().median() <= 3
    assert compared["response_agrees"].mean() >= 0.75


def test_linker_keeps_unlinked_annotations_and_unannotated_measurements():
    rows = [dict(lesion_key="a", patient_key="P", study_key="S", series_number=3, instance_number=12,
                 source="GSPS", long_axis_mm=21.0, short_axis_mm=14.0),
            dict(lesion_key="b", patient_key="P", study_key="S", series_number=3, instance_number=12,
                 source="GSPS", long_axis_mm=9.0, short_axis_mm=7.0),
            dict(lesion_key="c", patient_key="P", study_key="S", series_number=3, instance_number=30,
                 source="SR", long_axis_mm=15.0, short_axis_mm=10.0),
            dict(lesion_key="d", patient_key="P", study_key="S", series_number=3, instance_number=49,
                 source="GSPS", long_axis_mm=24.0, short_axis_mm=16.0)]  # next slice: smaller than stated
    m = pd.DataFrame([dict(report_key="R", study_key="S", patient_key="P", series=3, image=12, long_axis_mm=9.0,
                           short_axis_mm=7.0, finding="nodule", kind="lesion", location="right upper lobe",
                           lesion_label=None, timepoint="current", sentence_index=4, char_start=100, char_end=140),
                      dict(report_key="R", study_key="S", patient_key="P", series=3, image=12, long_axis_mm=21.0,
                           short_axis_mm=14.0, finding="mass", kind="lesion", location="left lower lobe",
                           lesion_label="Target lesion 1", timepoint="current", sentence_index=2, char_start=40,
                           char_end=80),
                      dict(report_key="R", study_key="S", patient_key="P", series=3, image=50, long_axis_mm=30.0,
                           short_axis_mm=20.0, finding="mass", kind="lesion", location="right lower lobe",
                           lesion_label=None, timepoint="current", sentence_index=5, char_start=150, char_end=190),
                      dict(report_key="R", study_key="S", patient_key="P", series=3, image=80, long_axis_mm=12.0,
                           short_axis_mm=9.0, finding="nodule", kind="lesion", location="left upper lobe",
                           lesion_label=None, timepoint="current", sentence_index=6, char_start=200, char_end=230)])
    got = {r["lesion_key"]: r for r in link([dict(r) for r in rows], m, LinkConfig())}
    assert got["a"]["location"] == "left lower lobe" and got["a"]["lesion_label"] == "Target lesion 1"
    assert got["b"]["location"] == "right upper lobe" and got["a"]["link_confidence"] == 1.0
    assert got["c"].get("report_key") is None  # no report measurement cites image 30
    assert got["d"]["location"] == "right lower lobe" and 0 < got["d"]["link_confidence"] < got["b"]["link_confidence"]
    report_only = [r for r in got.values() if r["source"] == "report"]
    assert len(report_only) == 1 and report_only[0]["instance_number"] == 80


def test_grabcut_refines_a_sloppy_cross_on_a_round_lesion():
    yy, xx = np.mgrid[0:64, 0:64] + 0.5
    lesion = ((xx - 32) ** 2 + (yy - 30) ** 2) <= 10 ** 2  # a round lesion of radius 10 px
    image = np.where(lesion, 200, 30).astype(np.uint8)
    rng = np.random.default_rng(0)
    image = np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8)
    long = np.array([[22.0, 30.0], [42.0, 30.0]])
    short = np.array([[32.0, 24.0], [32.0, 36.0]])  # the reader drew the short axis 40 % too short
    box = (16, 14, 48, 46)
    truth = lesion[14:46, 16:48]

    def dice(m):
        return 2 * (m.astype(bool) & truth).sum() / (m.sum() + truth.sum())

    ell, cut = ellipse_mask(long, short, box), grabcut_mask(image, long, short, box)
    assert cut.shape == ell.shape == truth.shape
    assert dice(cut) > dice(ell) and dice(cut) > 0.9


def test_annotated_export_is_byte_identical_for_the_same_seed(tmp_path):
    a = generate_export(tmp_path / "a", patients=1, seed=5, config=ExportConfig(annotations=True))
    b = generate_export(tmp_path / "b", patients=1, seed=5, config=ExportConfig(annotations=True))
    truth = pd.read_parquet(a / "truth" / "annotations.parquet")
    assert len(truth)
    for rel in truth["path"].unique():
        assert (a / "pacs" / rel).read_bytes() == (b / "pacs" / rel).read_bytes()
    parts = sorted((a / "truth/annotations.parquet").iterdir())
    assert parts and [p.read_bytes() for p in parts] == [(b / p.relative_to(a)).read_bytes() for p in parts]
