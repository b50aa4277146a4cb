"""Check the import contracts of ``pyproject.toml`` ([tool.importlinter]) with import-linter.

The stage packages are installed as ``radcurate.<stage>`` from the repository's top-level folders
(``[tool.setuptools.package-dir]``), a layout import-linter cannot walk through an editable
install. This script lays the installed layout out as symbolic links in a temporary folder, puts
it first on the path and runs ``lint-imports``. Exit code: import-linter's (0 when every contract
holds). ``make test`` runs it through ``tests/test_architecture.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def installed_layout(target: Path) -> Path:
    """``target/radcurate`` as pip would install it, made of links into the repository."""
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    package = target / "radcurate"
    package.mkdir()
    for entry in (ROOT / mapping["radcurate"]).iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for name, folder in mapping.items():
        if name != "radcurate":
            (package / name.split(".", 1)[1]).symlink_to(ROOT / folder, target_is_directory=True)
    return package


def lint(layout: Path, *args: str, **run: object) -> subprocess.CompletedProcess:
    """``lint-imports`` over the package laid out under ``layout`` (see :func:`installed_layout`)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(layout), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    command = Path(sys.executable).with_name("lint-imports")
    # import-linter puts its working folder first on the path: run it from the laid-out tree
    return subprocess.run([str(command), "--no-cache", str(ROOT / "pyproject.toml"), *args], cwd=layout,
                          env=env, **run)


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="radcurate-lint-") as tmp:
        installed_layout(Path(tmp))
        return lint(Path(tmp), *argv).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
