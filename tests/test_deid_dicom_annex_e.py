"""The Annex E table is data from the standard (via dicom-anonymizer), with its edition recorded."""

import csv

from radcurate.deid.annex_e import DATA_DIR, EDITION, load_annex_e
from radcurate.deid.config import DeidConfig
from radcurate.deid.profile import Step, decide
import pydicom.datadict as dd


def tag(keyword):
    return dd.tag_for_keyword(keyword)


def test_table_file_records_its_edition_and_all_655_rules():
    path = DATA_DIR / f"annex_e_{EDITION}.csv"
    rows = list(csv.DictReader(path.open()))
    assert EDITION == "2026c"
    assert {r["edition"] for r in rows} == {EDITION}
    assert len(rows) == 655
    assert len(load_annex_e()) == 655


def test_known_basic_profile_actions():
    t = load_annex_e()
    assert t.action(tag("PatientName")) == "Z"
    assert t.action(tag("PatientID")) == "Z/D"
    assert t.action(tag("StudyInstanceUID")) == "U"
    assert t.action(tag("SOPInstanceUID")) == "U"
    assert t.action(tag("PatientSex")) == "Z"  # K only under Retain Patient Characteristics
    assert t.action(tag("PatientBirthDate")) == "Z"
    assert t.action(tag("InstitutionName")) == "X/Z/D"
    assert t.action(tag("ReferencedImageSequence")) == "X/Z/U*"
    assert t.action(tag("StudyDescription")) == "X"
    assert t.action(0x50000000 | 0x3000) == "X"  # curve data (50xx,xxxx)
    assert t.action(0x60020000 | 0x3000) == "X"  # overlay data in any 60xx group
    assert t.action(tag("Rows")) is None  # not listed: image geometry is kept


def test_options_override_the_basic_profile_consistently():
    on, off = DeidConfig(), DeidConfig(retain_patient_characteristics=False, retain_dates=False,
                                       clean_descriptors=False)
    assert decide(tag("PatientSex"), "CS", on)[0] is Step.KEEP
    assert decide(tag("PatientSex"), "CS", off)[0] is Step.EMPTY
    assert decide(tag("PatientWeight"), "DS", on)[0] is Step.KEEP
    assert decide(tag("PatientWeight"), "DS", off)[0] is Step.REMOVE
    assert decide(tag("PatientAge"), "AS", on)[0] is Step.AGE
    assert decide(tag("StudyDate"), "DA", on)[0] is Step.SHIFT
    assert decide(tag("StudyDate"), "DA", off)[0] is Step.EMPTY
    assert decide(tag("PatientBirthDate"), "DA", on)[0] is Step.EMPTY  # never shifted: stays Z
    assert decide(tag("SeriesDescription"), "LO", on)[0] is Step.CLEAN
    assert decide(tag("SeriesDescription"), "LO", off)[0] is Step.REMOVE
    # combined actions resolve to the strongest one: X/Z/D -> removed
    assert decide(tag("InstitutionName"), "LO", on)[0] is Step.REMOVE
    assert decide(tag("ReferencedImageSequence"), "SQ", on)[0] is Step.RECURSE
    assert decide(0x00091010, "LO", on) == (Step.REMOVE, "private")
    assert decide(0x60000010, "US", on) == (Step.REMOVE, "overlay")
    assert decide(0x00081234, "UN", on)[0] is Step.REMOVE
