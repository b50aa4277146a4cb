"""``radcurate deid``: de-identify DICOM and reports into ``OUT/curated``.

The command's flags and its work on an OUT that ``radcurate ingest`` filled live here; with
``--dicom`` the command line root (``dags``) runs the ingest stage first, since stages never run
each other.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from radcurate.cluster import add_cluster_arguments

from .config import DeidConfig, SURROGATES, TEXT_DETECTORS

HELP = "de-identify DICOM (PS3.15 Basic Profile + options) and reports into OUT/curated"
DESCRIPTION = (
    "Apply the DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile with the "
    "Retain Longitudinal Temporal Information (Modified Dates), Retain Patient Characteristics, "
    "Clean Descriptors and Clean Pixel Data options to every DICOM file, and scrub the reports. "
    "Writes OUT/curated/dicom/<patient>/<study>/<series>/<instance>.dcm, studies/series/"
    "instances/reports tables, OUT/curated/deid_audit.parquet, and quarantine rows. Without "
    "--dicom/--reports it reads the manifests `radcurate ingest` wrote under OUT/phi. "
    "Example: radcurate deid --dicom export/pacs --reports export/ris/reports.csv --out out"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dicom", metavar="DIR", help="DICOM tree (runs ingest's reader first)")
    p.add_argument("--reports", metavar="FILE", help="RIS extract (.csv or .parquet); alone: reports-only run")
    p.add_argument("--out", required=True, metavar="OUT", help="output folder")
    p.add_argument("--keep-column", action="append", default=[], metavar="COL",
                   help="report column copied unchanged into curated/reports.parquet (repeatable)")
    p.add_argument("--secret", metavar="FILE",
                   help="project secret (default $RADCURATE_SECRET_FILE or ~/.config/radcurate/secret.key)")
    p.add_argument("--crosswalk", action="store_true", help="also write OUT/phi/crosswalk.parquet (PHI zone)")
    p.add_argument("--text-detector", choices=TEXT_DETECTORS, default=DeidConfig.text_detector,
                   help="burned-in text detector (default %(default)s; tesseract confirms numpy's candidates)")
    p.add_argument("--surrogates", choices=SURROGATES, default="tag",
                   help="replace PHI in report text with typed tags ([NAME], [PHONE], ...; dates are shifted) "
                        "or with realistic fakes keyed by the secret (default: tag)")
    add_cluster_arguments(p, default_workers=0)
    p.add_argument("--batch-size", type=int, default=DeidConfig.batch_size, metavar="N", help="files per task")


def check_args(args: argparse.Namespace) -> str | None:
    """What is wrong with the arguments before anything runs (None: nothing)."""
    phi = os.path.join(args.out, "phi")
    if not args.dicom and not args.reports and not os.path.exists(os.path.join(phi, "instances.parquet")) \
            and not os.path.exists(os.path.join(phi, "reports.parquet")):
        return "give --dicom and/or --reports, or run `radcurate ingest` into OUT first"
    return None


def config_from_args(args: argparse.Namespace) -> DeidConfig:
    return DeidConfig(secret_file=args.secret, keep_columns=tuple(args.keep_column), crosswalk=args.crosswalk,
                      text_detector=args.text_detector, batch_size=args.batch_size, surrogates=args.surrogates)


def deid(args: argparse.Namespace, client: Any, *, after_ingest: bool):
    """De-identify into ``args.out``: what ingest just wrote (``after_ingest``: reports only when
    ``--reports`` was given), or the manifests already under OUT/phi (plus ``--reports``)."""
    from .run import run_deid

    config = config_from_args(args)
    if after_ingest:
        return run_deid(args.out, include_reports=args.reports is not None, client=client, config=config)
    return run_deid(args.out, reports_file=args.reports, client=client, config=config)


def print_summary(s: Any, out: str) -> None:
    print(f"deid: {s.files_in} files -> {s.instances} de-identified instances "
          f"({s.studies} studies, {s.series} series, {s.patients} patients); {s.files_quarantined} quarantined")
    print(f"burned-in text: {s.text_regions_blanked} regions blanked in {s.files_with_text} files")
    if s.reports_in:
        print(f"reports: {s.reports_in} rows -> {s.reports} de-identified, {s.reports_quarantined} quarantined")
    for reason, n in s.quarantine_by_reason.items():
        print(f"  quarantine {reason:<24} {n}")
    print(f"{s.seconds:.1f} s, {s.files_per_second:.1f} files/s; outputs: {os.path.join(out, 'curated')}/")


def fail(exc: BaseException) -> int:
    """Exit 2 with one line: a missing file or bad value as is, other OS errors with their type."""
    if isinstance(exc, (FileNotFoundError, ValueError)):  # ExtractError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
    else:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 2
