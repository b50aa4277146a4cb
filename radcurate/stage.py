"""The contract between a stage package and the runner: :class:`Stage` and :class:`StageContext`.

Each stage package (``ingest``, ``deid``, ``nlp``, ...) exports one ``STAGE``: a top-level function
``StageContext -> dict of counts``, the inputs it reads (``input:<name>`` for a run input such as
``input:dicom``, or paths under OUT that an earlier stage wrote), the outputs it owns under OUT, its
expectation suites, its config parser and its summary line. ``dags/`` puts the stages in order
(``PIPELINE``) and runs them; nothing here knows any particular stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

INPUT_PREFIX = "input:"


@dataclass(frozen=True)
class StageContext:
    """What a stage function gets: the run's inputs and output folder, a Dask client (or None
    for in-process work), its own config section and whether to show progress bars."""

    out_dir: Path
    inputs: Mapping[str, Path | None]
    client: Any = None
    config: Mapping[str, Any] = field(default_factory=dict)
    progress: bool = False


StageFunction = Callable[[StageContext], Mapping[str, Any]]
# suite(out_dir, inputs, result) -> the TableSuites (radcurate.checks) checked after the stage ran
SuiteBuilder = Callable[[Path, Mapping[str, Any], Mapping[str, Any]], Sequence[Any]]


@dataclass(frozen=True)
class Stage:
    """One node of the stage graph.

    ``inputs``: ``input:<name>`` for a run input (a file or folder given on the command line) or a
    path relative to OUT written by a stage in ``depends_on``; they are fingerprinted to decide
    whether a completed stage can be skipped. ``outputs``: paths relative to OUT that the stage
    owns; they are removed before the stage is redone. Quarantine rows go to the shared
    ``OUT/quarantine.parquet`` (replaced per stage, so reruns never duplicate them).
    ``suite(out_dir, inputs, result)`` declares the expectations checked after the stage ran.
    ``headline(result)`` is its line in the run summary; ``configure(section)`` parses its config
    section into a typed config and raises ``ValueError`` on a bad one, so a typo fails before
    anything runs. ``config_inputs(section)`` names the files a section points at, as
    ``{name: fingerprint}``: part of the input fingerprint (editing a lexicon reruns the stage).
    ``preflight(section, inputs, out_dir)`` checks what must hold before anything is written
    (a report extract's columns, the secret's location) and raises ``ValueError`` saying what is
    wrong. ``optional``: run only when the run's config has a section of this stage's name.
    """

    name: str
    function: StageFunction
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    suite: SuiteBuilder | None = None
    depends_on: tuple[str, ...] = ()
    headline: Callable[[Mapping[str, Any]], str] | None = None
    configure: Callable[[Mapping[str, Any]], Any] | None = None
    config_inputs: Callable[[Mapping[str, Any], Path], Mapping[str, str]] | None = None
    preflight: Callable[[Mapping[str, Any], Mapping[str, Path | None], Path], None] | None = None
    optional: bool = False
