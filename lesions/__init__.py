"""radcurate lesions stage: a DeepLesion-style lesion table from PACS annotations and report text.

``run_lesions(out_dir)`` reads the de-identified presentation states and SR measurement reports
(``curated/annotations``), the curated images and the mined measurements, and writes
``curated/lesions.parquet`` (schema :data:`LESIONS_SCHEMA`: one row per measured lesion on a slice,
with endpoints, diameters, box, weak mask and the linked report measurement) and
``curated/recist_images.parquet`` (RECIST from annotation diameters, compared with the text's).
"""

from radcurate.lazy import lazy_exports

_EXPORTS = {
    "STAGE": "stage", "OUTPUTS": "stage", "LesionsConfig": "config",
    "box_of": "masks", "ellipse_mask": "masks", "grabcut_mask": "masks",
    "Cross": "read", "read_crosses": "read",
    "RECIST_IMAGES_SCHEMA": "recist", "recist_from_annotations": "recist",
    "run_lesions": "run",
    "LESIONS_SCHEMA": "table", "LinkConfig": "table", "link": "table",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
