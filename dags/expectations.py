"""Great Expectations suites at stage boundaries, and a readable report of their results.

Suites are declared as plain data (:class:`TableSuite` of :class:`Expectation`) so that stage
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

from radcurate.tables import table_rows, table_schema


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

    from . import data_docs

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


# --- suites per stage -------------------------------------------------------------------------


def ingest_suites(
    out_dir: str | Path, inputs: Mapping[str, Any], result: Mapping[str, Any]
) -> list[TableSuite]:
    """Ingest: keys present, UIDs unique, reports linked, and counts that reconcile with the disk.

    The file count is taken by walking the DICOM folder again here, independently of the stage:
    instances + quarantined files must equal the files on disk.
    """
    from radcurate.ingest import display_path, list_files

    out_dir = Path(out_dir)
    files = [display_path(f) for f in list_files(inputs["dicom"], exclude=out_dir)]
    names = set(files)
    quarantine = _quarantine_sources(out_dir, "ingest")
    files_quarantined = sum(1 for s in quarantine if s in names)
    reports_quarantined = len(quarantine) - files_quarantined
    study_uids = pq.read_table(out_dir / "phi/studies.parquet", columns=["study_uid"]).column(0).to_pylist()
    reports_in = int(result.get("reports_in", 0))
    annotations = _count_rows(out_dir / "phi/annotations.parquet")  # presentation states and SR
    return [
        TableSuite(
            "ingest.instances",
            "phi/instances.parquet",
            not_null("path", "relpath", "sha256", "sop_instance_uid", "series_uid", "study_uid")
            + unique("sop_instance_uid", "relpath")
            + (
                row_count(
                    len(files) - files_quarantined - annotations,
                    f"counts reconcile: {len(files)} files on disk - {files_quarantined} quarantined"
                    f" - {annotations} annotation objects",
                ),
            ),
        ),
        TableSuite(
            "ingest.annotations",
            "phi/annotations.parquet",
            not_null("path", "kind", "sop_instance_uid", "study_uid") + unique("sop_instance_uid"),
        ),
        TableSuite(
            "ingest.series",
            "phi/series.parquet",
            not_null("series_uid", "study_uid") + unique("series_uid"),
        ),
        TableSuite("ingest.studies", "phi/studies.parquet", not_null("study_uid") + unique("study_uid")),
        TableSuite(
            "ingest.reports",
            "phi/reports.parquet",
            not_null("report_id", "accession", "report_text", "study_uid")
            + (
                Expectation(
                    "ExpectColumnValuesToBeInSet",
                    {"column": "study_uid", "value_set": study_uids},
                    "reports linked: every report points at an ingested study",
                ),
                row_count(
                    reports_in - reports_quarantined,
                    f"counts reconcile: {reports_in} report rows - {reports_quarantined} quarantined",
                ),
            ),
        ),
        TableSuite(
            "ingest.quarantine",
            "quarantine.parquet",
            not_null("source", "reason"),
            where=("stage", "ingest"),
        ),
    ]


def _quarantine_sources(out_dir: Path, stage: str) -> list[str]:
    path = out_dir / "quarantine.parquet"
    if not path.exists():
        return []
    table = pq.read_table(path, columns=["source", "stage"]).to_pylist()
    return [r["source"] for r in table if r["stage"] == stage]


# --- later stages ---------------------------------------------------------------------------------

LEAK_CHECK_PATIENTS = 500  # patients whose identifiers are searched for in curated report text


def _count_rows(path: Path) -> int:
    return table_rows(path)


def _identifier_patterns(out_dir: Path, limit: int = LEAK_CHECK_PATIENTS) -> list[str]:
    """Regexes for the raw identifiers of up to ``limit`` patients (names in their written forms,
    MRNs, accessions), taken from the PHI zone, to search the curated text for leaks."""
    import re

    path = out_dir / "phi/reports.parquet"
    if not path.exists():
        return []
    rows = pq.read_table(path, columns=["patient_id", "patient_name", "accession"]).to_pandas()
    rows = rows.drop_duplicates("patient_id").head(limit)
    patterns: set[str] = set()
    for pid, name, acc in rows.itertuples(index=False):
        for ident in (pid, acc):
            if isinstance(ident, str) and len(ident.strip()) >= 5:
                patterns.add(r"\b" + re.escape(ident.strip()) + r"\b")
        parts = [p for p in re.split(r"[\^,]+", name or "") if p.strip()] if isinstance(name, str) else []
        if len(parts) >= 2:
            last, first = parts[0].strip(), parts[1].strip().split()[0]
            for form in (f"{first} {last}", f"{last}, {first}", f"{last}^{first}"):
                patterns.add("(?i)" + re.escape(form))
    return sorted(patterns)


def deid_suites(out_dir: str | Path, inputs: Mapping[str, Any], result: Mapping[str, Any]) -> list[TableSuite]:
    """Deid: keys present and unique, counts reconcile with ingest, reports linked to image studies,
    and no patient's raw name, MRN or accession in the curated report text."""
    out_dir = Path(out_dir)
    files_in = int(result.get("files_in", _count_rows(out_dir / "phi/instances.parquet")))
    reports_in = int(result.get("reports_in", _count_rows(out_dir / "phi/reports.parquet")))
    study_keys = pq.read_table(out_dir / "curated/studies.parquet", columns=["study_key"]).column(0).to_pylist()
    leak = _identifier_patterns(out_dir)
    report_checks = (
        not_null("report_key", "study_key", "patient_key", "study_date", "text") + unique("report_key")
        + (
            row_count(reports_in - int(result.get("reports_quarantined", 0)),
                      f"counts reconcile: {reports_in} reports - quarantined"),
            Expectation("ExpectColumnValuesToBeInSet", {"column": "study_key", "value_set": study_keys},
                        "each report's study_key is the key of its image study"),
        )
    )
    if leak:
        report_checks += (Expectation(
            "ExpectColumnValuesToNotMatchRegexList",
            {"column": "text", "regex_list": leak},
            f"no raw patient name, MRN or accession in report text ({LEAK_CHECK_PATIENTS} patients max)"),)
    return [
        TableSuite("deid.studies", "curated/studies.parquet",
                   not_null("patient_key", "study_key") + unique("study_key")),
        TableSuite("deid.series", "curated/series.parquet",
                   not_null("study_key", "series_key") + unique("series_key")),
        TableSuite("deid.instances", "curated/instances.parquet",
                   not_null("series_key", "instance_key", "path") + unique("instance_key")
                   + (row_count(files_in - int(result.get("files_quarantined", 0)),
                                f"counts reconcile: {files_in} ingested images - "
                                f"{int(result.get('files_quarantined', 0))} quarantined by deid"),)),
        TableSuite("deid.reports", "curated/reports.parquet", report_checks),
    ]


