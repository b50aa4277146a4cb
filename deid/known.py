"""The PHI a file is known to carry (its own header values), used to clean and check free text.

Free-text attributes (descriptions, comments) often repeat the patient's name, MRN, accession or
the institution. Before the walk we collect those values from the header so that the text
scrubber can remove them in any written form, and so that every kept text value can be checked
cheaply (substring test) for a value that must not survive.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field

import pydicom.datadict as dd
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

ID_KEYWORDS = ("PatientID", "OtherPatientIDs", "AccessionNumber", "StudyID", "IssuerOfPatientID",
               "MedicalRecordLocator", "AdmissionID", "PerformedProcedureStepID",
               "RequestedProcedureID", "ScheduledProcedureStepID", "FillerOrderNumberImagingServiceRequest",
               "PlacerOrderNumberImagingServiceRequest", "DeviceSerialNumber", "PlateID", "CassetteID",
               "DetectorID", "GantryID", "GeneratorID")
OTHER_KEYWORDS = ("InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName", "StationName",
                  "PatientAddress", "PatientTelephoneNumbers", "ReferringPhysicianAddress",
                  "ReferringPhysicianTelephoneNumbers", "CountryOfResidence", "RegionOfResidence",
                  "PatientInstitutionResidence", "Occupation", "MilitaryRank", "BranchOfService",
                  "PatientReligiousPreference", "PerformedLocation", "CurrentPatientLocation")
DATE_KEYWORDS = ("PatientBirthDate", "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate",
                 "InstanceCreationDate")
ID_TAGS = tuple(dd.tag_for_keyword(k) for k in ID_KEYWORDS)
OTHER_TAGS = tuple(dd.tag_for_keyword(k) for k in OTHER_KEYWORDS)
DATE_TAGS = tuple(dd.tag_for_keyword(k) for k in DATE_KEYWORDS)
BIRTH_DATE_TAG = dd.tag_for_keyword("PatientBirthDate")
_SPLIT_NAME = re.compile(r"[\^,=\s]+")
_DA = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
# Written shapes of PHI that have no known value to match: e-mail, phone, long digit runs, dates, and
# the words that introduce a person (then the text scrubber looks for the name itself).
PHI_SHAPES = re.compile(
    r"@|\(\d{3}\)\s*\d{3}|\b\d{3}[-. ]\d{3}[-. ]\d{4}\b|\b\d{5,}\b|\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b"
    r"|\b(?:19|20)\d{2}[-/.]\d{1,2}[-/.]\d{1,2}\b|\bDr\.?\s|\b(?:MD|M\.D\.)\b|https?://|www\."
    # words that introduce a person in free text ("Patient Zenobia Quillfeather called", "signed by ...")
    r"|\b(?:patient|pt|signed|dictated|called|phoned|spoke|talked|wife|husband|daughter|son|mother|father"
    r"|sister|brother|spouse|partner|caregiver|guardian|friend|nurse|rn|np|mr|mrs|ms)\b",
    re.IGNORECASE,
)


@dataclass
class FilePHI:
    """Known PHI values of one file: names (DICOM PN form), IDs, dates, other strings."""

    names: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    dates: list[dt.date] = field(default_factory=list)
    other: list[str] = field(default_factory=list)
    birth_dates: list[dt.date] = field(default_factory=list)
    _needles: tuple[str, ...] | None = None

    def add_name(self, value: str) -> None:
        value = str(value).strip()
        if value and value not in self.names:
            self.names.append(value)
            self._needles = None

    def needles(self) -> tuple[str, ...]:
        """Lower-case substrings whose presence in a kept value means PHI got through."""
        if self._needles is None:
            self._needles = _needles(tuple(self.names), tuple(self.ids), tuple(self.dates), tuple(self.other))
        return self._needles

    def leaks(self, text: str) -> bool:
        low = text.lower()
        return any(n in low for n in self.needles())

    def to_known(self):
        """As the report scrubber's :class:`KnownPHI`."""
        from .text_scrub import KnownPHI

        return KnownPHI(names=list(self.names), ids=list(self.ids), dates=list(self.dates),
                        other=list(self.other), birth_dates=list(self.birth_dates))


@functools.lru_cache(maxsize=1024)
def _needles(names: tuple, ids: tuple, dates: tuple, other: tuple) -> tuple[str, ...]:
    """Needles of one inventory; cached, since every file of a patient carries the same one."""
    out: set[str] = set()
    for n in names:
        out.update(p.lower() for p in _SPLIT_NAME.split(n) if len(p) >= 3)
    out.update(i.lower() for i in ids if len(i) >= 3)
    out.update(o.lower() for o in other if len(o) >= 4)
    for d in dates:
        out.update({d.strftime("%Y%m%d"), d.isoformat(), f"{d.month}/{d.day}/{d.year}", d.strftime("%m/%d/%Y")})
    return tuple(sorted(out))


def _strings(ds: Dataset, tag: int) -> list[str]:
    """The values of a text element, read from its raw bytes when it is still unconverted.

    Decoding raw bytes (UTF-8, else Latin-1) skips pydicom's conversion for values that the walk
    will remove anyway; PN values go through pydicom so that character sets are honoured."""
    try:
        raw = ds.get_item(tag)
    except Exception:
        return []
    if raw is None:
        return []
    if getattr(raw, "is_raw", False) or not isinstance(raw, DataElement):
        data = raw.value
        if not data or not isinstance(data, bytes):
            return []
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        vals = text.split("\\")
    else:
        if raw.value is None or raw.VR == "SQ":
            return []
        vals = raw.value if raw.VM > 1 else [raw.value]
    out = []
    for v in vals:
        if isinstance(v, bytes):
            continue
        s = str(v).strip(" \x00")
        if s:
            out.append(s)
    return out


def _pn_strings(ds: Dataset, tag: int) -> list[str]:
    try:
        elem = ds[tag]
    except Exception:
        return []
    if elem.value is None:
        return []
    vals = elem.value if elem.VM > 1 else [elem.value]
    return [str(v).strip() for v in vals if str(v).strip()]


# Every public tag whose dictionary VR is PN (names at the top level of a file).
PN_TAGS = frozenset(tag for tag, entry in dd.DicomDictionary.items() if entry[0] == "PN")


def collect_known(ds: Dataset) -> FilePHI:
    """Known PHI from the top level of ``ds`` (sequences add their names during the walk)."""
    phi = FilePHI()
    for tag in sorted(PN_TAGS.intersection(ds.keys())):
        for s in _pn_strings(ds, tag):
            phi.add_name(s)
    for tag in ID_TAGS:
        if tag in ds:
            phi.ids.extend(s for s in _strings(ds, tag) if s not in phi.ids)
    for tag in OTHER_TAGS:
        if tag in ds:
            phi.other.extend(s for s in _strings(ds, tag) if s not in phi.other)
    for tag in DATE_TAGS:
        if tag not in ds:
            continue
        for s in _strings(ds, tag):
            m = _DA.match(s)
            if m:
                try:
                    d = dt.date(int(m[1]), int(m[2]), int(m[3]))
                except ValueError:
                    continue
                if d not in phi.dates:
                    phi.dates.append(d)
                if tag == BIRTH_DATE_TAG and d not in phi.birth_dates:
                    phi.birth_dates.append(d)
    return phi
