"""radcurate images: curated DICOM -> pixels in sharded Parquet (``curated/images/``) and
patient-level splits (``curated/splits.parquet``). Reads only the curated zone."""

from .config import ImagesConfig, SplitsConfig
from .splits import assign_splits, patient_strata, run_splits
from .stage import ImagesSummary, images_task, plan_tasks, run_images

__all__ = ["ImagesConfig", "SplitsConfig", "ImagesSummary", "images_task", "plan_tasks", "run_images",
           "assign_splits", "patient_strata", "run_splits"]
