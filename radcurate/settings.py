"""Config dataclasses from config-file sections: the one place unknown keys are refused.

Every stage's typed config (``IngestConfig``, ``ImagesConfig``, ``LowDoseConfig``, ...) is built from a
plain mapping by :func:`dataclass_from`; the run-level pydantic check (``dags/config.py``) sits on top.
"""

from __future__ import annotations

import dataclasses
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
