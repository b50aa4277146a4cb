"""De-identify one DICOM dataset: every element at every depth, the file meta group, the method.

:class:`DicomDeidentifier` is built once per worker process (rule decisions and UID mappings are
cached there) and applied to many datasets. It walks the dataset itself (recursion over
sequences, in the spirit of ``Dataset.walk``, but able to delete while walking and to record a
path per element), applies the step :func:`radcurate.deid.profile.decide` chose, and returns an
audit of what it did: tag, keyword, path and action, never a value.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

import pydicom.datadict as dd
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import UID_dictionary

from .config import DeidConfig
from .dates import Shift, shift_value
from .keys import Keyer
from .known import PHI_SHAPES, FilePHI, collect_known
from .profile import Step, decide

# Our implementation's identity in the file meta group: fixed, not secret-derived.
IMPLEMENTATION_CLASS_UID = "2.25.208452616133520651212327950163516466530"
IMPLEMENTATION_VERSION_NAME = "RADCURATE_DEID1"
PROFILE_CODES = (  # CID 7050 De-identification Method
    ("113100", "Basic Application Confidentiality Profile", None),
    ("113107", "Retain Longitudinal Temporal Information Modified Dates Option", "retain_dates"),
    ("113108", "Retain Patient Characteristics Option", "retain_patient_characteristics"),
    ("113105", "Clean Descriptors Option", "clean_descriptors"),
    ("113101", "Clean Pixel Data Option", "clean_pixels"),
)
DUMMY = {"AE": "DEID", "AS": "000Y", "CS": "DEIDENTIFIED", "DA": "19000101", "DT": "19000101000000",
         "LO": "DEIDENTIFIED", "LT": "DEIDENTIFIED", "PN": "DEIDENTIFIED", "SH": "DEIDENTIFIED",
         "ST": "DEIDENTIFIED", "TM": "000000", "UC": "DEIDENTIFIED", "UT": "DEIDENTIFIED",
         "UR": "DEIDENTIFIED", "DS": "0", "IS": "0"}
MAX_LENGTH = {"SH": 16, "LO": 64, "ST": 1024, "LT": 10240, "PN": 64}  # cleaned text still fits its VR
NUMERIC_VRS = frozenset({"US", "SS", "UL", "SL", "FL", "FD", "UV", "SV", "AT"})
STRING_VRS = frozenset(DUMMY)
_AGE = re.compile(r"^(\d{1,3})([DWMY])$")
_AGE_DAYS = {"D": 1, "W": 7, "M": 30.4375, "Y": 365.25}


def accession_key(keyer: Keyer, accession: str) -> str:
    """The accession pseudonym, used both in the DICOM header and in ``curated/studies``."""
    return keyer.accession_key(accession)


class FileRejected(Exception):
    """A file this stage cannot de-identify; ``reason`` is the quarantine reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass
class Identity:
    """Who and what a dataset is, in original (PHI) and pseudonymised form."""

    patient_ref: str  # PatientID, or a fallback reference: never written out
    patient_key: str
    study_key: str
    series_key: str
    instance_key: str
    accession_key: str | None
    shift: Shift
    originals: dict[str, str] = field(default_factory=dict)  # for the optional crosswalk only


@dataclass
class DatasetResult:
    identity: Identity
    audit: list[tuple[str, str, str, str, str, str]]  # path, tag, keyword, vr, action, rule
    known: FilePHI


@functools.lru_cache(maxsize=8192)
def _vr(tag: int, raw_vr: str | None) -> str:
    """The VR to decide on: as read, else (implicit VR, or UN for a public tag) the dictionary's."""
    if raw_vr and raw_vr != "UN":
        return raw_vr.split(" or ")[0]
    if dd.dictionary_has_tag(tag) and not (tag >> 16) & 1:
        return dd.dictionary_VR(tag).split(" or ")[0]
    return "UN"


