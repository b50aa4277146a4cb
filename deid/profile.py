"""Which action each element gets: Table E.1-1 plus the options, resolved to one concrete step.

Annex E lists combined actions that the standard resolves "per the IOD" (X/Z: X unless the
attribute is Type 2; X/D: X unless Type 1; ...). pydicom ships no IOD module tables, so this module
resolves them consistently to the strongest action the standard allows: X before Z before D
(remove before empty before dummy). ``X/Z/U*`` sequences (Referenced Image / Source Image
Sequence) are kept and processed item by item (their instance UIDs replaced, everything else in
them de-identified), because keeping references resolvable is the point of ``U*``. A ``D``
sequence (Content Sequence, Graphic Annotation Sequence, ...) is likewise kept and its items
de-identified recursively rather than replaced by a dummy item. The options then override:

* Retain Longitudinal Temporal Information with Modified Dates: every DA, DT and TM is shifted
  per patient (see :mod:`radcurate.deid.dates`), except the birth date and time, which stay
  removed (Z/X) as the Basic Profile says.
* Retain Patient Characteristics: :data:`PATIENT_CHARACTERISTICS` are kept; Patient's Age is kept
  but capped (over 89 years becomes ``090Y``).
* Clean Descriptors: :data:`DESCRIPTORS` are scrubbed of PHI (report-text scrubber) instead of
  removed, because they carry clinical meaning (which exam, which series, what was seen).

Attributes Table E.1-1 does not list are handled by an allow-list: only what is known to be safe
is written. Private groups (odd) and their creators are removed (no safelist: no private tag in
the corpora we see is both needed and known safe); a public tag that pydicom's data dictionary
(``pydicom.datadict``) does not know is removed (``unknown_public``: its content is not understood,
so it is not known safe); repeating groups 50xx (curves) and 60xx (overlays: bitmaps may hold text)
are removed entirely; group lengths are removed; UN elements pydicom could not resolve to a public
VR are removed; unlisted PN, AE and UR values are removed; unlisted UIDs are replaced unless they
are well-known (in ``pydicom.uid.UID_dictionary``); unlisted dates and times are shifted; unlisted
free text (text VRs only) is checked against the file's known PHI and PHI patterns and scrubbed
when it matches; code values of code sequence items (Code Value, Coding Scheme Designator, ...)
are kept as they are (``121071`` is a code, not an identifier); codes and numbers (CS, DS, IS,
US, FL, ...) and numeric arrays (OF, OD, OL, OV) are kept; OB/OW/UN binary data is kept only for
the attributes of :data:`SAFE_BINARY` (pixel data, LUTs, ICC profile, waveforms, geometry):
any other blob (Maker Note, GPS data, signatures, ...) is removed.
"""

from __future__ import annotations

import functools
from enum import Enum

import pydicom.datadict as dd

from .annex_e import load_annex_e
from .config import DeidConfig


class Step(str, Enum):
    """The concrete thing done to an element (also the audit's ``action`` column)."""

    REMOVE = "removed"
    EMPTY = "emptied"
    DUMMY = "replaced"  # D: dummy value consistent with the VR
    UID = "replaced_uid"
    PATIENT_KEY = "replaced_patient_key"
    ACCESSION_KEY = "replaced_accession_key"
    SHIFT = "shifted"
    CLEAN = "cleaned"
    CHECK = "checked"  # unlisted free text: kept unless known PHI / PHI patterns found
    AGE = "capped"  # Patient's Age kept, capped over 89
    KEEP = "kept"
    RECURSE = "recursed"  # sequence kept, items processed


