"""A hospital CT slice full of PHI (top level, nested sequences, private tags, overlays, meta)
comes out of deid with no PHI value in its bytes, valid, linked and with intervals kept."""

import datetime as dt

import numpy as np
import pandas as pd
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

from radcurate.deid import DeidConfig, Keyer, deidentify_file
from radcurate.deid.dicom import IMPLEMENTATION_CLASS_UID

PHI = {
    "name": "GARCIA^MARIA^L", "mrn": "7712345", "other_id": "X55512121", "accession": "ACC99887766",
    "birth": "19450702", "referrer": "WHITE^KAREN", "operator": "NGUYEN^THOMAS",
    "institution": "Lakeside University Hospital", "station": "CTSCAN-LAKE-3", "serial": "SN-4477-ZZ",
    "address": "4412 Cedar Lane, Madison, WI 53703", "phone": "(608) 555-0142",
    "study_uid": "1.2.826.0.1.3680043.8.498.11111", "series_uid": "1.2.826.0.1.3680043.8.498.22222",
    "study_time": "143022",
}


def make_ct(sop_uid="1.2.826.0.1.3680043.8.498.33333", study_date="20210314", *, patient_id=None,
            accession=None, study_uid=None, age="096Y", referenced=None, pixels=None) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.file_meta.ImplementationClassUID = "1.2.3.4.5.6.7"
    ds.file_meta.SourceApplicationEntityTitle = "LAKESIDE_PACS"
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = study_uid or PHI["study_uid"]
    ds.SeriesInstanceUID = PHI["series_uid"]
    ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.44444"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = study_date
    ds.StudyTime = PHI["study_time"]
    ds.AcquisitionDateTime = study_date + PHI["study_time"]
    ds.AccessionNumber = accession or PHI["accession"]
    ds.Modality = "CT"
    ds.Manufacturer = "SIEMENS"
    ds.InstitutionName = PHI["institution"]
    ds.InstitutionAddress = PHI["address"]
    ds.StationName = PHI["station"]
    ds.DeviceSerialNumber = PHI["serial"]
    ds.ReferringPhysicianName = PHI["referrer"]
    ds.OperatorsName = PHI["operator"]
    ds.StudyDescription = f"CT CHEST W CONTRAST for {PHI['name'].split('^')[0]}"
    ds.SeriesDescription = "AXIAL 5MM LUNG"
    ds.ImageComments = f"MRN {PHI['mrn']} called {PHI['phone']}"
    ds.PatientName = PHI["name"]
    ds.PatientID = patient_id or PHI["mrn"]
    ds.OtherPatientIDs = PHI["other_id"]
    ds.PatientBirthDate = PHI["birth"]
    ds.PatientSex = "F"
    ds.PatientAge = age
    ds.PatientWeight = "61.5"
    ds.PatientAddress = PHI["address"]
    ds.BodyPartExamined = "CHEST"
    ds.SeriesNumber = 3
    ds.InstanceNumber = 1
    ds.ImagePositionPatient = [-200.0, -200.0, -12.5]
    ds.PixelSpacing = [0.78, 0.78]
    # nested: a referenced image with its own UIDs and a person deep inside
    ref = Dataset()
    ref.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ref.ReferencedSOPInstanceUID = referenced or "1.2.826.0.1.3680043.8.498.55555"
    ds.ReferencedImageSequence = Sequence([ref])
    person = Dataset()
    person.PersonName = PHI["operator"]
    inner = Dataset()
    inner.ObservationDateTime = study_date + "101500"
    inner.PersonIdentificationCodeSequence = Sequence([person])
    ds.AcquisitionContextSequence = Sequence([inner])
    content = Dataset()
    content.ValueType = "DATETIME"
    content.DateTime = study_date + PHI["study_time"]
    content.Date = study_date
    content.Time = PHI["study_time"]
    ds.ContentSequence = Sequence([content])
    code = Dataset()
    code.CodeValue = "T-D3000"
    code.CodingSchemeDesignator = "SRT"
    code.CodeMeaning = "Chest"
    ds.AnatomicRegionSequence = Sequence([code])
    # private block with a name and a nested private sequence
    block = ds.private_block(0x0029, "ACME 1.1", create=True)
    block.add_new(0x10, "LO", PHI["name"])
    pitem = Dataset()
    pitem.add_new(0x00100010, "PN", PHI["name"])
    block.add_new(0x11, "SQ", Sequence([pitem]))
    # a public tag no dictionary knows, as UN, holding a name
    ds.add_new(0x00089999, "UN", PHI["name"].encode())
    # overlay and curve
    ds.add_new(0x60000010, "US", 16)
    ds.add_new(0x60000011, "US", 16)
    ds.add_new(0x60003000, "OW", b"\xff" * 32)
    ds.add_new(0x60004000, "LT", "overlay by " + PHI["operator"])
    ds.add_new(0x50000022, "LO", "curve of " + PHI["name"])
    ds.Rows = ds.Columns = 64
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    arr = pixels if pixels is not None else (np.arange(64 * 64, dtype=np.int16).reshape(64, 64) % 200 - 1000)
    ds.PixelData = arr.astype(np.int16).tobytes()
    return ds


