"""De-identify a RIS report extract: structured columns to keys and shifted dates, text scrubbed.

One curated row per usable report: ``report_key``, ``study_key``, ``patient_key`` (keyed
pseudonyms from the project Keyer, the same the DICOM side computes), ``study_date`` (the exam date
moved by the patient's shift), ``text`` (scrubbed with the patient's shift so dates in the text
keep their intervals to the study date), plus any ``keep_columns`` copied unchanged. Rows that
cannot be processed become quarantine rows; their ``source`` is the accession's pseudonym (or the
row number), never the accession itself.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from dataclasses import dataclass, field, replace
from typing import Sequence

import pandas as pd
import pyarrow as pa

from radcurate.dates import parse_date
from radcurate.deid.keys import Keyer
from radcurate.deid.text_scrub import KnownPHI, ScrubConfig, scrub_text

from .config import NAME


@dataclass(frozen=True)
class ReportDeidConfig:
    """Column names of the report extract and how the text is scrubbed.

    Defaults are the synthetic export's columns. With ``surrogates_from_keyer`` fake surrogates
    (``scrub.style='fake'``) are keyed by the project secret, so they are stable across runs and
    unguessable without it.
    """

    accession_column: str = "accession"
    patient_id_column: str = "patient_id"
    patient_name_column: str = "patient_name"
    exam_date_column: str = "exam_date"
    text_column: str = "report_text"
    scrub: ScrubConfig = field(default_factory=ScrubConfig)
    surrogates_from_keyer: bool = True


# control characters, U+FFFD (read with errors="replace"), lone surrogates (errors="surrogateescape")
_UNDECODABLE = re.compile("[\x00-\x08\x0e-\x1f\ufffd\ud800-\udfff]")
OUTPUT_COLUMNS = ("report_key", "study_key", "patient_key", "study_date", "text")


def _clean(value) -> str | None:
    """A stripped string, or None for missing values (None, NaN, NA, blank)."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    s = str(value).strip()
    return s or None


def _bad_text(text) -> str | None:
    """Why a report text is unusable, or None."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return "undecodable_text"
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return "empty_report"
    if not isinstance(text, str):
        return "empty_report" if _clean(text) is None else None
    if not text.strip():
        return "empty_report"
    if _UNDECODABLE.search(text):
        return "undecodable_text"
    return None


def read_reports_extract(path: str | os.PathLike, keep_columns: Sequence[str] = ()) -> tuple[pd.DataFrame, list[dict], int]:
    """A RIS extract read by the one report reader (:func:`radcurate.extract.read_extract`).

    Returns the good rows as a frame, row-level quarantine rows (malformed, undecodable, too large,
    bad exam date; named ``<file>:row N``, never by accession) and the number of rows read. Raises
    ``ExtractError`` (a ValueError naming the file and the expected columns) for a file-level problem.
    """
    from radcurate.extract import read_extract

    extract = read_extract(path, required=("accession", "patient_id", "report_text"),
                           optional=("patient_name", "exam_date", *keep_columns),
                           text_columns=("report_text",), date_columns=("exam_date",))
    quarantine = [{"stage": NAME, **{k: v for k, v in q.items() if k != "row"}} for q in extract.quarantine]
    return extract.frame(), quarantine, extract.n_in


def deidentify_reports(reports: pd.DataFrame, keyer: Keyer, *, header_phi: dict[str, KnownPHI] | None = None,
                       config: ReportDeidConfig = ReportDeidConfig(),
                       keep_columns: Sequence[str] = ()) -> tuple[pd.DataFrame, list[dict]]:
    """Curated report rows and quarantine rows for a RIS report extract.

    ``header_phi`` maps patient_id to PHI read from DICOM headers (other name forms, other IDs,
    birth date) that the RIS row lacks; without it (a reports-only run) each report is scrubbed
    with the PHI of its own row (name, patient ID, accession) and of its text (names found by
    context are removed wherever they recur). ``keep_columns`` are copied unchanged: choose
    PHI-free ones. An exam date that does not parse gives a null ``study_date`` (the row is kept).
    Quarantine reasons: missing_accession, missing_patient_id, empty_report, undecodable_text,
    duplicate_accession. Raises ValueError when a needed column is absent.
    """
    cols = [config.accession_column, config.patient_id_column, config.text_column]
    missing = [c for c in [*cols, *keep_columns] if c not in reports.columns]
    if missing:
        raise ValueError(f"report extract lacks column(s) {missing}; have {list(reports.columns)}")
    scrub_cfg = config.scrub
    if config.surrogates_from_keyer and scrub_cfg.style == "fake" and not scrub_cfg.surrogate_salt:
        scrub_cfg = replace(scrub_cfg, surrogate_salt=keyer.digest("surrogate", "salt"))

    has_name = config.patient_name_column in reports.columns
    has_date = config.exam_date_column in reports.columns
    out: dict[str, list] = {c: [] for c in (*OUTPUT_COLUMNS, *keep_columns)}
    quarantine: list[dict] = []
    seen: set[str] = set()
    shifts: dict[str, int] = {}

    for i, row in enumerate(reports.itertuples(index=False, name=None)):
        rec = dict(zip(reports.columns, row))
        acc = _clean(rec[config.accession_column])
        pid = _clean(rec[config.patient_id_column])
        text = rec[config.text_column]
        source = keyer.accession_key(acc) if acc else f"row {i}"

        def bad(reason: str, detail: str):
            quarantine.append({"source": source, "stage": NAME, "reason": reason, "detail": detail})

        if acc is None:
            bad("missing_accession", f"report row {i} has no accession number")
            continue
        if pid is None:
            bad("missing_patient_id", f"report row {i} has no patient id")
            continue
        why = _bad_text(text)
        if why:
            bad(why, f"report row {i}: " + ("text is empty" if why == "empty_report"
                                             else "text has undecodable or control characters"))
            continue
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        if acc in seen:
            bad("duplicate_accession", f"report row {i} repeats an accession already de-identified")
            continue
        seen.add(acc)

        exam_date = parse_date(rec[config.exam_date_column], lenient=True) if has_date else None
        known = KnownPHI(names=[n for n in [_clean(rec[config.patient_name_column]) if has_name else None] if n],
                         ids=[pid, acc], dates=[exam_date] if exam_date else [])
        if header_phi and pid in header_phi:
            known = known.merged(header_phi[pid])
        if pid not in shifts:
            shifts[pid] = keyer.date_shift_days(pid)
        shift = shifts[pid]
        result = scrub_text(str(text), known, shift_days=shift, config=scrub_cfg)

        out["report_key"].append(keyer.pseudonym("report", acc))
        out["study_key"].append(keyer.study_key(accession=acc))
        out["patient_key"].append(keyer.patient_key(pid))
        out["study_date"].append(exam_date + dt.timedelta(days=shift) if exam_date else None)
        out["text"].append(result.text)
        for c in keep_columns:
            out[c].append(rec[c])

    frame = pd.DataFrame(out, columns=[*OUTPUT_COLUMNS, *keep_columns])
    for c in ("report_key", "study_key", "patient_key", "text"):
        frame[c] = frame[c].astype("string")
    frame["study_date"] = pd.array(out["study_date"], dtype=pd.ArrowDtype(pa.date32()))
    return frame, quarantine
