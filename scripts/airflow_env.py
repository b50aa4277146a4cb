"""An Airflow environment beside the project's, for running the DAG for real (tests, local trials).

Airflow pins many packages of its own (SQLAlchemy, FastAPI, ...), so it gets its own virtualenv,
cached outside the repository and keyed by Airflow and Python version:
``~/.cache/radcurate-airflow-venv/<airflow>-py<X.Y>`` (``$RADCURATE_AIRFLOW_VENV_ROOT`` overrides
the root). The project's packages (radcurate, Dask, Great Expectations, pydicom, ...) are not
installed twice: a ``.pth`` hook appends the site-packages named by ``$RADCURATE_PROJECT_SITE`` to
Airflow's ``sys.path`` *after* its own, so Airflow's pinned versions win where both have a package.

    python scripts/airflow_env.py            # create (once) and print the venv path
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

AIRFLOW_VERSION = "3.3.2"
HOOK = (
    "import os, site; list(map(site.addsitedir, "
    "filter(None, os.environ.get('RADCURATE_PROJECT_SITE', '').split(os.pathsep))))\n"
)


def venv_root() -> Path:
    return Path(os.environ.get("RADCURATE_AIRFLOW_VENV_ROOT", Path.home() / ".cache" / "radcurate-airflow-venv"))


def venv_path(version: str = AIRFLOW_VERSION) -> Path:
    return venv_root() / f"{version}-py{sys.version_info.major}.{sys.version_info.minor}"


def ensure_airflow_venv(version: str = AIRFLOW_VERSION, log=print) -> Path:
    """Create the venv and install Airflow unless a complete one is cached; return its path."""
    path = venv_path(version)
    stamp = path / ".radcurate-complete"
    if stamp.exists():
        _write_hook(path)
        return path
    base = Path(getattr(sys, "_base_executable", sys.executable))
    log(f"installing apache-airflow=={version} into {path} (once; ~2 min) ...")
    subprocess.run([str(base), "-m", "venv", "--clear", str(path)], check=True)
    py = path / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", f"apache-airflow=={version}"], check=True)
    _write_hook(path)
    stamp.write_text(version + "\n")
    return path


def _write_hook(path: Path) -> None:
    site = subprocess.run(
        [str(path / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True, env={k: v for k, v in os.environ.items() if k != "RADCURATE_PROJECT_SITE"},
    ).stdout.strip()
    hook = Path(site, "radcurate_project_site.pth")
    if not hook.exists() or hook.read_text() != HOOK:
        hook.write_text(HOOK)


def project_site() -> str:
    """This interpreter's site-packages (where radcurate and its dependencies are installed)."""
    return sysconfig.get_paths()["purelib"]


if __name__ == "__main__":
    print(ensure_airflow_venv())
