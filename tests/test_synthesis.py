"""The synthetic PACS export behaves like a hospital's: images, headers, reports and truth agree."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from pydicom.errors import InvalidDicomError
from scipy import ndimage

from radcurate.synthesis import generate_export
from radcurate.synthesis.phantom import LESION_HU, NODE_HU

TRUTH = ("studies", "findings", "lesions", "measurements", "recist", "phi", "burned_in", "corrupt")


def truth(root: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(root / "truth" / f"{name}.parquet")


def replan(root: Path):
    """The generator's plans (phantoms included) for the export at ``root``, from its parameters."""
    import json

    from radcurate.synthesis.config import ExportConfig
    from radcurate.synthesis.plan import plan_export

    p = json.loads((root / "truth" / "export.json").read_text())
    return p["seed"], plan_export(p["seed"], p["patients"], ExportConfig(**p["config"]))


def dicom_files(root: Path, skip: set[str] = frozenset()) -> dict[str, pydicom.Dataset]:
    """Every DICOM image under pacs/ (relative path -> dataset), DICOMDIR excluded."""
    out = {}
    for p in sorted((root / "pacs").rglob("*")):
        rel = p.relative_to(root / "pacs").as_posix()
        if p.is_file() and p.name != "DICOMDIR" and rel not in skip:
            out[rel] = pydicom.dcmread(p)
    return out