def phi_encodings():
    vals = set(PHI.values()) | {PHI["name"].replace("^", " "), "GARCIA", "NGUYEN^THOMAS", "WHITE^KAREN"}
    return {v.encode() for v in vals}


@pytest.fixture()
def keyer():
    return Keyer(b"k" * 64)


def run(ds, tmp_path, keyer, config=DeidConfig(), name="in.dcm"):
    src = tmp_path / name
    ds.save_as(src, enforce_file_format=True)
    res = deidentify_file(str(src), name, str(tmp_path / "out"), keyer, config)
    assert "instance" in res, res
    out = tmp_path / "out" / res["instance"]["path"]
    return res, out


def test_no_planted_value_survives_anywhere_in_the_file(tmp_path, keyer):
    res, out = run(make_ct(), tmp_path, keyer)
    data = out.read_bytes()
    for value in phi_encodings():
        assert value not in data, f"planted value of length {len(value)} survived"
    assert b"LAKESIDE_PACS" not in data and b"ACME" not in data


def test_output_is_valid_dicom_that_says_how_it_was_deidentified(tmp_path, keyer):
    res, out = run(make_ct(), tmp_path, keyer)
    ds = pydicom.dcmread(out)
    assert ds.PatientIdentityRemoved == "YES"
    codes = [c.CodeValue for c in ds.DeidentificationMethodCodeSequence]
    assert codes == ["113100", "113107", "113108", "113105", "113101"]
    assert {c.CodingSchemeDesignator for c in ds.DeidentificationMethodCodeSequence} == {"DCM"}
    assert ds.PatientName == ds.PatientID == keyer.patient_key(PHI["mrn"])
    assert ds.AccessionNumber == keyer.pseudonym("accession", PHI["accession"], 14)
    assert len(ds.AccessionNumber) <= 16  # fits SH
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID == keyer.uid("1.2.826.0.1.3680043.8.498.33333")
    assert ds.file_meta.ImplementationClassUID == IMPLEMENTATION_CLASS_UID
    assert "SourceApplicationEntityTitle" not in ds.file_meta
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.2"  # well-known UID kept
    assert not any(e.tag.is_private for e in ds.iterall())
    assert not any(0x5000 <= e.tag.group <= 0x60FF and e.tag.group >> 8 in (0x50, 0x60) for e in ds.iterall())
    # characteristics kept, age capped, clinical descriptors kept in meaning
    assert (ds.PatientSex, ds.PatientAge, float(ds.PatientWeight)) == ("F", "090Y", 61.5)
    assert ds.SeriesDescription == "AXIAL 5MM LUNG"
    assert ds.StudyDescription.startswith("CT CHEST W CONTRAST")
    assert ds.AnatomicRegionSequence[0].CodeMeaning == "Chest"
    assert ds.Manufacturer == "SIEMENS"
    # pixel data untouched (no text in it)
    assert ds.PixelData == make_ct().PixelData


