"""Ingest over real-world DICOM files (pydicom's own test data, some broken on purpose) and over
small hand-made RIS extracts: every file and every report row ends up somewhere, exactly once."""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import pandas as pd
import pydicom
import pydicom.data
import pytest
from radcurate.dags.runner import run_pipeline
from radcurate.ingest import IngestConfig, list_files, run_ingest
from radcurate.ingest import cli as ingest_cli

from radcurate.tables import read_table

PYDICOM_DATA = Path(pydicom.data.__file__).parent


def radcurate(argv: list[str]) -> int:
    """``radcurate ingest ...`` as the console script parses it (without importing every stage)."""
    parser = argparse.ArgumentParser(prog="radcurate")
    ingest_cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def files_on_disk(root: Path) -> set[str]:
    return {Path(d, f).relative_to(root).as_posix() for d, _, fs in os.walk(root) for f in fs}


@pytest.fixture(scope="module")
def pydicom_tree(tmp_path_factory) -> Path:
    """pydicom's test_files and charset_files, copied as a PACS export folder."""
    root = tmp_path_factory.mktemp("pydicom") / "export"
    for sub in ("test_files", "charset_files"):
        shutil.copytree(PYDICOM_DATA / sub, root / sub)
    return root


@pytest.fixture(scope="module")
def pydicom_ingest(pydicom_tree, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    summary = run_ingest(pydicom_tree, None, out)
    instances = read_table(out / "phi/instances.parquet")
    quarantine = read_table(out / "quarantine.parquet")
    return summary, instances, quarantine, out


def test_every_file_of_pydicom_test_data_is_an_instance_or_quarantined_once(pydicom_tree, pydicom_ingest):
    summary, instances, quarantine, out = pydicom_ingest
    disk = files_on_disk(pydicom_tree)
    assert len(disk) > 150
    annotations = read_table(out / "phi/annotations.parquet")  # the corpus' SR documents
    assert set(annotations["kind"]) == {"SR"} and summary.annotations == len(annotations) > 0
    accounted = list(instances["relpath"]) + list(annotations["relpath"]) + list(quarantine["source"])
    assert sorted(accounted) == sorted(disk)  # each file exactly once
    assert summary.files_found == len(disk) == summary.instances + summary.annotations + summary.files_quarantined
    assert set(quarantine["stage"]) == {"ingest"}
    assert quarantine["detail"].notna().all()


def test_broken_files_are_quarantined_with_the_reason_a_user_needs(pydicom_ingest):
    _, instances, quarantine, _ = pydicom_ingest
    reason = dict(zip(quarantine["source"], quarantine["reason"]))
    assert reason["test_files/MR_truncated.dcm"] == "truncated"  # pixel data shorter than declared
    assert reason["test_files/rtplan_truncated.dcm"] == "truncated"  # header cut short
    assert reason["test_files/no_meta.dcm"] == "not_dicom"  # shifted by one byte
    assert reason["test_files/README.txt"] == "not_dicom"
    assert reason["test_files/zipMR.gz"] == "not_dicom"
    assert reason["test_files/dicomdirtests/DICOMDIR"] == "dicomdir"
    # CT images without Pixel Data (the TINY_ALPHA CD) are not usable images
    assert (
        reason["test_files/dicomdirtests/TINY_ALPHA/PT000000/ST000000/SE000000/IM000000"] == "no_pixel_data"
    )
    # files written without preamble or file meta are still read (force=True)
    kept = instances.set_index("relpath")
    for name in ("test_files/ExplVR_BigEndNoMeta.dcm", "test_files/rtstruct.dcm"):
        assert not kept.loc[name, "has_file_meta"]
    assert reason["test_files/ExplVR_LitEndNoMeta.dcm"] == "duplicate_sop_instance"


def test_same_image_in_other_encodings_is_kept_once_first_by_path(pydicom_ingest):
    _, instances, quarantine, out = pydicom_ingest
    assert instances["sop_instance_uid"].is_unique
    dups = quarantine[quarantine["reason"] == "duplicate_sop_instance"]
    assert len(dups) > 20
    kept = pd.concat([instances, read_table(out / "phi/annotations.parquet")])  # SR copies too
    by_uid = dict(zip(kept["sop_instance_uid"], kept["relpath"]))
    for source in dups["source"]:
        uid = pydicom.dcmread(PYDICOM_DATA / source, stop_before_pixels=True, force=True).SOPInstanceUID
        kept = by_uid[uid]
        detail = dups.loc[dups["source"] == source, "detail"].item()
        assert kept < source and "earlier in path order" in detail
        assert kept not in detail  # never another file's path: paths can name patients


def test_manifest_rows_carry_header_fields_without_reading_pixels(pydicom_ingest):
    _, instances, _, out = pydicom_ingest
    ct = instances.set_index("relpath").loc["test_files/CT_small.dcm"]
    assert ct["modality"] == "CT" and ct["rows"] == 128 and ct["columns"] == 128
    assert list(ct["pixel_spacing"]) == pytest.approx([0.661468, 0.661468])
    assert ct["has_pixel_data"] and ct["pixel_data_length"] == 128 * 128 * 2
    assert ct["size"] == (PYDICOM_DATA / "test_files/CT_small.dcm").stat().st_size
    assert str(ct["study_date"]) == "2004-01-19"
    names = dict(zip(instances["relpath"], instances["patient_name"]))
    assert names["charset_files/chrGerm.dcm"] == "Äneas^Rüdiger"  # decoded per Specific Character Set
    assert names["charset_files/chrH31.dcm"].startswith("Yamada^Tarou=山田^太郎")
    # files a DICOMDIR indexes are marked; the others are still ingested
    assert instances["in_dicomdir"].any() and not instances["in_dicomdir"].all()
    series = read_table(out / "phi/series.parquet")
    studies = read_table(out / "phi/studies.parquet")
    assert series["n_instances"].sum() == len(instances) == studies["n_instances"].sum()
    assert set(series["study_uid"]) == set(studies["study_uid"])


def test_cli_ingest_reports_counts_and_exit_code(pydicom_tree, tmp_path, capsys):
    assert radcurate(["ingest", "--dicom", str(pydicom_tree), "--out", str(tmp_path), "--workers", "0"]) == 0
    printed = capsys.readouterr().out
    assert f"{len(files_on_disk(pydicom_tree))} files" in printed and "truncated" in printed
    assert radcurate(["ingest", "--dicom", str(tmp_path / "nope"), "--out", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err


# --- report extracts ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_studies(tmp_path_factory) -> Path:
    """Two studies with known accessions, one file per study, in a nested tree."""
    root = tmp_path_factory.mktemp("two") / "pacs"
    for i, (name, accession) in enumerate([("CT_small.dcm", "ACC001"), ("MR_small.dcm", "ACC002")]):
        ds = pydicom.dcmread(PYDICOM_DATA / "test_files" / name)
        ds.AccessionNumber = accession
        ds.PatientID = f"PID{i}"
        ds.StudyInstanceUID = f"1.2.3.{i}"
        folder = root / f"patient{i}" / "study"
        folder.mkdir(parents=True)
        ds.save_as(folder / "IM0001")  # no extension, as PACS exports often are
    return root


def write_csv(path: Path, rows: list[bytes]) -> Path:
    header = b"accession,patient_id,patient_name,exam_date,report_text\n"
    path.write_bytes(header + b"".join(rows))
    return path


def test_report_rows_link_by_accession_and_each_bad_row_is_quarantined_alone(two_studies, tmp_path):
    extract = write_csv(
        tmp_path / "reports.csv",
        [
            b'ACC001,PID0,"Doe^Jane",2004-01-19,"FINDINGS: No pneumothorax.\nIMPRESSION: Normal."\n',
            b'ACC002,PID1,"M\xfcller^Hans",2004-01-20,"Bad \xff\xfe bytes"\n',  # Latin-1 in a UTF-8 file
            b'ACC002,PID1,"Roe^Rick",2004-01-20,"FINDINGS: 2.3 x 1.8 cm nodule, r\xc3\xa9sum\xc3\xa9."\n',
            b'ACC001,PID0,Doe^Jane,2004-01-19,"   "\n',
            b"ACC999,PID9,Nobody,2004-01-21,Report for a study we never received.\n",
            b"ACC001,PID0,only three fields\n",
        ],
    )
    out = tmp_path / "out"
    summary = run_ingest(two_studies, extract, out)
    reports = read_table(out / "phi/reports.parquet")
    quarantine = read_table(out / "quarantine.parquet")
    assert summary.reports_in == 6 == len(reports) + summary.reports_quarantined
    assert list(reports["accession"]) == ["ACC001", "ACC002"]
    assert list(reports["study_uid"]) == ["1.2.3.0", "1.2.3.1"]
    assert reports["report_text"][1].endswith("résumé.")  # the row after the bad one survived
    assert "\n" in reports["report_text"][0]  # quoted multi-line text kept whole
    assert reports["patient_id_matches"].all()
    assert str(reports["exam_date"][0]) == "2004-01-19"
    reasons = sorted(zip(quarantine["reason"], quarantine["source"]))
    assert reasons == [
        ("empty_report", "ACC001"),
        ("malformed_row", "reports.csv:row 6"),
        ("undecodable_text", "ACC002"),
        ("unmatched_accession", "ACC999"),
    ]
    assert "Müller" not in " ".join(quarantine["detail"])  # no PHI in details


def test_extract_without_a_required_column_is_refused_naming_the_columns(two_studies, tmp_path, capsys):
    extract = tmp_path / "ris.csv"
    extract.write_text("acc,text\nACC001,hello\nACC002,world\n")
    code = radcurate(["ingest", "--dicom", str(two_studies), "--reports", str(extract),
                      "--out", str(tmp_path / "out"), "--workers", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "ris.csv" in err and "accession, report_text" in err and "found: acc, text" in err
    # ... and mapping the extract's own column names fixes it
    config = IngestConfig(report_columns={"accession": "acc", "report_text": "text"})
    summary = run_ingest(two_studies, extract, tmp_path / "out2", config=config)
    assert summary.reports == 2 and summary.reports_quarantined == 0


def test_parquet_extract_is_read_like_the_csv(two_studies, tmp_path):
    import pandas as pd

    extract = tmp_path / "reports.parquet"
    pd.DataFrame(
        {
            "accession": ["ACC001", "ACC002"],
            "patient_id": ["PID0", "PIDX"],
            "patient_name": ["A^B", "C^D"],
            "exam_date": ["2004-01-19", "2004-01-20"],
            "report_text": ["FINDINGS: normal.", ""],
        }
    ).to_parquet(extract)
    summary = run_ingest(two_studies, extract, tmp_path / "out")
    reports = read_table(tmp_path / "out/phi/reports.parquet")
    assert summary.reports == 1 and list(reports["accession"]) == ["ACC001"]
    assert summary.quarantine_by_reason["empty_report"] == 1


def test_empty_files_and_rerun_are_idempotent(two_studies, tmp_path):
    tree = tmp_path / "pacs"
    shutil.copytree(two_studies, tree)
    (tree / "empty.dcm").write_bytes(b"")
    (tree / "notes.txt").write_text("call the radiologist")
    out = tmp_path / "out"
    first = run_ingest(tree, None, out)
    again = run_ingest(tree, None, out)
    quarantine = read_table(out / "quarantine.parquet")
    assert {**first.to_dict(), "seconds": 0} == {**again.to_dict(), "seconds": 0}
    assert sorted(quarantine["reason"]) == ["empty_file", "not_dicom"]  # not doubled by the rerun
    assert len(list_files(tree)) == first.instances + first.files_quarantined == 4


def test_large_files_are_memory_mapped_and_read_the_same(pydicom_tree, monkeypatch):
    from radcurate.ingest import headers

    names = [
        "test_files/CT_small.dcm",
        "test_files/MR_truncated.dcm",
        "test_files/JPEG2000.dcm",
        "test_files/rtstruct.dcm",
        "test_files/README.txt",
        "test_files/image_dfl.dcm",
    ]
    read = [headers.read_file(str(pydicom_tree / n), n) for n in names]
    monkeypatch.setattr(headers, "MAP_ABOVE", 0)  # treat every file as large
    mapped = [headers.read_file(str(pydicom_tree / n), n) for n in names]
    assert mapped == read
    assert [r.get("reason") for r in read] == [None, "truncated", None, None, "not_dicom", None]


def test_odd_file_names_and_unreadable_files_do_not_stop_the_run(two_studies, tmp_path):
    tree = tmp_path / "pacs"
    shutil.copytree(two_studies, tree)
    os.symlink(tree / "gone", tree / "dangling_link")
    (tree / "patient0").joinpath(os.fsdecode(b"caf\xe9.dcm")).write_bytes(b"not dicom")
    report = run_pipeline({"dicom": tree}, tmp_path / "out", workers=0, log=lambda line: None)
    assert report.ok, [o.message for o in report.outcomes]  # the suite's own count of files on disk reconciles too
    summary = report.outcomes[0].result
    quarantine = read_table(tmp_path / "out/quarantine.parquet")
    assert summary["instances"] == 2 and summary["files_quarantined"] == 2
    assert sorted(quarantine["reason"]) == ["bad_file_name", "unreadable"]


@pytest.mark.parametrize(
    "name", ["CT_small.dcm", "MR_small_RLE.dcm", "JPEG2000.dcm", "MR_small_bigendian.dcm"]
)
def test_a_file_cut_anywhere_in_its_pixel_data_is_truncated(name, tmp_path):
    from radcurate.ingest import headers

    data = (PYDICOM_DATA / "test_files" / name).read_bytes()
    whole = headers.read_file(str(PYDICOM_DATA / "test_files" / name), name)
    assert whole.get("reason") is None and whole["has_pixel_data"]
    start = whole["pixel_data_offset"]
    for fraction in (0.01, 0.3, 0.6, 0.9):  # (a cut in trailing padding leaves the image whole)
        cut = tmp_path / "cut.dcm"
        cut.write_bytes(data[: start + 4 + int((len(data) - start - 4) * fraction)])
        assert headers.read_file(str(cut), "cut.dcm")["reason"] == "truncated", fraction
