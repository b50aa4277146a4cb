"""Commands that chain two stages, composed here because stages never run each other.

- ``radcurate deid``: with ``--dicom``, the ingest stage reads the tree into OUT/phi first, then
  the deid stage de-identifies it (the pipeline's ingest -> deid, without the runner's state).
- ``radcurate mine``: the nlp stage's miner; with ``--reviewed``, the labeling stage's label model
  decides ``labels.parquet`` (the rule vote goes to ``rule_labels.parquet``).

Each stage's flags and work live in its own ``cli`` module; this module only joins them.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from radcurate.cluster import open_client
from radcurate.deid import cli as deid_cli
from radcurate.labeling import cli as labeling_cli
from radcurate.nlp import cli as nlp_cli
from radcurate.outlock import lock_output


def ingest_then_deid(out_dir: str | os.PathLike, dicom_dir: str | os.PathLike,
                     reports_file: str | os.PathLike | None = None, *, client: Any = None, config=None):
    """Read a DICOM tree (and report extract) with ingest into OUT/phi, then de-identify it.

    Duplicates, DICOMDIRs and unreadable files are quarantined by ingest's rules, as in the pipeline.
    """
    from radcurate.deid import DeidConfig, run_deid
    from radcurate.deid.keys import check_secret
    from radcurate.ingest import run_ingest

    config = config if config is not None else DeidConfig()
    check_secret(config.secret_file, out_dir)  # before ingest writes OUT/phi
    run_ingest(dicom_dir, reports_file, Path(out_dir), client=client)
    return run_deid(out_dir, include_reports=reports_file is not None, client=client, config=config)


def deid_command(args: argparse.Namespace) -> int:
    problem = deid_cli.check_args(args)
    if problem:
        return deid_cli.fail(ValueError(problem))
    try:
        with lock_output(args.out), open_client(args.scheduler, args.workers, args.worker_timeout) as client:
            if args.dicom:
                s = ingest_then_deid(args.out, args.dicom, args.reports, client=client,
                                     config=deid_cli.config_from_args(args))
            else:
                s = deid_cli.deid(args, client, after_ingest=False)
    except (OSError, ValueError) as exc:
        return deid_cli.fail(exc)
    deid_cli.print_summary(s, args.out)
    return 0


def mine_command(args: argparse.Namespace) -> int:
    labeler = None
    if args.reviewed:
        try:
            labeler = labeling_cli.reviewed_labeler(args.reviewed)
        except (OSError, ValueError) as exc:
            print(f"error: cannot use reviewed labels {args.reviewed}: {exc}", file=sys.stderr)
            return 2
    return nlp_cli.run_mine(args, labeler)


def register(subparsers: argparse._SubParsersAction) -> None:
    deid = subparsers.add_parser("deid", help=deid_cli.HELP, description=deid_cli.DESCRIPTION)
    deid_cli.add_arguments(deid)
    deid.set_defaults(func=deid_command)

    mine = subparsers.add_parser("mine", help=nlp_cli.MINE_HELP, description=nlp_cli.MINE_DESCRIPTION)
    nlp_cli.add_mine_arguments(mine)
    labeling_cli.add_reviewed_argument(mine)
    mine.set_defaults(func=mine_command)
