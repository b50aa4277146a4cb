"""``radcurate deid``: de-identify DICOM and reports into ``OUT/curated``.

Lives in ``dags`` because with ``--dicom`` it runs ingest first: stages never run each other, the
orchestration layer chains them (the same order as the pipeline's ingest -> deid).
"""

from __future__ import annotations

import argparse
import os
import sys

from pathlib import Path
from typing import Any

from radcurate.cluster import add_cluster_arguments, open_client
from radcurate.deid import DeidConfig, DeidSummary, run_deid


def ingest_then_deid(out_dir: str | os.PathLike, dicom_dir: str | os.PathLike,
                     reports_file: str | os.PathLike | None = None, *, client: Any = None,
                     config: DeidConfig = DeidConfig()) -> DeidSummary:
    """Read a DICOM tree (and report extract) with ingest into OUT/phi, then de-identify it.

    Duplicates, DICOMDIRs and unreadable files are quarantined by ingest's rules, as in the pipeline.
    """
    from radcurate.ingest import run_ingest

    run_ingest(dicom_dir, reports_file, Path(out_dir), client=client)
    return run_deid(out_dir, include_reports=reports_file is not None, client=client, config=config)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "deid",
        help="de-identify DICOM (PS3.15 Basic Profile + options) and reports into OUT/curated",
        description=(
            "Apply the DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile with the "
            "Retain Longitudinal Temporal Information (Modified Dates), Retain Patient Characteristics, "
            "Clean Descriptors and Clean Pixel Data options to every DICOM file, and scrub the reports. "
            "Writes OUT/curated/dicom/<patient>/<study>/<series>/<instance>.dcm, studies/series/"
            "instances/reports tables, OUT/curated/deid_audit.parquet, and quarantine rows. Without "
            "--dicom/--reports it reads the manifests `radcurate ingest` wrote under OUT/phi. "
            "Example: radcurate deid --dicom export/pacs --reports export/ris/reports.csv --out out"
        ),
    )
    p.add_argument("--dicom", metavar="DIR", help="DICOM tree (runs ingest's reader first)")
    p.add_argument("--reports", metavar="FILE", help="RIS extract (.csv or .parquet); alone: reports-only run")
    p.add_argument("--out", required=True, metavar="OUT", help="output folder")
    p.add_argument("--keep-column", action="append", default=[], metavar="COL",
                   help="report column copied unchanged into curated/reports.parquet (repeatable)")
    p.add_argument("--secret", metavar="FILE",
                   help="project secret (default $RADCURATE_SECRET_FILE or ~/.config/radcurate/secret.key)")
    p.add_argument("--crosswalk", action="store_true", help="also write OUT/phi/crosswalk.parquet (PHI zone)")
    p.add_argument("--text-detector", choices=("numpy", "tesseract", "auto", "none"), default=DeidConfig.text_detector,
                   help="burned-in text detector (default %(default)s; tesseract confirms numpy's candidates)")
    p.add_argument("--surrogates", choices=("tag", "fake"), default="tag",
                   help="replace PHI in report text with typed tags ([NAME], [PHONE], ...; dates are shifted) "
                        "or with realistic fakes keyed by the secret (default: tag)")
    add_cluster_arguments(p, default_workers=0)
    p.add_argument("--batch-size", type=int, default=DeidConfig.batch_size, metavar="N", help="files per task")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if not args.dicom and not args.reports and not os.path.exists(os.path.join(args.out, "phi", "instances.parquet")) \
            and not os.path.exists(os.path.join(args.out, "phi", "reports.parquet")):
        print("error: give --dicom and/or --reports, or run `radcurate ingest` into OUT first", file=sys.stderr)
        return 2
    config = DeidConfig(secret_file=args.secret, keep_columns=tuple(args.keep_column), crosswalk=args.crosswalk,
                        text_detector=args.text_detector, batch_size=args.batch_size, surrogates=args.surrogates)
    try:
        with open_client(args.scheduler, args.workers) as client:
            if args.dicom:
                s = ingest_then_deid(args.out, args.dicom, args.reports, client=client, config=config)
            else:
                s = run_deid(args.out, reports_file=args.reports, client=client, config=config)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(f"deid: {s.files_in} files -> {s.instances} de-identified instances "
          f"({s.studies} studies, {s.series} series, {s.patients} patients); {s.files_quarantined} quarantined")
    print(f"burned-in text: {s.text_regions_blanked} regions blanked in {s.files_with_text} files")
    if s.reports_in:
        print(f"reports: {s.reports_in} rows -> {s.reports} de-identified, {s.reports_quarantined} quarantined")
    for reason, n in s.quarantine_by_reason.items():
        print(f"  quarantine {reason:<24} {n}")
    print(f"{s.seconds:.1f} s, {s.files_per_second:.1f} files/s; outputs: {os.path.join(args.out, 'curated')}/")
    return 0
