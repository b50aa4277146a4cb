"""De-identify annotation objects (presentation states, SR documents) through the images' deid path.

The header of a GSPS or SR goes through the same :class:`~radcurate.deid.dicom.DicomDeidentifier`
as the images (same keyer: names replaced, dates shifted with the patient's shift, UIDs re-keyed
with the same map, so every reference to an image names that image's curated SOP Instance UID).
Their *content* (graphic annotations, the SR content tree, evidence and reference lists) is set
aside first and de-identified here by value type, because it mixes what must be kept exactly
(coordinates, numbers, code values and meanings, well-known UIDs) with what must go (observer
names, login and organization, free text carrying names or dates):

* UIDs are re-keyed (well-known ones kept); dates, times and date-times shifted;
* person names replaced by a dummy; observer login, organization and device identity replaced;
* code items (value, scheme, meaning, version) and all numeric/coded values kept byte for byte;
* other free text (labels, tracking identifiers, text objects) scrubbed of the file's known PHI
  and PHI shapes by the descriptor cleaner (unchanged when clean).

Outputs, per run: ``curated/annotations/<patient>/<study>/<series>/<annotation_key>.dcm``,
``curated/annotations.parquet`` (one row per object) and ``curated/annotation_references.parquet``
(annotation, the de-identified referenced UID, the ``instance_key`` it names).
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from radcurate.tables import read_table, write_table

from .config import DeidConfig
from .dates import shift_value
from .files import deidentifier
from .keys import Keyer

CONTENT_KEYWORDS = (  # set aside before the header walk, de-identified by value type here
    "GraphicAnnotationSequence", "GraphicLayerSequence", "ContentSequence", "ConceptNameCodeSequence",
    "ContentTemplateSequence", "ReferencedSeriesSequence", "CurrentRequestedProcedureEvidenceSequence",
    "PertinentOtherEvidenceSequence", "PerformedProcedureCodeSequence", "DisplayedAreaSelectionSequence",
    "SoftcopyVOILUTSequence",
)
CODE_KEYWORDS = frozenset({
    "CodeValue", "CodingSchemeDesignator", "CodingSchemeVersion", "CodeMeaning", "LongCodeValue",
    "URNCodeValue", "MappingResource", "ContextIdentifier", "ContextGroupVersion", "TemplateIdentifier",
    "ContextGroupExtensionFlag", "MappingResourceName",
})
# SR concepts whose TEXT value identifies a person, a place or a device (observer context, TID 1002/1004).
IDENTIFYING_CONCEPTS = frozenset({("DCM", c) for c in (
    "128774",  # Person Observer's Login Name
    "121009",  # Person Observer's Organization Name
    "121013", "121014", "121015", "121016", "121017",  # Device Observer name, maker, model, serial, location
)})
KEEP_VRS = frozenset({"CS", "US", "SS", "UL", "SL", "FL", "FD", "UV", "SV", "DS", "IS", "OF", "OD", "OL", "OV",
                      "OW", "OB", "AT"})
TEXT_VRS = frozenset({"LO", "SH", "ST", "LT", "UT", "UC"})
DUMMY_TEXT = "DEIDENTIFIED"

ANNOTATIONS_SCHEMA = pa.schema([
    pa.field("annotation_key", pa.string(), nullable=False),
    pa.field("patient_key", pa.string(), nullable=False),
    pa.field("study_key", pa.string(), nullable=False),
    pa.field("series_key", pa.string(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),  # GSPS or SR
    pa.field("sop_class_uid", pa.string()),
    pa.field("path", pa.string(), nullable=False),  # relative to curated/
    pa.field("content_date", pa.date32()),  # shifted
    pa.field("n_references", pa.int64()),
])
REFERENCES_SCHEMA = pa.schema([
    pa.field("annotation_key", pa.string(), nullable=False),
    pa.field("referenced_uid", pa.string(), nullable=False),  # as written in the curated object
    pa.field("instance_key", pa.string(), nullable=False),  # the curated image it names
])


class _Content:
    """De-identifies a set-aside content tree by value type (see module docstring)."""

    def __init__(self, deid, ident, known):
        self.deid, self.ident, self.known = deid, ident, known
        self.actions: list[tuple[str, str]] = []

    def item(self, ds: Dataset, path: str) -> None:
        concept = None
        if "ConceptNameCodeSequence" in ds and len(ds.ConceptNameCodeSequence):
            c = ds.ConceptNameCodeSequence[0]
            concept = (str(c.get("CodingSchemeDesignator", "")), str(c.get("CodeValue", "")))
        for elem in list(ds):
            kw = elem.keyword or f"({elem.tag.group:04X},{elem.tag.element:04X})"
            where = f"{path}{kw}"
            if elem.tag.is_private:
                del ds[elem.tag]
                self.actions.append((where, "removed"))
            elif elem.VR == "SQ":
                for i, sub in enumerate(elem.value):
                    self.item(sub, f"{where}[{i}].")
            elif kw in CODE_KEYWORDS or elem.VR in KEEP_VRS:
                continue
            elif elem.VR == "UI":
                self._map(elem, self.deid.map_uid, where, "replaced_uid")
            elif elem.VR in ("DA", "DT", "TM"):
                self._map(elem, lambda v, vr=elem.VR: shift_value(vr, self.ident.shift, v), where, "shifted")
            elif elem.VR == "PN":
                elem.value = DUMMY_TEXT
                self.actions.append((where, "replaced"))
            elif elem.VR in TEXT_VRS:
                if concept in IDENTIFYING_CONCEPTS:
                    elem.value = DUMMY_TEXT
                    self.actions.append((where, "replaced"))
                else:
                    self._map(elem, self._clean, where, "checked")
            else:  # AE, UR, UN and anything not understood: nothing safe to keep
                del ds[elem.tag]
                self.actions.append((where, "removed"))

    def _clean(self, text: str) -> str | None:
        return self.deid.cleaner.clean(text, self.known, self.ident.shift.days, force=False)

    def _map(self, elem, fn, where: str, action: str) -> None:
        values = elem.value if isinstance(elem.value, (list, pydicom.multival.MultiValue)) else [elem.value]
        out = []
        for v in values:
            if v in (None, ""):
                continue
            new = fn(str(v))
            if new is None:
                elem.value = ""
                self.actions.append((where, "emptied"))
                return
            out.append(new)
        if not out:
            return
        changed = [str(v) for v in values if v not in (None, "")] != out
        elem.value = out if len(out) > 1 else out[0]
        self.actions.append((where, action if changed else "kept"))


def _names(seq, known) -> None:
    """Person names inside content (observer names) join the file's known PHI before text is cleaned."""
    for ds in seq:
        for elem in ds:
            if elem.VR == "SQ":
                _names(elem.value, known)
            elif elem.VR == "PN" and elem.value:
                known.add_name(str(elem.value))


