"""The column dictionary: what every Parquet column radcurate writes means.

Every table field carries a ``description`` in its Arrow metadata; a writer that declares none gets
it from here (:func:`radcurate.tables.described` calls :func:`describe`), and the dataset card
prints it. One place keeps the meanings consistent across stages, and a column nobody describes is
an error rather than an unexplained field in a release.

``COLUMNS`` holds a name's shared meaning; ``TABLE_COLUMNS`` overrides it where a table means
something else (original, unshifted values in ``phi/`` and ``truth/``), and alone describes names
with no shared meaning (``kind``, ``value``, ``path``, ``timepoint``, ...). It is keyed ``"zone/table"`` (``"curated/lesions"``,
``"phi/instances"``, ``"truth/lesions"``, ``"synthetic/lowdose"``) or by the bare table name for
tables that standalone commands (``radcurate mine``, ``radcurate label``) write into any folder.
Descriptions never quote a PHI value.
"""

from __future__ import annotations

from typing import Mapping


# What one row of each curated table is (the dataset card's table list).
TABLE_MEANINGS: dict[str, str] = {
    "studies": "one row per imaging study (pseudonymous keys, shifted dates)",
    "series": "one row per series of a study",
    "instances": "one row per de-identified DICOM file under `dicom/`",
    "reports": "one row per report, text scrubbed of PHI",
    "deid_audit": "one row per de-identification action on a DICOM element (never the value)",
    "rule_labels": "the rule miner's raw vote per report and finding",
    "mentions": "the sentence, span, trigger and assertion behind each finding mention",
    "measurements": "sizes stated in report text, in millimetres",
    "recist": "RECIST 1.1 sums and responses derived from report text across a patient's studies",
    "topics": "LDA topic mixture per report",
    "topic_terms": "top terms per LDA topic",
    "labels": "the table to train on: one label per study and finding",
    "splits": "train/val/test assignment per patient",
    "lesions": "one row per measured lesion on a slice",
}


def _pick(meanings: Mapping[str, str], names: str, **extra: str) -> dict[str, str]:
    """``{name: meanings[name]}`` for the space-separated ``names`` (KeyError when one is missing),
    plus ``extra``."""
    return {**{n: meanings[n] for n in names.split()}, **extra}


