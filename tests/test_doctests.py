"""The examples in docstrings are true: every module's doctests run as part of `make test`.

Modules are found by walking the installed `radcurate` packages (the source folders map onto
`radcurate.<package>`, so pytest's own `--doctest-modules` would import them under the wrong names).
"""
from __future__ import annotations

import doctest
import importlib
import pkgutil
import tomllib
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

OPTIONAL = {"radcurate.dags.airflow_dag": "airflow"}  # imports an orchestrator that is not a dependency


def modules_with_examples() -> list[str]:
    packages = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["packages"]
    infos = [info for package in packages
             for info in pkgutil.iter_modules(importlib.import_module(package).__path__, package + ".")]
    names = []
    for info in infos:
        spec = importlib.util.find_spec(info.name)
        origin = spec.origin if spec else None
        if origin and origin.endswith(".py"):
            with open(origin, encoding="utf-8") as fh:
                if ">>>" in fh.read():
                    names.append(info.name)
    return sorted(names)


MODULES = modules_with_examples()


def test_the_examples_are_found():
    assert {"radcurate.nlp.assertion", "radcurate.nlp.sections", "radcurate.nlp.mine"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name):
    if name in OPTIONAL:
        pytest.importorskip(OPTIONAL[name])
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (see output above)"