NOT_IMAGE_REFERENCES = frozenset({"ReferencedStudySequence", "ReferencedPerformedProcedureStepSequence"})


def _referenced(seq) -> list[str]:
    """Referenced image SOP Instance UIDs at any depth (study and procedure step references left out)."""
    out: dict[str, None] = {}
    for ds in seq:
        for elem in ds:
            if elem.VR == "SQ" and elem.keyword in NOT_IMAGE_REFERENCES:
                continue
            if elem.VR == "SQ":
                for u in _referenced(elem.value):
                    out.setdefault(u, None)
            elif elem.keyword == "ReferencedSOPInstanceUID" and elem.value:
                out.setdefault(str(elem.value).strip(), None)
    return list(out)


def deidentify_annotation(path: str, source: str, out_root: str, keyer: Keyer,
                          config: DeidConfig) -> dict[str, Any]:
    """One GSPS/SR file -> ``{"annotation": row, "references": rows}`` or ``{"quarantine": row}``."""
    deid = deidentifier(keyer, config)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, force=True)
        for elem in ds.iterall():  # convert every raw element now: content is read by value type
            pass
        originals = _referenced([ds])
        content = {kw: ds[kw] for kw in CONTENT_KEYWORDS if kw in ds}
        for kw in content:
            del ds[kw]
        result = deid.deidentify(ds)
        ident, known = result.identity, result.known
        for elem in content.values():
            _names(elem.value, known)
        walker = _Content(deid, ident, known)
        for kw, elem in content.items():
            for i, item in enumerate(elem.value):
                walker.item(item, f"{kw}[{i}].")
            ds[elem.tag] = elem
    except Exception as exc:
        return {"quarantine": {"source": source, "reason": "deid_failed",
                               "detail": f"annotation object could not be de-identified ({type(exc).__name__})"}}
    rel = Path("annotations") / ident.patient_key / ident.study_key / ident.series_key / f"{ident.instance_key}.dcm"
    dest = Path(out_root) / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        ds.file_meta = deid.file_meta(ds, ExplicitVRLittleEndian)
        ds.save_as(tmp, enforce_file_format=True, implicit_vr=False, little_endian=True)
        os.replace(tmp, dest)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        return {"quarantine": {"source": source, "reason": "write_failed",
                               "detail": f"de-identified annotation could not be written ({type(exc).__name__})"}}
    sop_class = str(ds.get("SOPClassUID", ""))
    kind = "SR" if sop_class.startswith("1.2.840.10008.5.1.4.1.1.88.") else "GSPS"
    cdate = str(ds.get("ContentDate", "") or ds.get("PresentationCreationDate", "") or "")
    try:
        content_date = dt.datetime.strptime(cdate, "%Y%m%d").date()
    except ValueError:
        content_date = None
    row = {"annotation_key": ident.instance_key, "patient_key": ident.patient_key, "study_key": ident.study_key,
           "series_key": ident.series_key, "kind": kind, "sop_class_uid": sop_class, "path": rel.as_posix(),
           "content_date": content_date, "n_references": len(originals)}
    refs = [{"annotation_key": ident.instance_key, "referenced_uid": deid.map_uid(u),
             "instance_key": keyer.pseudonym("instance", u)} for u in originals]
    return {"annotation": row, "references": refs}