COLUMNS: dict[str, str] = {
    # --- pseudonymous keys (curated zone) ---
    "patient_key": "patient pseudonym (keyed HMAC; stable across runs with the same secret)",
    "study_key": "study pseudonym (keyed HMAC of the accession number, else of the Study Instance UID)",
    "series_key": "series pseudonym (keyed HMAC of the Series Instance UID)",
    "instance_key": "image pseudonym (keyed HMAC of the SOP Instance UID)",
    "report_key": "report pseudonym (keyed HMAC of the accession number)",
    "accession_key": "accession number pseudonym (keyed HMAC), as written into the curated DICOM",
    "annotation_key": "pseudonym of a presentation state or SR annotation object (keyed HMAC of its SOP Instance UID)",
    "lesion_key": "lesion row key: a hash of pseudonymous keys (annotation key and cross index, or report key and offset)",
    "synthetic_key": "key of the synthetic sample: a hash of its generator, inputs and seed",
    # --- dates ---
    "study_date": "study date, shifted by a per-patient offset (intervals between a patient's studies kept)",
    "content_date": "content date of the annotation object, shifted by the patient's offset",
    # --- labels ---
    "probability": "label model's probability that the finding is present (0-1); use it to weight or threshold",
    "policy": "uncertainty policy applied to `value` (u_ones: uncertain -> 1, u_zeros: -> 0, u_ignore: stays -1)",
    "sources": "labeling functions that voted (plus `reviewed` when a person's label was applied)",
    "reviewed": "true when a person reviewed this label",
    "vocabulary": "label vocabulary (chestxray14, chexpert, or a site lexicon's)",
    # --- sizes and RECIST ---
    "long_axis_mm": "long-axis (longest in-plane) diameter, mm",
    "short_axis_mm": "short-axis diameter (perpendicular to the long axis), mm",
    "third_axis_mm": "third stated dimension (usually cranio-caudal), mm; null when fewer were stated",
    "response": "RECIST 1.1 response (BASELINE, CR, PR, SD, PD; NE not evaluable)",
    "sum_mm": "sum of target lesion diameters (long axes of lesions, short axes of nodes) at the time point, mm",
    "nadir_mm": "smallest sum of diameters at earlier time points (the baseline sum at baseline), mm",
    "n_targets": "number of target lesions chosen at baseline",
    "change_from_baseline_pct": "change of `sum_mm` from the baseline sum, percent (null when not evaluable)",
    "change_from_nadir_pct": "change of `sum_mm` from the nadir, percent (null when not evaluable)",
    "new_lesion": "a new lesion appeared at this time point (makes the response PD)",
    "match_confidence": "confidence of the weakest target match across studies (1.0 at baseline, 0 when a target was not found)",
    "derived_from": "what the RECIST row was computed from (report_text or annotations)",
    "lesion_label": "lesion label as written (Target lesion N, Lesion N, ...); null when none",
    # --- DICOM de-identification audit ---
    "action": "what de-identification did (removed, emptied, replaced_uid, replaced_patient_key, shifted, cleaned, "
              "checked, capped, kept, blanked, ...)",
    "rule": "the rule applied: E.1-1:<action code> (PS3.15 Annex E), option:<name>, dictionary:<VR>, pseudonym, "
            "private, unlisted, ...",
    "tag": "DICOM tag acted on, (gggg,eeee); empty for file-level actions",
    "keyword": "DICOM keyword of the element acted on; empty when none",
    "vr": "value representation of the element acted on",
    "text_regions_blanked": "burned-in text regions blanked in the pixels by de-identification",
    # --- DICOM attributes (same meaning in the phi and curated zones) ---
    "modality": "DICOM Modality (CT, DX, CR, PR, SR, ...)",
    "body_part": "Body Part Examined",
    "body_part_examined": "Body Part Examined as written",
    "series_number": "DICOM Series Number",
    "instance_number": "DICOM Instance Number (image number within the series)",
    "rows": "image height in pixels",
    "columns": "image width in pixels",
    "number_of_frames": "frames in the image (DICOM Number of Frames)",
    "pixel_spacing": "Pixel Spacing: [row spacing, column spacing] in mm",
    "pixel_spacing_row": "distance between pixel rows of the stored pixels, mm",
    "pixel_spacing_col": "distance between pixel columns of the stored pixels, mm",
    "slice_thickness": "Slice Thickness, mm (null when absent)",
    "image_position": "Image Position (Patient): x, y, z of the first pixel's centre, mm",
    "image_orientation": "Image Orientation (Patient): six direction cosines of the rows and columns",
    "slice_position": "slice position along the patient z axis, mm (Image Position z, else Slice Location)",
    "slice_index": "0-based order of the frame within its series (by slice position, then instance number)",
    "frame_index": "0-based frame within the instance (0 for a single-frame image)",
    "transfer_syntax": "Transfer Syntax UID of the file",
    "sop_class_uid": "SOP Class UID (the kind of DICOM object)",
    "bits_allocated": "Bits Allocated per pixel sample",
    "photometric_interpretation": "Photometric Interpretation as written (MONOCHROME1, MONOCHROME2, RGB, ...)",
    "rescale_slope": "Rescale Slope of the modality LUT",
    "rescale_intercept": "Rescale Intercept of the modality LUT",
    "burned_in_annotation": "Burned In Annotation as written (YES, NO; null when absent)",
    "has_pixel_data": "the file has a Pixel Data element",
    "pixel_data_offset": "byte offset of the Pixel Data element in the file",
    "pixel_data_length": "Pixel Data value length in bytes (-1: undefined length, encapsulated)",
    "has_file_meta": "the file has a preamble and file meta header (false: read forcibly)",
    "specific_character_set": "Specific Character Set as written",
    "manufacturer": "Manufacturer as written",
    # --- images table ---
    "view": "View Position of a radiograph (PA, AP, LL, ...); null for CT",
    "preprocessing": "native (pixels as stored) or resizeN (radiograph scaled to fit N x N, padded at right/bottom)",
    "photometric": "Photometric Interpretation of the stored pixels (MONOCHROME1: white = 0, MONOCHROME2, RGB)",
    "dtype": "numpy dtype name of `pixels` (int16: CT in Hounsfield units)",
    "shape": "array shape of `pixels` (rows, columns[, channels])",
    # --- splits ---
    "split": "train, val or test (assigned per patient)",
    "fold": "cross-validation fold over train and val patients (null for test)",
    "stratum": "the patient's rarest positive finding when it was assigned, or (none)",
    # --- report text mining ---
    "sentence": "the report sentence that holds the mention",
    "section": "report section (findings, impression, history, technique, ...)",
    "sentence_index": "0-based index of the sentence in the report (the same numbering in mentions and measurements)",
    "char_start": "character offset where the stated size starts in the report text",
    "char_end": "character offset where the stated size ends in the report text (exclusive)",
    "negated": "the mention is negated (no, without, ...)",
    "uncertain": "the mention is uncertain (may, possible, ...)",
    "historical": "the mention refers to the past (history of, ...)",
    "hypothetical": "the mention is hypothetical (evaluate for, ...)",
    "family": "the mention is about a family member",
    "trigger": "the trigger phrase that decided the assertion (null when none applied)",
    "rule_id": "id of the assertion rule that decided (category.direction:phrase, or normal:vocabulary/finding)",
    "labelled": "the mention's section counts toward labels (not history, comparison, technique or examination)",
    # --- topics ---
    "topic": "LDA topic number",
    "rank": "rank of the term within its topic (1 = most probable)",
    "term": "topic term: a word or phrase; negated terms carry a no_ prefix",
    "weight": "probability of the term in the topic",
    "mixture": "topic weights of the report, one per topic, summing to 1",
    "dominant_topic": "topic with the largest weight (null when the report has no known word)",
    "dominant_weight": "weight of the dominant topic (null when the report has no known word)",
    # --- lesions ---
    "long_x0": "long-axis endpoint 1, x (pixel column; 0 is the left edge of the first pixel)",
    "long_y0": "long-axis endpoint 1, y (pixel row; 0 is the top edge of the first pixel)",
    "long_x1": "long-axis endpoint 2, x (pixel column)",
    "long_y1": "long-axis endpoint 2, y (pixel row)",
    "short_x0": "short-axis endpoint 1, x (pixel column)",
    "short_y0": "short-axis endpoint 1, y (pixel row)",
    "short_x1": "short-axis endpoint 2, x (pixel column)",
    "short_y1": "short-axis endpoint 2, y (pixel row)",
    "box_x0": "lesion box, left pixel column (inclusive)",
    "box_y0": "lesion box, top pixel row (inclusive)",
    "box_x1": "lesion box, right pixel column (exclusive)",
    "box_y1": "lesion box, bottom pixel row (exclusive)",
    "mask": "lesion mask over the box: uint8 0/1 bytes, C order, (box_y1 - box_y0) x (box_x1 - box_x0)",
    "center_row": "lesion centre, pixel row",
    "center_col": "lesion centre, pixel column",
    "stated_in_report": "the study's report states this lesion's size",
    # --- synthetic data ---
    "generator": "name and version of the generator that made the sample",
    "parameters": "generator parameters of the sample, as JSON",
    "seed": "random seed of the sample (regenerates it alone)",
}

