"""``radcurate ingest``: read a PACS export and a RIS extract into the PHI-zone manifests."""

from __future__ import annotations

import argparse
import os
import sys

from radcurate.cluster import add_cluster_arguments, open_client, show_progress
from radcurate.extract import ExtractError
from radcurate.outlock import lock_output

from .config import IngestConfig
from .run import run_ingest


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "ingest",
        help="read a DICOM tree and a report extract into OUT/phi/*.parquet",
        description=(
            "Walk a DICOM tree (any file names, DICOMDIR or not), read every header without its "
            "pixels, and write OUT/phi/instances, series, studies and reports (linked to studies "
            "by accession). Files and report rows that cannot be used go to "
            "OUT/quarantine.parquet with a reason; nothing is dropped silently."
        ),
    )
    p.add_argument("--dicom", required=True, metavar="DIR", help="root of the DICOM tree")
    p.add_argument("--reports", metavar="FILE", help="RIS extract (.csv or .parquet)")
    p.add_argument("--out", required=True, metavar="OUT", help="output folder")
    add_cluster_arguments(p)
    p.add_argument(
        "--batch-size", type=int, default=IngestConfig.batch_size, metavar="N", help="files per task"
    )
    p.set_defaults(func=ingest_command)


def ingest_command(args: argparse.Namespace) -> int:
    config = IngestConfig(batch_size=args.batch_size, show_progress=show_progress(args))
    for path, kind, ok in (
        (args.dicom, "DICOM folder", os.path.isdir),
        (args.reports, "report extract", os.path.isfile),
    ):
        if path is not None and not ok(path):
            print(f"error: {kind} not found: {path}", file=sys.stderr)
            return 2
    try:
        with lock_output(args.out), open_client(args.scheduler, args.workers, args.worker_timeout) as client:
            summary = run_ingest(args.dicom, args.reports, args.out, client=client, config=config)
    except (FileNotFoundError, ExtractError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. cannot connect to the scheduler
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(
        f"ingest: {summary.files_found} files -> {summary.instances} instances, "
        f"{summary.series} series, {summary.studies} studies; {summary.files_quarantined} files quarantined"
    )
    if summary.annotations:
        print(f"annotations: {summary.annotations} presentation states / SR documents (phi/annotations.parquet)")
    if args.reports:
        print(
            f"reports: {summary.reports_in} rows -> {summary.reports} linked, "
            f"{summary.reports_quarantined} quarantined"
        )
    for reason, n in summary.quarantine_by_reason.items():
        print(f"  quarantine {reason:<24} {n}")
    print(f"outputs: {os.path.join(args.out, 'phi')}/, {os.path.join(args.out, 'quarantine.parquet')}")
    if summary.instances == 0:
        what = "holds no files" if not summary.files_found else "holds no DICOM instance (see the quarantine)"
        print(f"error: the DICOM folder {args.dicom} {what}", file=sys.stderr)
        return 2
    return 0