def nlp_suites(out_dir: str | Path, inputs: Mapping[str, Any], result: Mapping[str, Any]) -> list[TableSuite]:
    """NLP: every curated report mined or quarantined; evidence traceable; sizes plausible."""
    out_dir = Path(out_dir)
    reports = _count_rows(out_dir / "curated/reports.parquet")
    quarantined = len(_quarantine_sources(out_dir, "nlp"))
    return [
        TableSuite("nlp.rule_labels", "curated/rule_labels.parquet",
                   not_null("report_key", "vocabulary", "finding")
                   + (Expectation("ExpectCompoundColumnsToBeUnique",
                                  {"column_list": ["report_key", "vocabulary", "finding"]},
                                  "one rule label per report and finding"),
                      Expectation("ExpectColumnUniqueValueCountToBeBetween",
                                  {"column": "report_key", "min_value": reports - quarantined,
                                   "max_value": reports - quarantined},
                                  f"counts reconcile: {reports} reports - {quarantined} quarantined"))),
        TableSuite("nlp.mentions", "curated/mentions.parquet",
                   not_null("report_key", "finding", "vocabulary", "sentence_index", "start", "end")),
        TableSuite("nlp.measurements", "curated/measurements.parquet",
                   not_null("report_key", "kind", "timepoint")
                   + tuple(Expectation("ExpectColumnValuesToBeBetween",
                                       {"column": c, "min_value": 0.1, "max_value": 1000.0},
                                       "sizes in millimetres, 0.1 mm to 1 m (null: axis not stated)")
                           for c in ("long_axis_mm", "short_axis_mm"))
                   + (Expectation("ExpectColumnValuesToBeInSet",
                                  {"column": "kind",
                                   "value_set": ["lesion", "lymph_node", "organ", "device", "other"]}),)),
    ]


def labeling_suites(out_dir: str | Path, inputs: Mapping[str, Any],
                    result: Mapping[str, Any]) -> list[TableSuite]:
    """Labels: values in the allowed set, one row per study and finding, probabilities in [0, 1]."""
    from radcurate.labeling import labels_expectations

    rule_labels = Path(out_dir) / "curated/rule_labels.parquet"
    vocabularies = (sorted(set(pq.read_table(rule_labels, columns=["vocabulary"]).column(0).to_pylist()))
                    if rule_labels.exists() else None)
    expectations = tuple(Expectation(t, dict(kw), why)
                         for t, kw, why in labels_expectations("report_key", vocabularies))
    expectations += (
        Expectation("ExpectCompoundColumnsToBeUnique", {"column_list": ["study_key", "vocabulary", "finding"]},
                     "one row per study and finding"),
        Expectation("ExpectColumnValuesToNotBeNull", {"column": "study_key"}, "every label has its study"),
    )
    return [TableSuite("labeling.labels", "curated/labels.parquet", expectations)]