# Meanings in the PHI zone (``OUT/phi/``): original identifiers and header values, never released.
_PHI: dict[str, str] = {
    "path": "absolute path of the input file (may contain patient names or IDs; PHI)",
    "relpath": "input file path relative to the --dicom folder (may contain PHI; the `source` of quarantine rows)",
    "size": "file size in bytes",
    "sha256": "SHA-256 of the file's bytes",
    "in_dicomdir": "the file is listed by a DICOMDIR of the tree (null: no DICOMDIR)",
    "sop_instance_uid": "original SOP Instance UID (PHI; phi zone only)",
    "series_uid": "original Series Instance UID (PHI; phi zone only)",
    "study_uid": "original Study Instance UID (PHI; phi zone only)",
    "frame_of_reference_uid": "original Frame of Reference UID (PHI; phi zone only)",
    "patient_id": "original Patient ID (PHI; phi zone only)",
    "patient_name": "original Patient's Name (PHI; phi zone only)",
    "birth_date": "original Patient's Birth Date (PHI; phi zone only)",
    "sex": "Patient's Sex as written (M, F, O)",
    "age": "Patient's Age as written (DICOM AS: three digits and D, W, M or Y; PHI over 89)",
    "accession": "original Accession Number (PHI; phi zone only)",
    "study_date": "original, unshifted Study Date (PHI; phi zone only)",
    "study_time": "original Study Time as written, HHMMSS[.ffffff] (PHI; phi zone only)",
    "study_description": "original Study Description (may contain PHI; phi zone only)",
    "series_description": "original Series Description (may contain PHI; phi zone only)",
    "institution_name": "original Institution Name (PHI; phi zone only)",
    "number_of_frames": "Number of Frames as written (null when the header omits it)",
    "transfer_syntax": "Transfer Syntax UID of the input file",
    "modalities": "distinct modalities of the study's images",
    "n_series": "series in the study",
}

