"""radcurate synthesis stage: digital chest phantoms and a synthetic PACS export with ground truth;
low-dose CT pairs, lesion insertion and augmentation from curated images.

Names are imported lazily (PEP 562), so the array-level modules (``tomography``, ``lowdose``,
``lesions``) load with torch and numpy alone: they run on a GPU machine that has no pydicom.
"""

from radcurate.lazy import lazy_exports

_EXPORTS = {
    "OPTIONAL_STAGES": "stage",
    "ExportConfig": "config", "generate_export": "export", "Lesion": "phantom", "Phantom": "phantom",
    "labels_at": "phantom", "render": "phantom", "PatientPlan": "plan", "StudyPlan": "plan",
    "plan_export": "plan", "project": "projection", "Measure": "recist_truth", "Response": "recist_truth",
    "recist_responses": "recist_truth", "select_targets": "recist_truth",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
