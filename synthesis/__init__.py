"""radcurate synthesis stage: digital chest phantoms and a synthetic PACS export with ground truth;
low-dose CT pairs, lesion insertion and augmentation from curated images.

Names are imported lazily (PEP 562), so the array-level modules (``tomography``, ``lowdose``,
``lesions``, ``augment``) load with torch and numpy alone: they run on a GPU machine that has no
pydicom, and ``training/`` can import the augmentation without the DICOM writer.
"""

from importlib import import_module

_EXPORTS = {
    "ExportConfig": "config", "generate_export": "export", "Lesion": "phantom", "Phantom": "phantom",
    "labels_at": "phantom", "render": "phantom", "PatientPlan": "plan", "StudyPlan": "plan",
    "plan_export": "plan", "project": "projection", "Measure": "recist_truth", "Response": "recist_truth",
    "recist_responses": "recist_truth", "select_targets": "recist_truth",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