# Meanings in the synthetic export's ground truth (``EXPORT/truth/``), written by ``synthesis``.
_TRUTH: dict[str, str] = {
    "patient_id": "Patient ID the synthetic export wrote (PHI by design; ground truth)",
    "patient_name": "synthetic patient's name as written in DICOM (PHI by design; ground truth)",
    "birth_date": "synthetic patient's birth date (PHI by design; ground truth)",
    "accession": "Accession Number of the study in the synthetic export (PHI by design; ground truth)",
    "study_uid": "Study Instance UID written to the export (original, not yet replaced)",
    "study_date": "real (unshifted) study date written to the export",
    "lesion_id": "phantom lesion id within the patient, the same across studies (L: lesion, N: lymph node)",
    "finding": "lesion finding (nodule, mass, lymph node)",
    "kind": "lesion or lymph_node",
    "location": "the phantom lesion's lobe or lymph node station",
    "series_number": "series number the report cites for the lesion (null when the report does not size it)",
    "instance_number": "image number the report cites for the lesion (null when the report does not size it)",
}

_QUARANTINE = {
    "source": "what was rejected: an input path relative to the export, a curated path, or a record id "
              "(accession, report id, key); may hold PHI",
    "stage": "stage that rejected it (ingest, deid, nlp, images, lesions, synthesize_*, ...)",
    "reason": "short machine-friendly reason",
    "detail": "human-readable detail; never a PHI value",
}

_MENTIONS = {
    "start": "character offset where the mention starts in the report text as mined",
    "end": "character offset where the mention ends in the report text (exclusive)",
    "text": "the mention as written in the report",
    "finding": "finding name in the vocabulary",
    "kind": "mention (the finding is named) or normal (a normal statement implies its absence)",
    "value": "the mention's vote: 1 positive, 0 negative, -1 uncertain, null ignored (family, hypothetical, historical)",
}

_RULE_LABELS = {
    "finding": "finding name in the vocabulary",
    "value": "the rules' label for the report: 1 present, 0 absent, -1 uncertain, null not mentioned",
}

_LABELS = {
    "finding": "finding name in the vocabulary",
    "value": "label after the finding's uncertainty policy: 1 present, 0 absent, -1 uncertain, null not mentioned",
}

_MEASUREMENTS = {
    "finding": "what the size measures (nodule, mass, lymph node, ...); null when not named",
    "location": "anatomical location named near the size (lobe, lymph node station, organ); null when none",
    "long_axis_mm": "longest in-plane diameter stated, mm (null when only a short axis was stated)",
    "short_axis_mm": "second in-plane diameter stated, mm (null when not stated)",
    "timepoint": "current (this study's size) or prior (a size quoted for comparison)",
    "kind": "what was measured: lesion, lymph_node, organ, device or other (not a finding)",
    "series": "series number the text cites for the size (null when none)",
    "image": "image number the text cites for the size (null when none)",
    "text": "the size as written in the report",
}

_TOPICS_DOC = "report id from the extract's id column"

