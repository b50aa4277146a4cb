"""radcurate lesions stage: a DeepLesion-style lesion table from PACS annotations and report text.

``run_lesions(out_dir)`` reads the de-identified presentation states and SR measurement reports
(``curated/annotations``), the curated images and the mined measurements, and writes
``curated/lesions.parquet`` (schema :data:`LESIONS_SCHEMA`: one row per measured lesion on a slice,
with endpoints, diameters, box, weak mask and the linked report measurement) and
``curated/recist_images.parquet`` (RECIST from annotation diameters, compared with the text's).
"""

from .masks import box_of, ellipse_mask, grabcut_mask
from .read import Cross, read_crosses
from .recist import RECIST_IMAGES_SCHEMA, recist_from_annotations
from .stage import OUTPUTS, STAGE, LesionsConfig, run_lesions
from .table import LESIONS_SCHEMA, LinkConfig, link

__all__ = ["Cross", "LESIONS_SCHEMA", "LesionsConfig", "LinkConfig", "OUTPUTS", "RECIST_IMAGES_SCHEMA", "STAGE",
           "box_of", "ellipse_mask", "grabcut_mask", "link", "read_crosses", "recist_from_annotations",
           "run_lesions"]