@functools.lru_cache(maxsize=8192)
def _names(tag: int) -> tuple[str, str]:
    """(keyword or "", "(gggg,eeee)") of a tag, cached per process."""
    group = tag >> 16
    keyword = "" if group & 1 else dd.keyword_for_tag(tag)
    return keyword, f"({group:04X},{tag & 0xFFFF:04X})"


def _text(ds: Dataset, keyword: str) -> str:
    try:
        v = ds.get(keyword)
    except Exception:
        return ""
    if v is None:
        return ""
    if isinstance(v, (list, MultiValue)):
        v = v[0] if len(v) else ""
    return str(v).strip()


def cap_age(value: str, max_years: int) -> str | None:
    """Patient's Age (AS) kept, capped: anything over ``max_years`` years becomes ``090Y``."""
    m = _AGE.match(value.strip().upper())
    if not m:
        return None
    n, unit = int(m[1]), m[2]
    if n * _AGE_DAYS[unit] / 365.25 > max_years:
        return f"{max_years + 1:03d}Y"
    return f"{n:03d}{unit}"


_RAW_STEPS = frozenset({Step.UID, Step.SHIFT, Step.PATIENT_KEY, Step.ACCESSION_KEY})


class DicomDeidentifier:
    """Applies the profile to datasets; one instance per worker process, reused across files."""

    def __init__(self, keyer: Keyer, config: DeidConfig = DeidConfig(), text_cleaner=None):
        from .descriptors import TextCleaner

        self.keyer = keyer
        self.config = config
        self.cleaner = text_cleaner or TextCleaner()
        self._uids: dict[str, str] = {}
        self._decisions: dict[tuple[int, str], tuple[Step, str]] = {}  # (tag, VR) -> step, per worker
        used = [(code, meaning) for code, meaning, opt in PROFILE_CODES if opt is None or getattr(config, opt)]
        self._method = [m for _, m in used]  # LO, VM 1-n: one value per profile/option
        self._method_items = []  # built once; items are only read when a dataset is written
        for code, meaning in used:
            item = Dataset()
            item.CodeValue = code
            item.CodingSchemeDesignator = "DCM"
            item.CodeMeaning = meaning
            self._method_items.append(item)

    # ------------------------------------------------------------------ identity
    def map_uid(self, uid: str) -> str:
        """Keyed replacement of a UID; well-known UIDs (SOP classes, transfer syntaxes) are kept."""
        uid = uid.strip().rstrip("\x00").strip()
        if not uid or uid in UID_dictionary:
            return uid
        new = self._uids.get(uid)
        if new is None:
            new = self._uids[uid] = self.keyer.uid(uid)
        return new

    def identify(self, ds: Dataset) -> Identity:
        sop = _text(ds, "SOPInstanceUID")
        study_uid = _text(ds, "StudyInstanceUID")
        series_uid = _text(ds, "SeriesInstanceUID")
        if not sop:
            raise FileRejected("missing_uid", "no SOP Instance UID: cannot key the instance")
        pid = _text(ds, "PatientID")
        ref = pid or (("name:" + _text(ds, "PatientName")) if _text(ds, "PatientName") else "") \
            or ("study:" + study_uid if study_uid else "instance:" + sop)
        accession = _text(ds, "AccessionNumber")
        k = self.keyer
        seconds = int.from_bytes(k.digest("timeshift", ref)[:4], "big") % 86400
        return Identity(
            patient_ref=ref,
            patient_key=k.patient_key(ref),
            study_key=k.study_key(accession or None, study_uid or ("instance:" + sop)),
            series_key=k.pseudonym("series", series_uid or ("instance:" + sop)),
            instance_key=k.pseudonym("instance", sop),
            accession_key=accession_key(k, accession) if accession else None,
            shift=Shift(k.date_shift_days(ref), seconds),
            originals={"patient_id": pid, "accession": accession, "study_uid": study_uid,
                       "series_uid": series_uid, "sop_instance_uid": sop},
        )

    # ------------------------------------------------------------------ the walk
    def deidentify(self, ds: Dataset) -> DatasetResult:
        """De-identify ``ds`` in place (header and meta; pixels are :mod:`.pixels`' job)."""
        identity = self.identify(ds)
        known = collect_known(ds)
        audit: list[tuple[str, str, str, str, str, str]] = []
        self._walk(ds, "", identity, known, audit)
        self._stamp(ds, identity)
        return DatasetResult(identity, audit, known)

    def _walk(self, ds: Dataset, prefix: str, ident: Identity, known: FilePHI, audit: list) -> None:
        """Apply the profile to every element of ``ds`` (recursing into kept sequences).

        Elements are converted by pydicom only when their value must be read or rewritten in a
        way raw bytes cannot serve: kept, removed, re-keyed or shifted ASCII elements stay raw,
        which is most of what keeps this walk as fast as a plain copy.
        """
        cfg, decisions = self.config, self._decisions
        for tag in list(ds.keys()):
            try:
                raw = ds.get_item(tag)
                vr = _vr(int(tag), raw.VR)
            except Exception:
                raw, vr = None, "UN"
            key = (tag, vr)
            decision = decisions.get(key)
            if decision is None:
                decision = decisions[key] = decide(int(tag), vr, cfg)
            step, rule = decision
            keyword, tag_s = _names(int(tag))
            path = prefix + (keyword or tag_s)
            if step is Step.REMOVE:
                del ds[tag]
                audit.append((path, tag_s, keyword, vr, step.value, rule))
                continue
            if step is Step.KEEP:  # left unconverted: written back byte for byte
                audit.append((path, tag_s, keyword, vr, step.value, rule))
                continue
            ascii_raw = getattr(raw, "is_raw", False) and isinstance(raw.value, bytes) and raw.value.isascii()
            if ascii_raw and step in _RAW_STEPS:
                action = self._apply_raw(ds, raw, step, vr, ident)
                if action is not None:
                    audit.append((path, tag_s, keyword, vr, action, rule))
                    continue
            if ascii_raw and step is Step.CHECK:
                text = raw.value.decode("ascii")
                if not known.leaks(text) and not PHI_SHAPES.search(text):  # clean: stays raw
                    audit.append((path, tag_s, keyword, vr, step.value, rule))
                    continue
            try:
                elem = ds[tag]
            except Exception:  # a value pydicom cannot convert: nothing safe to keep
                del ds[tag]
                audit.append((path, tag_s, keyword, vr, Step.REMOVE.value, "unreadable"))
                continue
            action = self._apply(ds, elem, step, vr, path, ident, known, audit)
            audit.append((path, tag_s, keyword, vr, action, rule))

    def _apply_raw(self, ds: Dataset, raw, step: Step, vr: str, ident: Identity) -> str | None:
        """Replace an unconverted ASCII element by new raw bytes (no pydicom conversion either way:
        values are written back as they are). None: let :meth:`_apply` handle it."""
        if step is Step.PATIENT_KEY:
            new = [ident.patient_key]
        elif step is Step.ACCESSION_KEY:
            new = [ident.accession_key or ""]
        else:
            if vr not in ("UI", "DA", "DT", "TM"):
                return None
            text = raw.value.decode("ascii").strip(" \x00")
            if not text:
                return Step.KEEP.value
            fn = self.map_uid if step is Step.UID else (lambda v: shift_value(vr, ident.shift, v))
            new = []
            for v in text.split("\\"):
                out = fn(v.strip(" \x00"))
                if out is None:
                    return None  # unparsable: the converted path empties it
                new.append(out)
        data = "\\".join(new).encode("ascii")
        if len(data) % 2:
            data += b"\x00" if vr == "UI" else b" "
        ds[raw.tag] = raw._replace(value=data, length=len(data))
        return step.value

    def _apply(self, ds: Dataset, elem: DataElement, step: Step, vr: str, path: str,
               ident: Identity, known: FilePHI, audit: list) -> str:
        if step is Step.RECURSE:
            if vr != "SQ" or not isinstance(elem.value, Sequence):
                del ds[elem.tag]
                return Step.REMOVE.value
            for i, item in enumerate(elem.value):
                self._walk(item, f"{path}[{i}].", ident, known, audit)
            return step.value
        if step is Step.KEEP:
            return step.value
        if step is Step.EMPTY:
            elem.value = [] if vr == "SQ" else (None if vr not in STRING_VRS else "")
            return step.value
        if step is Step.PATIENT_KEY:
            elem.value = ident.patient_key
            return step.value
        if step is Step.ACCESSION_KEY:
            elem.value = ident.accession_key or ""
            return step.value
        if step is Step.DUMMY:
            if vr == "DA" and self.config.retain_dates:
                return self._map_strings(ds, elem, lambda s: ident.shift.da(s) or DUMMY["DA"], Step.SHIFT)
            if vr in STRING_VRS:
                elem.value = DUMMY[vr]
            elif vr in NUMERIC_VRS:
                elem.value = 0
            elif vr == "SQ":
                elem.value = []
            else:
                elem.value = b"\x00\x00"
            return step.value
        if step is Step.UID:
            if vr != "UI":
                del ds[elem.tag]
                return Step.REMOVE.value
            return self._map_strings(ds, elem, self.map_uid, Step.UID)
        if step is Step.SHIFT:
            return self._map_strings(ds, elem, lambda s: shift_value(vr, ident.shift, s), Step.SHIFT)
        if step is Step.AGE:
            return self._map_strings(ds, elem, lambda s: cap_age(s, self.config.max_age_years), Step.AGE)
        if step in (Step.CLEAN, Step.CHECK):
            if vr == "PN":
                known.add_name(str(elem.value))
            limit = MAX_LENGTH.get(vr)

            def clean(text: str) -> str | None:
                out = self.cleaner.clean(text, known, ident.shift.days, force=step is Step.CLEAN)
                return out[:limit] if out is not None and limit else out

            return self._map_strings(ds, elem, clean, step)
        raise AssertionError(f"unhandled step {step}")

    def _map_strings(self, ds: Dataset, elem: DataElement, fn, step: Step) -> str:
        """Apply ``fn`` to each value; a value it cannot map (None) empties the element."""
        value = elem.value
        if value is None or value == "":
            return Step.KEEP.value if step is not Step.CLEAN else step.value
        values = list(value) if isinstance(value, (list, MultiValue)) else [value]
        out = []
        for v in values:
            if isinstance(v, bytes):
                v = v.decode("latin-1")
            new = fn(str(v))
            if new is None:
                elem.value = ""
                return Step.EMPTY.value
            out.append(new)
        elem.value = out if len(out) > 1 else out[0]
        return step.value

    # ------------------------------------------------------------------ method and meta
    def _stamp(self, ds: Dataset, ident: Identity) -> None:
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = self._method
        ds.DeidentificationMethodCodeSequence = Sequence(self._method_items)
        if "PatientName" not in ds:
            ds.PatientName = ident.patient_key
        if "PatientID" not in ds:
            ds.PatientID = ident.patient_key

    def file_meta(self, ds: Dataset, transfer_syntax: str) -> FileMetaDataset:
        """A new file meta group: our implementation UID, no source AE title, the new instance UID."""
        meta = FileMetaDataset()
        meta.FileMetaInformationVersion = b"\x00\x01"
        meta.MediaStorageSOPClassUID = _text(ds, "SOPClassUID") or "1.2.840.10008.5.1.4.1.1.7"
        meta.MediaStorageSOPInstanceUID = _text(ds, "SOPInstanceUID")
        meta.TransferSyntaxUID = transfer_syntax
        meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
        meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
        return meta


def audit_rows(instance_key: str, result: DatasetResult) -> list[dict[str, Any]]:
    return [
        {"instance_key": instance_key, "path": p, "tag": t, "keyword": k, "vr": v, "action": a, "rule": r}
        for p, t, k, v, a, r in result.audit
    ]
