"""radcurate deid stage: DICOM (PS3.15 Annex E Basic Profile + options) and report de-identification.

Public API::

    from radcurate.deid import run_deid, DeidConfig, DicomDeidentifier, load_annex_e
    summary = run_deid("out")  # after `radcurate ingest` wrote OUT/phi; or run_deid("out", reports_file=...)
"""

from .annex_e import EDITION, AnnexE, load_annex_e
from .config import DeidConfig
from .dicom import DicomDeidentifier
from .files import deid_batch, deidentify_file
from .keys import Keyer
from .stage import DeidSummary, run_deid
from .textdetect import Box, detect_text
from .verify import burned_in_scores, find_leaks

__all__ = ["EDITION", "AnnexE", "Box", "DeidConfig", "DeidSummary", "DicomDeidentifier", "Keyer",
           "burned_in_scores", "deid_batch", "deidentify_file", "detect_text", "find_leaks", "load_annex_e",
           "run_deid"]
