"""radcurate images: curated DICOM -> pixels in sharded Parquet (``curated/images/``) and
patient-level splits (``curated/splits.parquet``). Reads only the curated zone."""

from radcurate.lazy import lazy_exports

_EXPORTS = {
    "STAGE": "stage", "SPLITS_STAGE": "stage", "OUTPUTS": "stage",
    "ImagesConfig": "config", "SplitsConfig": "config",
    "assign_splits": "splits", "patient_strata": "splits", "run_splits": "splits",
    "ImagesSummary": "run", "images_task": "run", "plan_tasks": "run", "run_images": "run",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
