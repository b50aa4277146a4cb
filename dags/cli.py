"""The ``radcurate`` command line: one script, one subcommand per task.

Each module in ``STAGE_CLI_MODULES`` contributes subcommands through a ``register(subparsers)``
function: a stage's own ``cli`` module, or a ``dags`` module for commands that run the graph
(``run``, ``demo``) or chain two stages (``deid --dicom`` runs ingest first; ``mine`` runs nlp and,
with ``--reviewed``, labeling). This module only collects them. Exit codes: 0 success, 1 the work
ran but a check failed (validation, goals), 2 bad usage or unreadable input.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading

# Order is the order shown in --help: the stage graph first, then each stage's own commands.
STAGE_CLI_MODULES = [
    "radcurate.dags.commands",
    "radcurate.synthesis.cli",
    "radcurate.ingest.cli",
    "radcurate.dags.chained_commands",
    "radcurate.labeling.cli",
    "radcurate.images.cli",
    "radcurate.training.cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="radcurate",
        description=(
            "Turn a PACS export (DICOM) and a RIS report extract into a de-identified, labeled, "
            "validated Parquet dataset. Start with `radcurate demo`."
        ),
    )
    from radcurate import __version__

    parser.add_argument("--version", action="version", version=f"radcurate {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log lines (-v debug, -vv also Dask's own messages)")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in STAGE_CLI_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _interrupt(signum, frame) -> None:
    """Ctrl-C: stop with one line. What Dask's threads, tasks and exit hooks would print while
    the run unwinds (each a traceback) is silenced; the CLI prints the resume hint."""
    logging.disable(logging.CRITICAL)
    sys.unraisablehook = lambda unraisable: None
    threading.excepthook = lambda args: None
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _interrupt)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from radcurate.log import configure_logging

    configure_logging(-1 if args.quiet else args.verbose)
    try:
        code = args.func(args)
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
