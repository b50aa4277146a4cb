"""The code version recorded in every manifest and training run: ``0.1.0+g<commit>`` from a git
checkout (git describe's convention), the package version otherwise."""

from __future__ import annotations

import subprocess
from pathlib import Path

from radcurate import __version__


def code_version() -> str:
    """Package version, plus the git commit when running from a checkout."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(Path(__file__).resolve().parent), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{commit}" if commit else __version__
