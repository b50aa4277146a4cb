"""The README's command summary is true: every command it lists runs with --help, and has every flag
it lists; every command `radcurate` offers is in the summary.

The summary is parsed, not copied here, so a command someone documents later is checked too.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from radcurate.dags.cli import build_parser, main

README = Path(__file__).resolve().parents[1] / "README.md"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def summary_block() -> str:
    """The first code block under the README's '## Command line' heading."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Command line", 1)[1].split("\n## ", 1)[0]
    return section.split("```", 2)[1]


def documented_commands() -> dict[tuple[str, ...], set[str]]:
    """{subcommand words: flags} from the summary: a line starting `radcurate` opens a command, an
    indented line starting with `[` or `--` continues it, other indented lines describe it."""
    commands: dict[tuple[str, ...], set[str]] = {}
    current = None
    for line in summary_block().splitlines():
        stripped = line.strip()
        if line.startswith("radcurate "):
            words = line.split()[1:]
            name = tuple(w for w in _leading(words))
            current = commands.setdefault(name, set())
            current.update(FLAG.findall(re.split(r"\s{3,}", line)[0]))
        elif current is not None and stripped.startswith(("[", "--")):
            current.update(FLAG.findall(stripped))
    return commands


def _leading(words):
    for w in words:
        if not re.fullmatch(r"[a-z][a-z0-9-]*", w):
            return
        yield w


DOCUMENTED = documented_commands()


def help_text(command: tuple[str, ...], capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_the_summary_is_found_and_parsed():
    assert ("run",) in DOCUMENTED and ("review", "export") in DOCUMENTED
    assert {"--dicom", "--out", "--workers"} <= DOCUMENTED[("run",)]


@pytest.mark.parametrize("command", sorted(DOCUMENTED), ids=" ".join)
def test_every_documented_command_and_flag_exists(command, capsys):
    text = help_text(command, capsys)
    assert text.startswith("usage: radcurate " + " ".join(command))
    offered = set(FLAG.findall(text))
    missing = DOCUMENTED[command] - offered
    assert not missing, f"README lists {sorted(missing)} for `radcurate {' '.join(command)}`, which has no such flag"


def test_every_command_radcurate_offers_is_in_the_summary():
    subparsers = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    documented = {c[0] for c in DOCUMENTED}
    missing = set(subparsers.choices) - documented
    assert not missing, f"commands missing from the README's command summary: {sorted(missing)}"


def test_the_installed_script_answers_help():
    out = subprocess.run([sys.executable, "-m", "radcurate.dags.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("usage: radcurate")