TABLE_COLUMNS: dict[str, dict[str, str]] = {
    # --- PHI zone (ingest and deid) ---
    "phi/instances": _pick(
        _PHI, "path relpath size sha256 in_dicomdir sop_instance_uid series_uid study_uid frame_of_reference_uid "
              "patient_id patient_name birth_date sex age accession study_date study_time study_description "
              "series_description institution_name number_of_frames transfer_syntax"),
    "phi/series": _pick(
        _PHI, "series_uid study_uid patient_id series_description frame_of_reference_uid",
        n_instances="image instances in the series"),
    "phi/studies": _pick(
        _PHI, "study_uid patient_id patient_name birth_date sex accession study_date study_time study_description "
              "modalities n_series",
        n_instances="image instances in the study"),
    "phi/annotations": _pick(
        _PHI, "path relpath sha256 sop_instance_uid series_uid study_uid patient_id patient_name accession study_date",
        kind="annotation object type: GSPS (any presentation state) or SR (structured report)",
        referenced_sop_instance_uids="original SOP Instance UIDs of the images the object references (PHI; phi zone only)"),
    "phi/reports": _pick(
        _PHI, "study_uid",
        report_id="report id: 16 hex characters of SHA-256 over the accession number and report text",
        row_number="1-based data row of the report in the RIS extract",
        accession="original Accession Number from the RIS extract (PHI; phi zone only)",
        patient_id="original Patient ID from the RIS extract (PHI; phi zone only)",
        patient_name="original patient name from the RIS extract (PHI; phi zone only)",
        exam_date="original, unshifted exam date from the RIS extract (PHI; phi zone only)",
        report_text="original report text (PHI; phi zone only)",
        patient_id_matches="the RIS Patient ID equals the study's DICOM Patient ID (null when either is missing)"),
    "phi/crosswalk": _pick(
        _PHI, "patient_id accession study_uid series_uid sop_instance_uid",
        source="input file path relative to the --dicom folder (may contain PHI)",
        date_shift_days="days added to this patient's dates (negative: shifted back in time)"),
    # --- curated zone ---
    "curated/studies": {
        "modality": "DICOM Modality of the study (first non-null among its images)",
        "body_part": "Body Part Examined (first non-null among the study's images)",
        "description": "Study Description after de-identification (PHI replaced, dates shifted)",
        "n_series": "series in the study",
        "n_instances": "image instances in the study",
    },
    "curated/series": {
        "modality": "DICOM Modality of the series (first non-null among its images)",
        "body_part": "Body Part Examined (first non-null among the series' images)",
        "description": "Series Description after de-identification (PHI replaced, dates shifted)",
        "n_instances": "image instances in the series",
    },
    "curated/instances": {
        "path": "the de-identified DICOM file, relative to `curated/` (dicom/<patient>/<study>/<series>/<image>.dcm)",
        "number_of_frames": "frames in the image (Number of Frames; 1 when omitted for an image with pixel data)",
        "transfer_syntax": "Transfer Syntax UID of the de-identified file",
    },
    "curated/deid_audit": {
        "instance_key": "pseudonym of the image acted on",
        "path": "attribute path acted on (Sequence[i].Keyword for nested elements; PixelData[...] for pixel actions)",
        "x0": "blanked pixel region, left column (inclusive; only on blanked rows)",
        "y0": "blanked pixel region, top row (inclusive; only on blanked rows)",
        "x1": "blanked pixel region, right column (exclusive; only on blanked rows)",
        "y1": "blanked pixel region, bottom row (exclusive; only on blanked rows)",
    },
    "curated/reports": {
        "study_key": "pseudonym of the imaging study the report describes",
        "study_date": "study date, shifted per patient",
        "text": "report text with PHI removed or replaced",
    },
    "curated/annotations": {
        "kind": "annotation object type: GSPS (any presentation state) or SR (structured report)",
        "path": "the de-identified annotation object, relative to `curated/` (annotations/...)",
        "n_references": "distinct images the object references",
    },
    "curated/annotation_references": {
        "referenced_uid": "the referenced image's UID as written in the de-identified annotation object",
        "instance_key": "pseudonym of the referenced image (absent from curated/instances when that image was quarantined)",
    },
    "curated/images": {
        "rows": "height of the stored pixels",
        "columns": "width of the stored pixels",
        "pixels": "one frame: C-order little-endian bytes of an array of `shape` and `dtype` (CT in HU; "
                  "others as stored or through the modality LUT)",
    },
    "curated/image_splits": {
        "split": "the patient's split: train, val or test",
        "fold": "the patient's cross-validation fold (null for test)",
    },
    "curated/lesions": {
        "series_key": "series of the image the cross is on (null for report-only rows)",
        "instance_key": "image the cross is on (null for report-only rows)",
        "series_number": "Series Number of the image (for report-only rows: the series the report cites)",
        "instance_number": "Instance Number of the image (for report-only rows: the image the report cites)",
        "source": "where the lesion comes from: GSPS, SR (a drawn cross) or report (a stated size only)",
        "annotation_key": "the annotation object holding the cross (null for report-only rows)",
        "annotation_label": "the reader's label of the cross, or the SR tracking identifier",
        "long_axis_mm": "long axis in mm: the drawn cross's length times Pixel Spacing, or the report's size",
        "short_axis_mm": "short axis in mm: the drawn cross's length times Pixel Spacing, or the report's size",
        "box_x0": "box around the cross (grown 15% of the long axis + 2 px), left pixel column (inclusive)",
        "mask": "weak lesion mask over the box: uint8 0/1 bytes, C order, (box_y1 - box_y0) x (box_x1 - box_x0)",
        "mask_method": "how the mask was made: ellipse (through the cross) or grabcut (refined in the box)",
        "pixels_blanked": "de-identification blanked a region overlapping the box: the lesion may be erased",
        "report_key": "report of the linked measurement (null when none is linked)",
        "sentence_index": "sentence of the linked measurement in the report (0-based)",
        "char_start": "start offset of the linked measurement in the report text",
        "char_end": "end offset (exclusive) of the linked measurement in the report text",
        "finding": "finding of the linked measurement (nodule, mass, lymph node, ...), else the SR's coded finding",
        "kind": "lesion or lymph_node, from the linked measurement (null when none is linked)",
        "location": "location of the linked measurement, else the SR's coded finding site",
        "lesion_label": "lesion label the report writes for the linked measurement (Target lesion N, ...)",
        "timepoint": "timepoint of the linked measurement (current); null when none is linked",
        "report_long_axis_mm": "long axis the report states for the linked measurement, mm",
        "report_short_axis_mm": "short axis the report states for the linked measurement, mm",
        "size_difference_mm": "mean disagreement between the drawn and stated axes, mm",
        "link_confidence": "confidence of the cross-to-report link (falls with size disagreement and an off-by-one image)",
    },
    "curated/labels": {**_LABELS, "study_key": "pseudonym of the study the labelled report describes"},
    "curated/recist": {
        "study_date": "study date, shifted per patient",
        "timepoint": "0 = baseline; index of the time point among the patient's CT, MR and PET studies by date",
        "sum_mm": "sum of target diameters stated in the report text, mm (null when NE)",
    },
    "curated/recist_images": {
        "timepoint": "0 = baseline; index of the time point among the patient's annotated CT, MR or PET studies by date",
        "sum_mm": "sum of target diameters drawn on the images, mm",
        "text_sum_mm": "sum_mm of the report-text RECIST for the same study (null when none)",
        "text_response": "response of the report-text RECIST for the same study (null when none)",
        "sum_difference_mm": "sum_mm minus text_sum_mm, mm",
        "response_agrees": "response equals text_response (null when the text has no row for the study)",
    },
    # --- standalone outputs (radcurate mine / label) and curated tables of the same name ---
    "quarantine": dict(_QUARANTINE),
    "mentions": {**_MENTIONS, "report_id": _TOPICS_DOC},
    "rule_labels": {**_RULE_LABELS, "report_id": _TOPICS_DOC},
    "labels": {**_LABELS, "report_id": _TOPICS_DOC,
               "value": "label: 1 present, 0 absent, -1 uncertain, null not mentioned (the label model's, after the "
                        "uncertainty policy, when the table has `policy`; else the rules')"},
    "measurements": {**_MEASUREMENTS, "report_id": _TOPICS_DOC},
    "topics": {"report_id": _TOPICS_DOC},
    "recist": {
        "report_id": "report id (from the extract's id column) of the time point's study",
        "patient_id": "patient id from the extract's patient column (an original identifier unless the extract was de-identified)",
        "study_date": "study date from the extract's date column",
        "timepoint": "0 = baseline; index among the patient's reports stating a lesion size or resolution, by date",
        "sum_mm": "sum of target diameters stated in the report text, mm (null when NE)",
    },
    # --- synthetic data (curated/synthetic/<kind>/) ---
    "synthetic/lowdose": {
        "instance_key": "image the low-dose pair was made from", "series_key": "series of the parent image",
        "study_key": "study of the parent image", "patient_key": "patient of the parent image (training split only)",
        "parent_instance_key": "the curated image the pair was made from",
        "dose_fraction": "dose of the simulated acquisition as a fraction of full dose",
        "geometry": "projector geometry of the simulation (parallel or fan)",
        "pixels": "simulated low-dose slice: int16 HU bytes, C order, of `shape`",
        "full_dose_pixels": "noiseless full-dose reference reconstructed the same way: int16 HU bytes of `shape`",
    },
    "synthetic/lesions": {
        "instance_key": "image the lesion was inserted into", "series_key": "series of the parent image",
        "study_key": "study of the parent image", "patient_key": "patient of the parent image (training split only)",
        "parent_instance_key": "the curated image the lesion was inserted into",
        "location": "where the lesion was inserted (lung)",
        "long_axis_mm": "long axis of the inserted lesion's mask on this image, mm",
        "short_axis_mm": "short axis of the inserted lesion's mask on this image, mm",
        "diameter_mm": "longest diameter of the modelled 3-D lesion, mm",
        "lesion_hu": "attenuation of the modelled lesion, HU",
        "contrast": "lesion contrast: HU over the local background (CT) or peak line integral added (radiograph)",
        "box_x0": "bounding box of the inserted lesion's mask, left pixel column (inclusive)",
        "pixels": "the parent image with the lesion inserted: bytes of `shape` and `dtype`, C order",
    },
    "synthetic/gan": {
        "instance_key": "the sample's own image key (= synthetic_key): a generated patch is a new image",
        "series_key": "series of the image of the training patch nearest to the sample",
        "study_key": "study of that image", "patient_key": "patient of that image (training split)",
        "parent_instance_key": "image of the training patch nearest to the sample",
        "class_name": "class the sample was generated for (no_lesion, nodule, mass)",
        "class_index": "index of class_name in the generator's class list",
        "checkpoint_sha256": "SHA-256 of the generator checkpoint that made the sample",
        "nearest_train_distance": "RMS distance to the nearest training patch, in [-1, 1] intensity units",
        "rows": "patch height in pixels", "columns": "patch width in pixels",
        "pixels": "generated CT patch: int16 HU bytes, C order, of `shape`",
    },
    # --- synthetic export ground truth (EXPORT/truth/) ---
    "truth/studies": _pick(
        _TRUTH, "patient_id patient_name birth_date accession study_uid study_date",
        modality="modality the export wrote (CT, DX or CR)",
        timepoint="visit index of the study within its patient (0 = baseline)",
        n_instances="image files the export wrote for the study"),
    "truth/findings": _pick(
        _TRUTH, "accession",
        finding="ChestX-ray14 finding name",
        present="the finding is truly present in the study's images",
        assertion="how the report states the finding: positive, negative, uncertain or not_mentioned",
        chexpert="the CheXpert name of the finding (null when CheXpert has none)"),
    "truth/lesions": _pick(
        _TRUTH, "patient_id accession lesion_id finding kind location series_number instance_number",
        lesion_label="label the report gives the lesion (Target lesion N, Lesion N); null when unlabelled",
        long_axis_mm="true long-axis diameter of the lesion, mm",
        short_axis_mm="true short-axis diameter of the lesion, mm",
        craniocaudal_mm="true cranio-caudal extent of the lesion, mm",
        center_x_mm="true lesion centre, patient x coordinate, mm",
        center_y_mm="true lesion centre, patient y coordinate, mm",
        center_z_mm="true lesion centre, patient z coordinate, mm",
        stated_long_mm="long axis as the report states it, mm (null when not stated)",
        stated_short_mm="short axis as the report states it, mm (null when not stated)",
        prior_long_mm="prior long axis the report quotes for comparison, mm (null when none)",
        prior_short_mm="prior short axis the report quotes for comparison, mm (null when none)"),
    "truth/measurements": _pick(
        _TRUTH, "accession",
        kind="what the size measures: lesion, lymph_node, organ, device or other",
        long_axis_mm="long axis written in the report, mm (null when only a short axis was written)",
        short_axis_mm="short axis written in the report, mm (null when not written)",
        third_axis_mm="third dimension written in the report, mm (null when not written)",
        timepoint="current (this study's size) or prior (a size quoted for comparison)",
        series="series number the report cites with the size (null when none)",
        image="image number the report cites with the size (null when none)",
        lesion_label="lesion label written with the size (Target lesion N, Lesion N); null when none",
        text="the size as the report writes it"),
    "truth/recist": _pick(
        _TRUTH, "patient_id accession",
        timepoint="index of the CT time point within the patient (0 = baseline)",
        sum_mm="sum of the targets' true diameters (long axes of lesions, short axes of nodes), mm",
        nadir_mm="smallest true sum at earlier time points (the baseline sum at baseline), mm",
        response="RECIST 1.1 response over true sizes (BASELINE, CR, PR, SD, PD)"),
    "truth/phi": {
        "value": "a PHI value the export planted, as written (PHI by design)",
        "kind": "type of PHI (patient_name, patient_id, date, uid, accession, phone, address, ...)",
        "where": "where it was planted: dicom, pixels, path or report",
        "location": "place within it: DICOM attribute path, report column, pixel box x0,y0,x1,y1, or folder name",
        "source": "file or folder path relative to the export's pacs folder, or the accession for report rows",
    },
    "truth/burned_in": {
        "path": "image file relative to the export's pacs folder",
        "x0": "burned-in text line, left pixel column (inclusive)",
        "y0": "burned-in text line, top pixel row (inclusive)",
        "x1": "burned-in text line, right pixel column (exclusive)",
        "y1": "burned-in text line, bottom pixel row (exclusive)",
        "text": "the text burned into the pixels (PHI by design)",
        "flag": "what the file's Burned In Annotation says: YES, NO or absent",
    },
    "truth/corrupt": {
        "source": "corrupted file relative to the export's pacs folder, or the accession of a corrupted report",
        "kind": "corruption made (zero_byte_file, truncated_in_pixel_data, png_file, duplicate_file, ...)",
        "expected_reason": "quarantine reason the pipeline should give it",
        "detail": "what was done to it",
    },
    "truth/annotations": _pick(
        _TRUTH, "patient_id accession lesion_id finding kind location",
        path="annotation object file relative to the export's pacs folder",
        sop_instance_uid="SOP Instance UID of the annotation object as written (original)",
        source="annotation object type: GSPS or SR",
        lesion_label="the reader's label in the object (Target lesion N or Non-target lesion N)",
        target="the lesion is a RECIST target",
        series_number="Series Number of the CT image the cross is drawn on",
        instance_number="Instance Number of the CT image the cross is drawn on",
        referenced_sop_instance_uid="SOP Instance UID of that CT image as written (original)",
        stated_in_report="the study's report states this lesion's size with a series/image reference",
        true_long_mm="true long diameter of the lesion's cross-section on that slice, mm",
        true_short_mm="true short diameter of the lesion's cross-section on that slice, mm",
        annotated_long_mm="length of the drawn long axis, mm",
        annotated_short_mm="length of the drawn short axis, mm",
        center_col="true cross-section centre, pixel column (0 is the left edge of the first pixel)",
        center_row="true cross-section centre, pixel row (0 is the top edge of the first pixel)",
        semi_long_px="true semi-long axis of the cross-section, pixels",
        semi_short_px="true semi-short axis of the cross-section, pixels",
        angle_rad="in-plane angle of the long axis from the +x (column) axis toward +y (row), radians",
        pixel_mm="pixel spacing of the CT image, mm (square pixels)",
        max_endpoint_error_mm="the most a drawn endpoint may stray from the true one (reader error), mm"),
}


def describe(column: str, table: str | None = None) -> str | None:
    """Look up TABLE_COLUMNS[table] (table given as "zone/name"), then TABLE_COLUMNS[bare name], then
    COLUMNS[column]; None when unknown.

    A longer path (``curated/synthetic/lowdose``) is also tried by its last two parts
    (``synthetic/lowdose``); a ``.parquet`` suffix is ignored.
    """
    if table:
        parts = [p.removesuffix(".parquet") for p in table.strip("/").split("/") if p]
        for key in dict.fromkeys(("/".join(parts), "/".join(parts[-2:]), parts[-1] if parts else "")):
            doc = TABLE_COLUMNS.get(key, {}).get(column)
            if doc is not None:
                return doc
    return COLUMNS.get(column)