def test_uids_map_consistently_and_references_still_resolve(tmp_path, keyer):
    a = make_ct("1.2.826.0.1.3680043.8.498.1", referenced="1.2.826.0.1.3680043.8.498.2")
    b = make_ct("1.2.826.0.1.3680043.8.498.2", referenced="1.2.826.0.1.3680043.8.498.1")
    _, out_a = run(a, tmp_path, keyer, name="a.dcm")
    _, out_b = run(b, tmp_path, keyer, name="b.dcm")
    da, db = pydicom.dcmread(out_a), pydicom.dcmread(out_b)
    assert da.ReferencedImageSequence[0].ReferencedSOPInstanceUID == db.SOPInstanceUID
    assert db.ReferencedImageSequence[0].ReferencedSOPInstanceUID == da.SOPInstanceUID
    assert da.StudyInstanceUID == db.StudyInstanceUID != PHI["study_uid"]
    assert da.FrameOfReferenceUID == db.FrameOfReferenceUID
    assert da.StudyInstanceUID.startswith("2.25.") and len(da.StudyInstanceUID) <= 64
    # same secret, new process-like instance: same answers
    assert Keyer(b"k" * 64).uid(PHI["study_uid"]) == da.StudyInstanceUID


def test_dates_shift_per_patient_so_intervals_survive(tmp_path, keyer):
    _, o1 = run(make_ct("1.2.826.0.1.3680043.8.498.7", "20210314", study_uid="1.2.3.1", accession="A1"),
                tmp_path, keyer, name="1.dcm")
    _, o2 = run(make_ct("1.2.826.0.1.3680043.8.498.8", "20210612", study_uid="1.2.3.2", accession="A2"),
                tmp_path, keyer, name="2.dcm")
    d1, d2 = pydicom.dcmread(o1), pydicom.dcmread(o2)
    day = lambda s: dt.datetime.strptime(s, "%Y%m%d").date()
    assert (day(d2.StudyDate) - day(d1.StudyDate)).days == 90
    shift = keyer.date_shift_days(PHI["mrn"])
    assert day(d1.StudyDate) == dt.date(2021, 3, 14) + dt.timedelta(days=shift)
    # DT = shifted DA + shifted TM, inside sequences too
    assert d1.AcquisitionDateTime == d1.StudyDate + d1.StudyTime
    assert "AcquisitionContextSequence" not in d1  # X/Z: removed with the person inside
    item = d1.ContentSequence[0]
    assert (item.Date, item.Time, item.DateTime) == (d1.StudyDate, d1.StudyTime, d1.AcquisitionDateTime)
    assert d1.StudyTime != PHI["study_time"] and len(d1.StudyTime) == 6
    assert d1.PatientBirthDate == ""


def test_audit_lists_every_attribute_action_but_never_a_value(tmp_path, keyer):
    res, _ = run(make_ct(), tmp_path, keyer)
    audit = pd.DataFrame(res["audit"])
    by_kw = dict(zip(audit.path, audit.action))
    assert by_kw["PatientName"] == "replaced_patient_key"
    assert by_kw["InstitutionName"] == "removed"
    assert by_kw["StudyDate"] == "shifted"
    assert by_kw["PatientBirthDate"] == "emptied"
    assert by_kw["SeriesDescription"] == "cleaned"
    assert by_kw["ReferencedImageSequence[0].ReferencedSOPInstanceUID"] == "replaced_uid"
    assert by_kw["Rows"] == "kept"
    assert set(audit.loc[audit.tag.str.startswith("(0029"), "action"]) == {"removed"}
    assert by_kw["(0008,9999)"] == "removed"  # unknown UN content is never known-safe
    text = audit.to_csv()
    for value in PHI.values():
        assert value not in text


def test_without_options_the_basic_profile_removes_characteristics_and_dates(tmp_path, keyer):
    cfg = DeidConfig(retain_dates=False, retain_patient_characteristics=False, clean_descriptors=False)
    _, out = run(make_ct(), tmp_path, keyer, cfg)
    ds = pydicom.dcmread(out)
    assert ds.StudyDate == "" and "SeriesDate" not in ds
    assert "PatientWeight" not in ds and ds.PatientSex == "" and "PatientAge" not in ds
    assert "SeriesDescription" not in ds
    assert [c.CodeValue for c in ds.DeidentificationMethodCodeSequence] == ["113100", "113101"]