TEXT_VRS = frozenset({"LO", "SH", "ST", "LT", "UT", "UC"})
CODE_VRS = frozenset({"CS", "DS", "IS", "US", "SS", "UL", "SL", "UV", "SV", "FL", "FD", "AT"})
NUMERIC_ARRAY_VRS = frozenset({"OF", "OD", "OL", "OV"})
# Code Sequence Macro attributes (PS3.3 Table 8.8-1): coded meaning, kept verbatim.
CODE_TAGS = frozenset(
    dd.tag_for_keyword(k)
    for k in ("CodeValue", "CodingSchemeDesignator", "CodingSchemeVersion", "LongCodeValue",
              "URNCodeValue", "ContextIdentifier", "MappingResource")
)
# Binary (OB/OW/UN) attributes whose content is image, LUT, waveform or geometry data, never text.
SAFE_BINARY = frozenset(
    dd.tag_for_keyword(k)
    for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData", "ExtendedOffsetTable",
              "ExtendedOffsetTableLengths", "RedPaletteColorLookupTableData",
              "GreenPaletteColorLookupTableData", "BluePaletteColorLookupTableData",
              "AlphaPaletteColorLookupTableData", "SegmentedRedPaletteColorLookupTableData",
              "SegmentedGreenPaletteColorLookupTableData", "SegmentedBluePaletteColorLookupTableData",
              "SegmentedAlphaPaletteColorLookupTableData", "BlendingLookupTableData", "ICCProfile",
              "LUTData", "FilterLookupTableData", "WaveformData", "WaveformPaddingValue",
              "ChannelMinimumValue", "ChannelMaximumValue", "SpectroscopyData", "DarkCurrentCounts",
              "AirCounts", "BadPixelImage", "CoordinateSystemAxisValues", "VerticesOfThePolygonalOutline",
              "TwoDimensionalToThreeDimensionalMapData", "VectorGridData", "PointCoordinatesData",
              "VectorCoordinateData", "DoublePointCoordinatesData", "LongPrimitivePointIndexList",
              "LongTrianglePointIndexList", "LongEdgePointIndexList", "LongVertexPointIndexList",
              "RecommendedDisplayCIELabValueList", "FloatingPointValues", "TrackPointIndexList",
              "AnnotationIndexList", "FillPattern", "VolumetricCurvePoints", "VolumetricCurveUpDirections",
              "UValueData", "VValueData", "CompensatorProximalThicknessMap",
              "CompensatorDistalThicknessMap", "BlockEdgeData", "FirstOrderPhaseCorrectionAngle")
)
DATE_VRS = frozenset({"DA", "DT", "TM"})

# Retain Patient Characteristics Option (PS3.15 E.3.6): kept attributes, all coded or numeric.
PATIENT_CHARACTERISTICS = frozenset(
    dd.tag_for_keyword(k)
    for k in ("PatientSex", "PatientSize", "PatientWeight", "PatientSexNeutered",
              "PregnancyStatus", "SmokingStatus")
)
PATIENT_AGE = dd.tag_for_keyword("PatientAge")

# Clean Descriptors Option (PS3.15 E.3.5): free text that describes the exam, scrubbed not removed.
DESCRIPTORS = frozenset(
    dd.tag_for_keyword(k)
    for k in ("StudyDescription", "SeriesDescription", "ImageComments", "FrameComments",
              "AcquisitionComments", "ProtocolName", "PerformedProcedureStepDescription",
              "RequestedProcedureDescription", "ScheduledProcedureStepDescription",
              "DerivationDescription", "AdditionalPatientHistory", "ReasonForStudy",
              "AdmittingDiagnosesDescription", "ContrastBolusAgent",
              "AcquisitionDeviceProcessingDescription", "StudyComments", "ImagePresentationComments",
              "AcquisitionProtocolDescription", "AcquisitionContextDescription",
              "RequestedContrastAgent")
)

# Dates the Basic Profile removes even under the longitudinal option (they identify by themselves).
NEVER_SHIFT = frozenset(dd.tag_for_keyword(k) for k in ("PatientBirthDate", "PatientBirthTime"))