def annotation_batch(files: list[tuple[str, str]], out_root: str, keyer: Keyer,
                     config: DeidConfig) -> list[dict[str, Any]]:
    """Dask partition function: de-identify a batch of ``(path, source)`` annotation files."""
    return [deidentify_annotation(p, s, out_root, keyer, config) for p, s in files]


def run_annotation_deid(out_dir: str | os.PathLike, keyer: Keyer, config: DeidConfig = DeidConfig(),
                        client: Any = None) -> tuple[int, int, list[dict]]:
    """De-identify ``OUT/phi/annotations.parquet``'s objects into ``OUT/curated``.

    Returns (objects in, objects written, quarantine rows). Without the manifest (an ingest that
    predates annotations, or none in the export) empty tables are written.
    """
    out = Path(out_dir)
    curated = out / "curated"
    manifest = out / "phi" / "annotations.parquet"
    files: list[tuple[str, str]] = []
    if manifest.exists():
        t = read_table(manifest, columns=["path", "relpath"])
        files = list(zip(t["path"], t["relpath"]))
    size = max(1, min(64, -(-len(files) // 4))) if files else 1
    batches = [files[i:i + size] for i in range(0, len(files), size)]
    if client is None or not batches:
        results = [r for b in batches for r in annotation_batch(b, str(curated), keyer, config)]
    else:
        futures = client.map(annotation_batch, batches, out_root=str(curated), keyer=keyer, config=config,
                             pure=False)
        results = [r for rs in client.gather(futures) for r in rs]
    rows = sorted((r["annotation"] for r in results if "annotation" in r), key=lambda r: r["annotation_key"])
    refs = [x for r in results for x in r.get("references", ())]
    quarantine = [r["quarantine"] for r in results if "quarantine" in r]
    write_table(pa.Table.from_pylist(rows, schema=ANNOTATIONS_SCHEMA), curated / "annotations.parquet")
    refs_df = pd.DataFrame(refs, columns=REFERENCES_SCHEMA.names).sort_values(["annotation_key", "referenced_uid"])
    write_table(pa.Table.from_pandas(refs_df, schema=REFERENCES_SCHEMA, preserve_index=False),
                curated / "annotation_references.parquet")
    return len(files), len(rows), quarantine
