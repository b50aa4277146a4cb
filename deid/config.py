"""Typed configuration of the deid stage (defaults in code; the CLI and dags override fields)."""

from __future__ import annotations

from dataclasses import dataclass, field

NAME = "deid"  # the stage's name: its config section and its quarantine rows' stage
TEXT_DETECTORS = ("auto", "tesseract", "numpy", "none")
SURROGATES = ("tag", "fake")


@dataclass(frozen=True)
class DeidConfig:
    """What the deid stage does.

    The four PS3.15 options are on by default: Retain Longitudinal Temporal Information with
    Modified Dates (one shift per patient, so intervals between studies survive), Retain Patient
    Characteristics (sex, size, weight kept; ages over ``max_age_years`` capped), Clean Descriptors
    (free-text descriptions scrubbed of PHI instead of removed) and Clean Pixel Data (burned-in text
    blanked). ``text_detector``: ``auto`` (Tesseract confirms candidate regions when the binary is
    installed, numpy detector otherwise), ``tesseract``, ``numpy``, or ``none`` (no pixel check).
    ``surrogates``: what replaces PHI in report text — ``tag`` (``[NAME]``,
    ``[DATE]``, ...; dates are shifted, not tagged) or ``fake`` (realistic, deterministic fakes keyed
    by the project secret). ``decode_timeout``: seconds a file's compressed pixel data may take to
    decode in a child process before the worker decodes it (JPEG, JPEG-LS, JPEG 2000: decoders that
    can abort or hang on a malformed file; see :mod:`radcurate.isolation`); 0 decodes in the worker
    only (a panic is still caught there).
    """

    retain_dates: bool = True
    retain_patient_characteristics: bool = True
    clean_descriptors: bool = True
    clean_pixels: bool = True
    text_detector: str = field(default="numpy", metadata={"choices": TEXT_DETECTORS})
    max_age_years: int = 89
    secret_file: str | None = field(default=None, metadata={"path": True})  # relative: to the config file
    keep_columns: tuple[str, ...] = ()
    crosswalk: bool = False
    batch_size: int = 64
    annex_e_edition: str = "2026c"
    surrogates: str = field(default="tag", metadata={"choices": SURROGATES})
    decode_timeout: float = 120.0

    def __post_init__(self):
        if float(self.decode_timeout) < 0:
            raise ValueError("decode_timeout must be >= 0 seconds (0: no child process)")