PATIENT_NAME = dd.tag_for_keyword("PatientName")
PATIENT_ID = dd.tag_for_keyword("PatientID")
ACCESSION = dd.tag_for_keyword("AccessionNumber")
# Written by this stage after the walk (PatientIdentityRemoved, DeidentificationMethod + codes).
OWN_TAGS = frozenset({0x00120062, 0x00120063, 0x00120064})


@functools.lru_cache(maxsize=None)
def decide(tag: int, vr: str, config: DeidConfig = DeidConfig()) -> tuple[Step, str]:
    """The step for an element with ``tag`` and ``vr``, and the rule that chose it (for the audit).

    Pure and cached: each (tag, VR, config) is resolved once per process.
    """
    group, element = tag >> 16, tag & 0xFFFF
    if group & 1:
        return Step.REMOVE, "private"
    if 0x5000 <= group <= 0x501F:
        return Step.REMOVE, "curve"
    if 0x6000 <= group <= 0x601F:
        return Step.REMOVE, "overlay"
    if element == 0 and group != 0x0002:
        return Step.REMOVE, "group_length"
    if tag in OWN_TAGS:
        return Step.REMOVE, "rewritten"
    if tag == PATIENT_NAME or tag == PATIENT_ID:
        return Step.PATIENT_KEY, "pseudonym"
    if tag == ACCESSION:
        return Step.ACCESSION_KEY, "pseudonym"
    if vr == "UN":
        return Step.REMOVE, "unknown_vr"
    annex = load_annex_e(config.annex_e_edition)
    if not dd.dictionary_has_tag(tag) and annex.rule(tag) is None:
        return Step.REMOVE, "unknown_public"  # not in the data dictionary: not known safe
    if config.retain_patient_characteristics:
        if tag == PATIENT_AGE:
            return Step.AGE, "option:patient_characteristics"
        if tag in PATIENT_CHARACTERISTICS:
            return Step.KEEP, "option:patient_characteristics"
    if config.clean_descriptors and tag in DESCRIPTORS and vr in TEXT_VRS:
        return Step.CLEAN, "option:clean_descriptors"
    if config.retain_dates and vr in DATE_VRS and tag not in NEVER_SHIFT:
        return Step.SHIFT, "option:modified_dates"
    rule = annex.rule(tag)
    if rule is not None:
        a = rule.action
        src = f"E.1-1:{a}"
        if vr == "SQ":
            if a in ("D", "X/Z/U*"):
                return Step.RECURSE, src
            if a == "Z":
                return Step.EMPTY, src
            return Step.REMOVE, src
        if a == "U":
            return (Step.UID if vr == "UI" else Step.REMOVE), src
        if a.startswith("X"):
            return Step.REMOVE, src
        if a.startswith("Z"):
            return Step.EMPTY, src
        if a == "D":
            return (Step.UID if vr == "UI" else Step.DUMMY), src
        if a == "K":
            return Step.KEEP, src
        if a == "C":
            return (Step.CLEAN if vr in TEXT_VRS else Step.REMOVE), src
    if tag in CODE_TAGS:
        return Step.KEEP, "code"
    if vr == "SQ":
        return Step.RECURSE, "unlisted"
    if vr == "UI":
        return Step.UID, "unlisted"  # well-known UIDs are kept by the UID step itself
    if vr in ("PN", "AE", "UR"):
        return Step.REMOVE, f"unlisted:{vr}"
    if vr in DATE_VRS:
        return Step.REMOVE, "unlisted:date"
    if vr == "AS":
        return Step.AGE, "unlisted:AS"
    if vr in TEXT_VRS:
        return Step.CHECK, "unlisted:text"
    if vr in CODE_VRS or vr in NUMERIC_ARRAY_VRS:
        return Step.KEEP, "dictionary:" + vr
    if tag in SAFE_BINARY:
        return Step.KEEP, "dictionary:safe_binary"
    return Step.REMOVE, f"not_allowed:{vr}"  # binary or unknown kinds: not known safe
