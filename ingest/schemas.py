"""Arrow schemas of the ingest manifests in ``OUT/phi/`` (the raw zone: these hold PHI).

Key names are shared by every table: ``study_uid``, ``series_uid``, ``sop_instance_uid``,
``accession``, ``patient_id``. Dates are ``date32`` (invalid or empty DICOM DA values become null);
times stay strings as written. ``path`` is the absolute file path a later stage opens; ``relpath``
is the same file relative to the ``--dicom`` folder (and is the ``source`` of quarantine rows).
"""

from __future__ import annotations

import pyarrow as pa

FLOATS = pa.list_(pa.float64())

INSTANCE_SCHEMA = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("relpath", pa.string(), nullable=False),
        pa.field("size", pa.int64(), nullable=False),
        pa.field("sha256", pa.string(), nullable=False),
        pa.field("in_dicomdir", pa.bool_()),  # listed by a DICOMDIR of the tree (null: no DICOMDIR)
        pa.field("sop_class_uid", pa.string()),
        pa.field("sop_instance_uid", pa.string(), nullable=False),
        pa.field("series_uid", pa.string(), nullable=False),
        pa.field("study_uid", pa.string(), nullable=False),
        pa.field("frame_of_reference_uid", pa.string()),
        pa.field("transfer_syntax", pa.string()),
        pa.field("has_file_meta", pa.bool_()),  # False: read with force=True (no preamble/meta)
        pa.field("specific_character_set", pa.string()),
        pa.field("patient_id", pa.string()),
        pa.field("patient_name", pa.string()),
        pa.field("birth_date", pa.date32()),
        pa.field("sex", pa.string()),
        pa.field("age", pa.string()),
        pa.field("accession", pa.string()),
        pa.field("study_date", pa.date32()),
        pa.field("study_time", pa.string()),
        pa.field("study_description", pa.string()),
        pa.field("series_description", pa.string()),
        pa.field("modality", pa.string()),
        pa.field("body_part_examined", pa.string()),
        pa.field("manufacturer", pa.string()),
        pa.field("institution_name", pa.string()),
        pa.field("series_number", pa.int64()),
        pa.field("instance_number", pa.int64()),
        pa.field("rows", pa.int64()),
        pa.field("columns", pa.int64()),
        pa.field("number_of_frames", pa.int64()),
        pa.field("bits_allocated", pa.int64()),
        pa.field("photometric_interpretation", pa.string()),
        pa.field("pixel_spacing", FLOATS),
        pa.field("slice_thickness", pa.float64()),
        pa.field("image_position", FLOATS),
        pa.field("image_orientation", FLOATS),
        pa.field("rescale_slope", pa.float64()),
        pa.field("rescale_intercept", pa.float64()),
        pa.field("burned_in_annotation", pa.string()),  # YES / NO as written; null when absent
        pa.field("has_pixel_data", pa.bool_(), nullable=False),
        pa.field("pixel_data_offset", pa.int64()),  # byte offset of the pixel data element
        pa.field("pixel_data_length", pa.int64()),  # value length; -1 encapsulated (undefined)
    ]
)

# What a partition returns per file: an instance row, or the reason it cannot be one.
FILE_RESULT_SCHEMA = pa.schema(
    [f.with_nullable(True) for f in INSTANCE_SCHEMA]
    + [pa.field("reason", pa.string()), pa.field("detail", pa.string())]
)

SERIES_SCHEMA = pa.schema(
    [
        pa.field("series_uid", pa.string(), nullable=False),
        pa.field("study_uid", pa.string(), nullable=False),
        pa.field("patient_id", pa.string()),
        pa.field("modality", pa.string()),
        pa.field("series_number", pa.int64()),
        pa.field("series_description", pa.string()),
        pa.field("body_part_examined", pa.string()),
        pa.field("frame_of_reference_uid", pa.string()),
        pa.field("n_instances", pa.int64(), nullable=False),
    ]
)

STUDY_SCHEMA = pa.schema(
    [
        pa.field("study_uid", pa.string(), nullable=False),
        pa.field("patient_id", pa.string()),
        pa.field("patient_name", pa.string()),
        pa.field("birth_date", pa.date32()),
        pa.field("sex", pa.string()),
        pa.field("accession", pa.string()),
        pa.field("study_date", pa.date32()),
        pa.field("study_time", pa.string()),
        pa.field("study_description", pa.string()),
        pa.field("modalities", pa.list_(pa.string())),
        pa.field("n_series", pa.int64(), nullable=False),
        pa.field("n_instances", pa.int64(), nullable=False),
    ]
)

REPORT_SCHEMA = pa.schema(
    [
        pa.field("report_id", pa.string(), nullable=False),  # stable: hash of accession + text
        pa.field("row_number", pa.int64(), nullable=False),  # 1-based data row in the extract
        pa.field("accession", pa.string(), nullable=False),
        pa.field("patient_id", pa.string()),
        pa.field("patient_name", pa.string()),
        pa.field("exam_date", pa.date32()),
        pa.field("report_text", pa.string(), nullable=False),
        pa.field("study_uid", pa.string(), nullable=False),
        pa.field("patient_id_matches", pa.bool_()),  # RIS patient ID equals the study's DICOM one
    ]
)
