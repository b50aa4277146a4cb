"""The ``radcurate`` command line: one script, one subcommand per task.

Each module in ``STAGE_CLI_MODULES`` contributes subcommands through a ``register(subparsers)``
function: a stage's own ``cli`` module, or a ``dags`` module for commands that chain stages
(``deid --dicom`` runs ingest first; ``mine`` runs nlp and labeling). This module only collects them. Exit codes: 0 success, 1 the work ran but a check failed (validation,
goals), 2 bad usage or unreadable input.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Order is the order shown in --help: the stage graph first, then each stage's own commands.
STAGE_CLI_MODULES = [
    "radcurate.dags.commands",
    "radcurate.synthesis.cli",
    "radcurate.ingest.cli",
    "radcurate.dags.deid_command",
    "radcurate.dags.mine_command",
    "radcurate.labeling.cli",
    "radcurate.images.cli",
    "radcurate.training.cli",
    "radcurate.dags.synthesis_stages",
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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in STAGE_CLI_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a stage whose command line has not landed yet
            if exc.name and (exc.name == name or name.startswith(exc.name + ".")):
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = args.func(args)
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
