"""radcurate deid stage: DICOM (PS3.15 Annex E Basic Profile + options) and report de-identification.

Public API::

    from radcurate.deid import run_deid, DeidConfig, DicomDeidentifier, load_annex_e
    summary = run_deid("out")  # after `radcurate ingest` wrote OUT/phi; or run_deid("out", reports_file=...)
"""

from radcurate.lazy import lazy_exports

_EXPORTS = {
    "STAGE": "stage", "OUTPUTS": "stage",
    "EDITION": "annex_e", "AnnexE": "annex_e", "load_annex_e": "annex_e",
    "DeidConfig": "config", "DicomDeidentifier": "dicom",
    "deid_batch": "files", "deidentify_file": "files", "Keyer": "keys",
    "DeidSummary": "run", "run_deid": "run",
    "Box": "textdetect", "detect_text": "textdetect",
    "burned_in_scores": "verify", "find_leaks": "verify",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
