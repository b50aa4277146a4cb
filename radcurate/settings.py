"""Config dataclasses from config-file sections, and the one reader of settings files.

Every stage's typed config (``IngestConfig``, ``ImagesConfig``, ``LowDoseConfig``, ...) is built from a
plain mapping by :func:`dataclass_from`, the one place unknown keys are refused; the run-level
pydantic check (``dags/config.py``) sits on top. :func:`read_settings_file` reads the YAML/JSON files
that ``radcurate run --config`` and the stages' own commands take.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Mapping, TypeVar

T = TypeVar("T")


def dataclass_from(cls: type[T], section: Mapping[str, Any] | None, what: str = "") -> T:
    """``cls(**section)`` with YAML lists turned into tuples; an unknown key is a ``ValueError``
    naming it and the known ones (``what`` says whose settings, e.g. ``"low-dose"``).

    >>> @dataclasses.dataclass(frozen=True)
    ... class C:
    ...     sizes: tuple = (1,)
    >>> dataclass_from(C, {"sizes": [2, 3]})
    C(sizes=(2, 3))
    >>> dataclass_from(C, {"size": 2}, "demo")
    Traceback (most recent call last):
    ValueError: unknown demo setting(s) size; known: sizes
    """
    section = dict(section or {})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(section) - names)
    if unknown:
        whose = f"{what} " if what else ""
        raise ValueError(f"unknown {whose}setting(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in section.items()})


def read_settings_file(path: str | os.PathLike) -> Any:
    """The contents of a YAML or JSON settings file (``.json`` is JSON, anything else YAML; an
    empty YAML file is ``{}``). An unreadable or malformed file is a ``ValueError`` that says
    which, never a traceback; the caller checks the shape."""
    path = str(path)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ValueError(f"cannot read {path} ({type(exc).__name__})") from None
    if path.endswith(".json"):
        try:
            return json.loads(text)
        except ValueError:
            raise ValueError("not valid JSON") from None
    import yaml

    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML ({type(exc).__name__})") from None