def reports(root: Path) -> pd.DataFrame:
    return pd.read_csv(root / "ris" / "reports.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def files(synth_export):
    return dicom_files(synth_export)


def test_export_has_the_contract_layout(synth_export):
    pacs = synth_export / "pacs"
    assert (synth_export / "ris" / "reports.csv").is_file()
    assert list(pacs.rglob("DICOMDIR")), "a CD import with a DICOMDIR"
    names = [p.name for p in pacs.rglob("*") if p.is_file() and p.name != "DICOMDIR"]
    assert any(n.lower().endswith(".dcm") for n in names) and any("." not in n for n in names)
    assert max(len(p.relative_to(pacs).parts) for p in pacs.rglob("*")) >= 4, "nested folders"
    cols = {"studies": {"patient_id", "accession", "study_uid", "study_date", "modality", "timepoint", "n_instances"},
            "lesions": {"lesion_id", "long_axis_mm", "short_axis_mm", "series_number", "instance_number",
                        "stated_long_mm", "prior_long_mm"},
            "phi": {"value", "kind", "where", "location", "source"}}
    for name in TRUTH:
        t = truth(synth_export, name)
        assert cols.get(name, set()) <= set(t.columns)
    assert len(truth(synth_export, "corrupt")) == 0
    assert list(reports(synth_export).columns) == ["accession", "patient_id", "patient_name", "exam_date", "report_text"]


def test_every_image_decodes_in_each_transfer_syntax(files, synth_export):
    syntaxes = set()
    sop_class = {"CT": "1.2.840.10008.5.1.4.1.1.2", "DX": "1.2.840.10008.5.1.4.1.1.1.1", "CR": "1.2.840.10008.5.1.4.1.1.1"}
    for rel, ds in files.items():
        arr = ds.pixel_array
        assert arr.shape == (ds.Rows, ds.Columns)
        assert ds.SOPClassUID == sop_class[ds.Modality] == ds.file_meta.MediaStorageSOPClassUID
        syntaxes.add(ds.file_meta.TransferSyntaxUID.name)
    assert {"Explicit VR Little Endian", "Implicit VR Little Endian", "RLE Lossless"} <= syntaxes
    counts = pd.Series([ds.AccessionNumber for ds in files.values()]).value_counts()
    st = truth(synth_export, "studies").set_index("accession")
    assert counts.sort_index().to_dict() == st["n_instances"].sort_index().to_dict()


def test_uid_hierarchy_is_consistent(files, synth_export):
    sops = [ds.SOPInstanceUID for ds in files.values()]
    assert len(sops) == len(set(sops))
    series_study, study_patient, series_frame = {}, {}, defaultdict(set)
    for ds in files.values():
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert series_study.setdefault(ds.SeriesInstanceUID, ds.StudyInstanceUID) == ds.StudyInstanceUID
        assert study_patient.setdefault(ds.StudyInstanceUID, ds.PatientID) == ds.PatientID
        if ds.Modality == "CT":
            series_frame[ds.SeriesInstanceUID].add(ds.FrameOfReferenceUID)
    assert all(len(v) == 1 for v in series_frame.values())
    st = truth(synth_export, "studies")
    assert dict(zip(st.study_uid, st.patient_id)) == study_patient
    date_of = dict(zip(st.study_uid, st.study_date))
    for ds in files.values():  # a comparison study is an earlier study of the same patient
        for ref in ds.get("ReferencedStudySequence", []):
            assert study_patient[ref.ReferencedSOPInstanceUID] == ds.PatientID
            assert date_of[ref.ReferencedSOPInstanceUID] <= date_of[ds.StudyInstanceUID]


def test_ct_series_have_real_geometry_and_hounsfield_units(files):
    by_series = defaultdict(list)
    for ds in files.values():
        if ds.Modality == "CT":
            by_series[ds.SeriesInstanceUID].append(ds)
    for series in by_series.values():
        series.sort(key=lambda d: d.InstanceNumber)
        z = np.array([float(d.ImagePositionPatient[2]) for d in series])
        assert np.allclose(-np.diff(z), float(series[0].SliceThickness))
        assert [float(v) for v in series[0].ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
        mid = series[len(series) // 2]
        hu = mid.pixel_array * float(mid.RescaleSlope) + float(mid.RescaleIntercept)
        assert hu.min() < -950 and np.percentile(hu, 99) > 0  # air outside, soft tissue/bone inside
        lung_like = ((hu > -970) & (hu < -600)).mean()
        assert lung_like > 0.05, "mid-chest slice shows aerated lung"


def _measure(hu: np.ndarray, row: int, col: int, pix: float, lesion_hu: float, long_mm: float):
    """Long and short axis (mm) of the blob at (row, col) from its partial-volume pixel values."""
    r = int(long_mm / 2 / pix) + 3
    win = hu[row - r:row + r + 1, col - r:col + r + 1]
    bg = np.median(np.concatenate([win[0], win[-1], win[:, 0], win[:, -1]]))
    frac = (win - bg) / (lesion_hu - bg)
    lab, _ = ndimage.label(frac > 0.5)
    assert lab[r, r], "lesion centre is not on the stated slice"
    w = np.clip(frac, 0, 1) * ndimage.binary_dilation(lab == lab[r, r], iterations=1)
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1] * pix
    m = w.sum()
    mx, my = (w * xx).sum() / m, (w * yy).sum() / m
    cxy = (w * (xx - mx) * (yy - my)).sum() / m
    cov = np.array([[(w * (xx - mx) ** 2).sum() / m, cxy], [cxy, (w * (yy - my) ** 2).sum() / m]])
    ev = np.linalg.eigvalsh(cov) - pix * pix / 12  # remove the pixel-centre sampling bias
    return 4 * np.sqrt(ev[1]), 4 * np.sqrt(ev[0])  # uniform ellipse: variance = (axis/4)^2


def test_stated_lesion_sizes_match_what_the_ct_pixels_show(files, synth_export):
    les = truth(synth_export, "lesions")
    stated = les[les.stated_in_report]
    assert len(stated) >= 5
    rep = reports(synth_export).set_index("accession")["report_text"]
    by_key = {(d.AccessionNumber, int(d.SeriesNumber), int(d.InstanceNumber)): d
              for d in files.values() if d.Modality == "CT"}
    measured = 0
    for r in stated.itertuples():
        ds = by_key[(r.accession, int(r.series_number), int(r.instance_number))]
        assert abs(float(ds.ImagePositionPatient[2]) - r.center_z_mm) < 1e-3, "stated image is the centre slice"
        hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        pix = float(ds.PixelSpacing[0])
        col = int(round((r.center_x_mm - float(ds.ImagePositionPatient[0])) / pix))
        row = int(round((r.center_y_mm - float(ds.ImagePositionPatient[1])) / pix))
        long_m, short_m = _measure(hu, row, col, pix, NODE_HU if r.kind == "lymph_node" else LESION_HU, r.long_axis_mm)
        if r.short_axis_mm >= 3 * pix:  # below ~3 pixels noise decides; the blob is still checked above
            tol = max(1.0, 0.35 * pix)
            assert abs(long_m - r.long_axis_mm) <= tol and abs(short_m - r.short_axis_mm) <= tol
            measured += 1
        for stated_v, true_v in ((r.stated_long_mm, r.long_axis_mm), (r.stated_short_mm, r.short_axis_mm)):
            if not pd.isna(stated_v):
                assert abs(stated_v - true_v) <= 0.5  # written to the millimetre
        text = rep[r.accession]
        sizes = re.findall(r"(\d+(?:\.\d)?) x (\d+(?:\.\d)?)(?: x \d+(?:\.\d)?)? (cm|mm) \(series (\d+),? image (\d+)\)"
                           r"|(\d+(?:\.\d)?) (cm|mm) in short axis \(series (\d+),? image (\d+)\)", text)
        written = set()
        for a, b, unit, s_, i_, c, unit2, s2, i2 in sizes:  # what a reader of the report gets
            k = 10 if (unit or unit2) == "cm" else 1
            if a:
                written.add((round(float(a) * k), round(float(b) * k), int(s_), int(i_)))
            else:
                written.add((None, round(float(c) * k), int(s2), int(i2)))
        long_w = None if pd.isna(r.stated_long_mm) else round(r.stated_long_mm)
        assert (long_w, round(r.stated_short_mm), int(r.series_number), int(r.instance_number)) in written
        assert (r.finding == "mass") == (r.long_axis_mm >= 30) or r.kind == "lymph_node"
    assert measured >= 5


def test_reports_agree_with_the_phantom_findings(synth_export):
    f = truth(synth_export, "findings")
    assert not (f[f.assertion == "negative"].present.any()), "a negated finding is absent from the phantom"
    assert f[f.assertion == "positive"].present.all(), "a positive finding is present"
    assert {"positive", "negative", "uncertain", "not_mentioned"} <= set(f.assertion)
    les = truth(synth_export, "lesions")
    for acc, g in f.groupby("accession"):
        lung = les[(les.accession == acc) & (les.kind == "lesion") & (les.long_axis_mm > 0)]
        got = dict(zip(g.finding, g.present))
        assert got["Mass"] == bool((lung.long_axis_mm >= 30).any())
        assert got["Nodule"] == bool((lung.long_axis_mm < 30).any())
    rep = reports(synth_export).set_index("accession")["report_text"]
    for r in f[(f.finding == "Effusion") & (f.assertion == "negative")].itertuples():
        assert re.search(r"no (pleural )?(effusion|pneumothorax or pleural effusion)", rep[r.accession], re.I)
    for r in f[(f.finding == "Pneumothorax") & (f.assertion == "negative")].itertuples():
        assert re.search(r"no [^.]*pneumothorax", rep[r.accession], re.I)


def test_negated_findings_are_absent_from_the_rendered_phantom(synth_export):
    """Rebuild each study's phantom from the seed and look for the finding's tissue in 3-D."""
    from radcurate.synthesis.phantom import (ATELECTASIS, BULLA, CONSOLIDATION, EFFUSION, FIBROSIS, HEART,
                                             HERNIA_AIR, PLEURAL_THICKENING, PNEUMOTHORAX, labels_at)
    label_of = {"Effusion": EFFUSION, "Pneumothorax": PNEUMOTHORAX, "Consolidation": CONSOLIDATION,
                "Atelectasis": ATELECTASIS, "Emphysema": BULLA, "Fibrosis": FIBROSIS,
                "Pleural_Thickening": PLEURAL_THICKENING, "Hernia": HERNIA_AIR}
    f = truth(synth_export, "findings").set_index(["accession", "finding"])
    x = np.arange(-160, 161, 4.0)
    z = np.arange(-200, 101, 2.0)
    checked = 0
    _, plans = replan(synth_export)
    for pp in plans:
        for sp in pp.studies:
            lab = labels_at(sp.phantom, x[None, None, :], x[None, :, None], z[:, None, None])
            for finding, code in label_of.items():
                a = f.loc[(sp.accession, finding), "assertion"]
                voxels = int((lab == code).sum())
                if a == "negative":
                    assert voxels == 0, (sp.accession, finding)
                    checked += 1
                elif a == "positive":
                    assert voxels > 0, (sp.accession, finding)
            heart = np.nonzero((lab == HEART).any(axis=(0, 1)))[0]
            ctr = (heart.max() - heart.min() + 1) * 4.0 / (2 * 0.93 * 165)  # cardiothoracic ratio
            assert (ctr > 0.5) == (f.loc[(sp.accession, "Cardiomegaly"), "assertion"] == "positive")
    assert checked >= 5


def test_lung_lesions_a_radiograph_report_mentions_show_on_the_radiograph(files, synth_export):
    """Ribs and vessels make local contrast unreliable, so compare the exported radiograph with
    the same patient projected again without that one lesion: the lesion's spot must be denser."""
    from dataclasses import replace

    from radcurate.synthesis.projection import geometry, project

    seed, plans = replan(synth_export)
    f = truth(synth_export, "findings").set_index(["accession", "finding"])
    by_acc = {ds.AccessionNumber: ds for ds in files.values() if ds.Modality in ("DX", "CR")}
    seen = 0
    for pp in plans:
        for si, sp in enumerate(pp.studies):
            if sp.modality == "CT":
                continue
            ds = by_acc[sp.accession]
            a = ds.pixel_array.astype(float)
            if ds.PhotometricInterpretation == "MONOCHROME1":  # CR: high values are dark
                a = 4095 - a
            pix = float(ds.ImagerPixelSpacing[0])
            g = geometry(ds.Rows, pix)
            yy, xx = np.mgrid[: ds.Rows, : ds.Columns]
            for les in sp.phantom.lesions:
                if les.kind != "lesion" or les.long_mm < 20:
                    continue
                finding = "Mass" if les.long_mm >= 30 else "Nodule"
                assert f.loc[(sp.accession, finding), "assertion"] == "positive"
                without = replace(sp.phantom, lesions=tuple(l for l in sp.phantom.lesions if l is not les))
                b = project(without, ds.Rows, pix, np.random.default_rng([seed, pp.index, si, 3])).astype(float)
                core = np.hypot(xx - (les.center[0] - g.x0) / pix, yy - (g.z0 - les.center[2]) / pix) * pix
                core = (core <= les.short_mm / 3) & (yy > 80)  # below the burned-in label
                if core.sum() < 5:
                    continue
                assert a[core].mean() - b[core].mean() > 50, "lesion adds attenuation where truth puts it"
                seen += 1
    assert seen >= 2


def test_reports_read_like_radiology_reports(synth_export):
    rep = reports(synth_export)
    text = "\n".join(rep.report_text)
    for section in (r"(EXAM|PROCEDURE|Examination)", r"(HISTORY|INDICATION|History)", r"(COMPARISON|Comparison)",
                    r"(FINDINGS|Findings)", r"(IMPRESSION|Impression)"):
        assert all(re.search(section, t) for t in rep.report_text), section
    assert re.search(r"\bNo (pneumothorax|pleural effusion|effusion)", text)
    assert re.search(r"Heart size is normal|Normal cardiac silhouette|heart is enlarged|Cardiomegaly", text)
    assert re.search(r"\d\.\d x \d\.\d cm \(series \d+,? image \d+\)|\d+ x \d+ mm \(series", text)
    assert "previously" in text
    meas = truth(synth_export, "measurements")
    assert {"lesion", "other"} <= set(meas.kind)
    for r in meas.itertuples():
        assert r.text in rep.set_index("accession").report_text[r.accession]


def test_phi_inventory_covers_what_the_files_and_reports_hold(files, synth_export):
    phi = truth(synth_export, "phi")
    have = set(zip(phi.source, phi.kind, phi.value))
    for rel, ds in files.items():
        assert (rel, "patient_name", str(ds.PatientName)) in have
        assert (rel, "patient_id", ds.PatientID) in have
        assert (rel, "accession", ds.AccessionNumber) in have
        assert (rel, "birth_date", ds.PatientBirthDate) in have
        assert (rel, "physician_name", str(ds.ReferringPhysicianName)) in have
        assert (rel, "uid", ds.SOPInstanceUID) in have
        copy = ds.private_block(0x0029, "ACME MEDICAL 1.1")[0x11].value  # bytes when read as implicit VR
        copy = copy.decode("latin-1") if isinstance(copy, bytes) else copy
        assert (rel, "patient_name", copy.strip()) in have
        assert (rel, "accession", ds.RequestAttributesSequence[0].AccessionNumber) in have
    assert any(int(ds.PatientAge[:3]) > 89 for ds in files.values())
    rep = reports(synth_export).set_index("accession")
    in_text = phi[(phi["where"] == "report") & (phi.location == "report_text")]
    for r in in_text.itertuples():
        assert r.value in rep.report_text[r.source]
    kinds = set(in_text.kind)
    assert {"patient_name", "patient_id", "date", "time", "physician_name"} <= kinds
    for acc, text in rep.report_text.items():  # every report names the patient in some form
        names = in_text[(in_text.source == acc) & (in_text.kind == "patient_name")].value
        assert len(names) or not text


def test_burned_in_text_is_in_the_pixels_and_flags_vary(files, synth_export):
    b = truth(synth_export, "burned_in")
    assert len(b) and {"YES", "absent"} <= set(b.flag)
    assert set(b.path.map(lambda p: files[p].Modality)) >= {"CT"} or set(b.path.map(lambda p: files[p].Modality))
    for r in b.itertuples():
        ds = files[r.path]
        arr = ds.pixel_array
        ink = 0 if ds.PhotometricInterpretation == "MONOCHROME1" else 4095
        assert (arr[r.y0:r.y1, r.x0:r.x1] == ink).sum() >= 0.1 * (r.y1 - r.y0) * (r.x1 - r.x0)
        assert 10 <= r.y1 - r.y0 <= 30, "text large enough for OCR (cap height of a 16-20 px font)"
        assert ds.get("BurnedInAnnotation", "absent") == r.flag
    lying = [ds for rel, ds in files.items() if ds.get("BurnedInAnnotation") == "NO" and rel in set(b.path)]
    assert lying or "NO" not in set(b.flag)


def test_recist_truth_follows_the_rules(synth_export):
    from radcurate.synthesis import Measure, recist_responses

    rc = truth(synth_export, "recist")
    assert set(rc.response) >= {"BASELINE"} and len(set(rc.response)) >= 3
    les = truth(synth_export, "lesions")
    for pid, g in rc.groupby("patient_id"):
        g = g.sort_values("timepoint")
        base = les[les.accession == g.accession.iloc[0]]
        measurable = base[((base.kind == "lesion") & (base.long_axis_mm >= 10)) |
                          ((base.kind == "lymph_node") & (base.short_axis_mm >= 15))]
        assert g.sum_mm.iloc[0] > 0 and len(measurable)
    labelled = les[les.lesion_label.notna() & les.accession.isin(rc.accession)]
    assert len(labelled), "some reports label their target lesions"
    for acc, g in labelled.groupby("accession"):  # labelled lesions are the RECIST targets
        size = np.where(g.kind == "lymph_node", g.stated_short_mm, g.stated_long_mm)
        written = np.nan_to_num(size.astype(float)).sum()
        assert abs(written - rc.set_index("accession").sum_mm[acc]) <= 0.5 * len(g) + 0.05
    lung = lambda i, l: Measure(i, "lesion", "lung", l, l * 0.8)
    node = lambda i, s: Measure(i, "lymph_node", "lymph node", s * 1.3, s)
    base = [lung("a", 30), lung("b", 20), lung("c", 15), node("n", 20), lung("tiny", 5)]
    r = recist_responses([base, [lung("a", 10), lung("b", 10), lung("c", 15), node("n", 12), lung("tiny", 5)]])
    assert r[0].targets == ("a", "b", "n") and r[0].sum_mm == 70 and r[1].response == "PR"  # 2 per organ
    r = recist_responses([base, [lung("a", 0), lung("b", 0), lung("c", 0), node("n", 8), lung("tiny", 0)]])
    assert r[1].response == "CR"
    r = recist_responses([base, [lung("a", 29), lung("b", 20), lung("c", 15), node("n", 20), lung("new", 6)]])
    assert r[1].response == "PD" and r[1].new_lesions == ("new",)
    r = recist_responses([base, [lung("a", 30), lung("b", 16), node("n", 20)],
                          [lung("a", 40), lung("b", 20), node("n", 20)]])
    assert [x.response for x in r] == ["BASELINE", "SD", "PD"] and r[2].nadir_mm == 66


@pytest.mark.filterwarnings("ignore:End of file reached:UserWarning")
def test_corrupt_inputs_are_what_the_truth_says(synth_export_corrupt):
    root = synth_export_corrupt
    c = truth(root, "corrupt")
    assert set(c.expected_reason) == {"empty_file", "truncated", "not_dicom", "no_pixel_data",
                                      "duplicate_sop_instance", "empty_report", "undecodable_text",
                                      "unmatched_accession"}
    raw = (root / "ris" / "reports.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    rows = {r[0]: r for r in csv.reader(io.StringIO(raw.decode("utf-8", errors="replace")))}
    studies = set(truth(root, "studies").accession)
    sops = {}
    for p in (root / "pacs").rglob("*"):
        if p.is_file() and p.name != "DICOMDIR" and p.stat().st_size > 1000:
            try:
                ds = pydicom.dcmread(p, stop_before_pixels=True)
                sops.setdefault(ds.SOPInstanceUID, []).append(p.relative_to(root / "pacs").as_posix())
            except Exception:
                pass
    for r in c.itertuples():
        path = root / "pacs" / r.source
        if r.expected_reason == "empty_file":
            assert path.stat().st_size == 0
        elif r.expected_reason == "not_dicom":
            with pytest.raises(InvalidDicomError):
                pydicom.dcmread(path)
        elif r.expected_reason == "truncated":
            with pytest.raises(Exception):
                pydicom.dcmread(path).pixel_array
        elif r.expected_reason == "no_pixel_data":
            ds = pydicom.dcmread(path)
            assert "PixelData" not in ds and ds.Modality in ("CT", "DX", "CR")
        elif r.expected_reason == "duplicate_sop_instance":
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            assert len(sops[ds.SOPInstanceUID]) == 2
        elif r.expected_reason == "empty_report":
            assert rows[r.source][4] == "" and r.source in studies
        elif r.expected_reason == "undecodable_text":
            line = [l for l in raw.split(b"\n") if l.startswith(r.source.encode())][0]
            assert r.source in studies
            block = raw[raw.index(line):]
            with pytest.raises(UnicodeDecodeError):
                block[: block.index(b'"\n', len(line)) + 1].decode("utf-8")
        elif r.expected_reason == "unmatched_accession":
            assert r.source in rows and r.source not in studies


@pytest.mark.slow
def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path):
    a = generate_export(tmp_path / "a", patients=2, seed=5, corrupt=3)  # patient 2 comes with a DICOMDIR
    b = generate_export(tmp_path / "b", patients=2, seed=5, corrupt=3)
    c = generate_export(tmp_path / "c", patients=1, seed=6)

    def snapshot(root):
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    sa, sb = snapshot(a), snapshot(b)
    assert any(k.endswith("DICOMDIR") for k in sa)
    assert sa.keys() == sb.keys() and all(sa[k] == sb[k] for k in sa)
    assert snapshot(c)["ris/reports.csv"] != sa["ris/reports.csv"]


def test_command_line_writes_an_export(tmp_path, capsys):
    from radcurate.dags.cli import main

    assert main(["synth-export", "--out", str(tmp_path / "x"), "--patients", "1", "--seed", "3"]) == 0
    assert (tmp_path / "x" / "truth" / "studies.parquet" / "part-00000.parquet").is_file()
    assert "1 patients" in capsys.readouterr().out
    assert main(["synth-export", "--out", str(tmp_path / "y"), "--patients", "0"]) == 2
    (tmp_path / "a_file").write_text("not a folder")
    assert main(["synth-export", "--out", str(tmp_path / "a_file"), "--patients", "1"]) == 2
    assert "cannot write the export" in capsys.readouterr().err


def test_burned_in_patient_text_is_readable_by_ocr(files, synth_export):
    import shutil

    if shutil.which("tesseract") is None:
        pytest.skip("tesseract binary not installed (apt-get install tesseract-ocr)")
    pytesseract = pytest.importorskip("pytesseract", reason="the ocr extra is not installed")
    from PIL import Image

    b = truth(synth_export, "burned_in")
    picks = {}
    for path in b.path:
        picks.setdefault(files[path].Modality == "CT", path)  # one CT slice, one radiograph
    assert len(picks) == 2
    for path in picks.values():
        ds = files[path]
        a = ds.pixel_array.astype(float)
        if ds.PhotometricInterpretation == "MONOCHROME1":
            a = a.max() - a
        img = Image.fromarray(((a - a.min()) / np.ptp(a) * 255).astype(np.uint8))
        read = re.sub(r"[^0-9]", "", pytesseract.image_to_string(img))
        for text in b[b.path == path].text:
            digits = re.sub(r"[^0-9]", "", text)
            assert digits in read, (text, read)


def test_a_relative_output_folder_works_as_the_demo_uses_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = generate_export("demo-out/export", patients=2, seed=2)  # the 2nd patient comes as a CD import
    assert (tmp_path / "demo-out/export/ris/reports.csv").is_file() and out.is_absolute()
    assert any((tmp_path / "demo-out/export/pacs").rglob("DICOMDIR"))
