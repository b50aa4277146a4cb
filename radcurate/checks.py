"""The checks framework: Great Expectations suites at stage boundaries, and a readable report.

Each stage declares its suites (in its own ``checks`` module) as plain data (:class:`TableSuite` of :class:`Expectation`) so that stage
graphs can be built and pickled without importing Great Expectations; GE itself (about 2-3 s to
import) is imported once per process, only when a suite runs. Reports show the expectation, the
column and observed counts, never the offending values: these tables hold PHI.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd
import pyarrow.parquet as pq

from radcurate.tables import table_schema


@dataclass(frozen=True)
class Expectation:
    """One GE expectation by class name, e.g. ``Expectation("ExpectColumnValuesToBeUnique",
    {"column": "sop_instance_uid"})``; ``why`` explains it in the report."""

    type: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    why: str = ""


@dataclass(frozen=True)
class TableSuite:
    """Expectations over one Parquet table (``table`` relative to OUT); ``where`` keeps only the
    rows whose column equals a value (e.g. this stage's quarantine rows)."""

    name: str
    table: str
    expectations: tuple[Expectation, ...]
    where: tuple[str, Any] | None = None


@dataclass
class CheckResult:
    suite: str
    expectation: str
    column: str | None
    success: bool
    observed: str
    why: str = ""


@dataclass
class SuiteResult:
    suite: str
    table: str
    success: bool
    checks: list[CheckResult]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def not_null(*columns: str) -> tuple[Expectation, ...]:
    return tuple(Expectation("ExpectColumnValuesToNotBeNull", {"column": c}) for c in columns)


def unique(*columns: str) -> tuple[Expectation, ...]:
    return tuple(Expectation("ExpectColumnValuesToBeUnique", {"column": c}) for c in columns)


def row_count(value: int, why: str) -> Expectation:
    return Expectation("ExpectTableRowCountToEqual", {"value": int(value)}, why)


@functools.lru_cache(maxsize=1)
def _gx():
    """Import Great Expectations once per process, with its logging kept quiet."""
    import logging

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    import great_expectations as gx

    return gx


def validate(out_dir: str | Path, suites: Sequence[TableSuite], docs_dir: str | Path | None = None) -> list[SuiteResult]:
    """Run each suite on its table (a ValidationDefinition run by a Checkpoint); a missing or
    unreadable table fails its suite (not the run). With ``docs_dir``, GE Data Docs of the results
    are written there, PHI-safe (see :mod:`.data_docs`)."""
    if not suites:
        return []
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from radcurate import data_docs

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    if docs_dir is not None:
        data_docs.add_site(ctx, Path(docs_dir))
    source = ctx.data_sources.add_pandas("radcurate")
    results = []
    stored: list[dict[str, Any]] = []
    suite_names: list[str] = []
    for i, suite in enumerate(suites):
        path = Path(out_dir, suite.table)
        try:
            df = _read_columns(path, suite)
        except Exception as exc:
            check = CheckResult(
                suite.name, "table readable", None, False, f"cannot read {suite.table} ({type(exc).__name__})"
            )
            results.append(SuiteResult(suite.name, suite.table, False, [check]))
            continue
        if suite.where is not None:
            column, value = suite.where
            df = df[df[column] == value].reset_index(drop=True)
        batch_def = source.add_dataframe_asset(f"t{i}").add_batch_definition_whole_dataframe("all")
        gx_suite = ctx.suites.add(gx.ExpectationSuite(name=f"{suite.name}-{i}"))
        ours = {}  # GE's expectation id -> our declaration (for column and why)
        for exp in suite.expectations:
            added = gx_suite.add_expectation(getattr(gx.expectations, exp.type)(**exp.kwargs))
            ours[added.id] = exp
        definition = ctx.validation_definitions.add(
            gx.ValidationDefinition(name=f"{suite.name}-{i}", data=batch_def, suite=gx_suite))
        checkpoint = ctx.checkpoints.add(gx.Checkpoint(
            name=f"{suite.name}-{i}", validation_definitions=[definition], actions=[],
            result_format=data_docs.RESULT_FORMAT))
        ((result_id, outcome),) = checkpoint.run(batch_parameters={"dataframe": df}).run_results.items()
        suite_names.append(gx_suite.name)
        checks = []
        for res in outcome.results:
            exp = ours[res.expectation_config.id]
            checks.append(
                CheckResult(
                    suite=suite.name,
                    expectation=res.expectation_config.type,
                    column=exp.kwargs.get("column"),
                    success=bool(res.success),
                    observed=_observed(res.result or {}, res.exception_info),
                    why=exp.why,
                )
            )
        results.append(SuiteResult(suite.name, suite.table, all(c.success for c in checks), checks))
        if docs_dir is not None:
            stored.append(data_docs.store_result(ctx, result_id, outcome, suite.table))
    if docs_dir is not None:
        data_docs.build(ctx, Path(docs_dir), suite_names, stored)
    return results


def _read_columns(path: Path, suite: TableSuite) -> pd.DataFrame:
    """Only the columns the suite looks at (plus its filter column): fast, and no nested cells."""
    # a table folder: the first part's schema (curated/images' parts differ only in pixel width)
    names = table_schema(path).names
    wanted = {e.kwargs["column"] for e in suite.expectations if "column" in e.kwargs}
    wanted |= {c for e in suite.expectations for c in e.kwargs.get("column_list", ())}
    if suite.where is not None:
        wanted.add(suite.where[0])
    columns = [n for n in names if n in wanted] or names[:1]
    return pq.read_table(path, columns=columns).to_pandas()


def _observed(result: Mapping[str, Any], exception_info: Any) -> str:
    """Counts only (never values): tables checked here hold PHI."""
    if "observed_value" in result:
        return f"observed {result['observed_value']}"
    if "unexpected_count" in result:
        return f"{result['unexpected_count']} of {result.get('element_count', '?')} rows unexpected"
    info = exception_info or {}
    if isinstance(info, Mapping) and info.get("raised_exception"):
        return f"error: {str(info.get('exception_message', ''))[:120]}"
    return ""


def format_report(results: Sequence[SuiteResult], *, failures_only: bool = False) -> str:
    """A plain-text table: suite, expectation, column, PASS/FAIL, observed counts, why."""
    lines = []
    for suite in results:
        if failures_only and suite.success:
            continue
        status = "passed" if suite.success else "FAILED"
        lines.append(f"suite {suite.suite} ({suite.table}): {status}")
        for c in suite.checks:
            if failures_only and c.success:
                continue
            mark = "ok  " if c.success else "FAIL"
            col = f"[{c.column}]" if c.column else ""
            why = f"  - {c.why}" if c.why else ""
            lines.append(f"  {mark} {c.expectation} {col} {c.observed}{why}".rstrip())
    return "\n".join(lines)


def quarantine_sources(out_dir: str | Path, stage: str) -> list[str]:
    """The ``source`` of every row ``stage`` wrote to ``OUT/quarantine.parquet``."""
    path = Path(out_dir) / "quarantine.parquet"
    if not path.exists():
        return []
    table = pq.read_table(path, columns=["source", "stage"]).to_pylist()
    return [r["source"] for r in table if r["stage"] == stage]


