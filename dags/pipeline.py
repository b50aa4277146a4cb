"""The stage graph: which stages exist, what each reads and writes, and what it must satisfy.

A later stage plugs in by adding one :class:`Stage` to :data:`PIPELINE`: a top-level adapter
function (``StageContext -> dict of counts``), the inputs it reads (run inputs such as
``input:dicom``, or tables under OUT written upstream), the outputs it owns under OUT, its
expectation suite, and the stages it depends on. Only this module knows the order of stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from radcurate.ingest import OUTPUTS as INGEST_OUTPUTS

from .expectations import TableSuite, deid_suites, ingest_suites, labeling_suites, nlp_suites
from .lesions_stage import LESIONS_OUTPUTS, lesions_config, lesions_headline, lesions_stage, lesions_suites
from .images_stages import (IMAGES_OUTPUTS, SPLITS_OUTPUTS, images_config, images_headline, images_stage,
                            images_suites, splits_config, splits_headline, splits_stage, splits_suites)
from .stages import (DEID_OUTPUTS, LABELING_OUTPUTS, NLP_OUTPUTS, deid_config, deid_config_inputs, deid_headline,
                     deid_stage, labeling_config, labeling_config_inputs, labeling_headline, labeling_stage,
                     nlp_config, nlp_config_inputs, nlp_headline, nlp_stage)

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
SuiteBuilder = Callable[[Path, Mapping[str, Any], Mapping[str, Any]], Sequence[TableSuite]]


@dataclass(frozen=True)
class Stage:
    """One node of the graph.

    ``inputs``: ``input:<name>`` for a run input (a file or folder given on the command line) or a
    path relative to OUT written by a stage in ``depends_on``; they are fingerprinted to decide
    whether a completed stage can be skipped. ``outputs``: paths relative to OUT that the stage
    owns; they are removed before the stage is redone. Quarantine rows go to the shared
    ``OUT/quarantine.parquet`` (replaced per stage, so reruns never duplicate them).
    ``suite(out_dir, inputs, result)`` declares the expectations checked after the stage ran.
    ``headline(result)`` is its line in the run summary; ``configure(section)`` raises
    ``ValueError`` on a bad config section, so a typo fails before anything runs.
    """

    name: str
    function: StageFunction
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    suite: SuiteBuilder | None = None
    depends_on: tuple[str, ...] = ()
    headline: Callable[[Mapping[str, Any]], str] | None = None
    configure: Callable[[Mapping[str, Any]], Any] | None = None  # parses its config section
    # files a config section points at, as {name: fingerprint}: part of the input fingerprint
    config_inputs: Callable[[Mapping[str, Any]], Mapping[str, str]] | None = None


def ingest_stage(ctx: StageContext) -> dict[str, Any]:
    """Adapter: run :func:`radcurate.ingest.run_ingest` with this run's inputs and config."""
    from radcurate.ingest import IngestConfig, run_ingest

    config = IngestConfig.from_mapping({**ctx.config, "show_progress": ctx.progress})
    if ctx.inputs.get("dicom") is None:
        raise ValueError("the ingest stage needs a DICOM folder (--dicom)")
    summary = run_ingest(
        ctx.inputs["dicom"], ctx.inputs.get("reports"), ctx.out_dir, client=ctx.client, config=config
    )
    if summary.instances == 0:  # nothing to de-identify: say so here, not as a missing table later
        raise ValueError(no_instances_message(ctx.inputs["dicom"], summary))
    return summary.to_dict()


def no_instances_message(dicom: Any, summary: Any) -> str:
    if not summary.files_found:
        return f"the DICOM folder {dicom} holds no files"
    reasons = ", ".join(f"{r} {n}" for r, n in summary.quarantine_by_reason.items())
    return (f"no DICOM instance in {dicom}: all {summary.files_found} files were quarantined ({reasons}); "
            "see OUT/quarantine.parquet")


def ingest_config(section: Mapping[str, Any]) -> Any:
    from radcurate.ingest import IngestConfig

    return IngestConfig.from_mapping(section)


def ingest_headline(result: Mapping[str, Any]) -> str:
    text = (
        f"{result.get('files_found', 0)} files -> {result.get('instances', 0)} instances "
        f"({result.get('series', 0)} series, {result.get('studies', 0)} studies), "
        f"{result.get('files_quarantined', 0)} quarantined"
    )
    if result.get("annotations"):
        text += f", {result['annotations']} annotation objects (GSPS/SR)"
    if result.get("reports_in"):
        text += (
            f"; {result['reports_in']} reports -> {result.get('reports', 0)} linked, "
            f"{result.get('reports_quarantined', 0)} quarantined"
        )
    return text


PIPELINE: tuple[Stage, ...] = (
    Stage(
        name="ingest",
        function=ingest_stage,
        inputs=("input:dicom", "input:reports"),
        outputs=INGEST_OUTPUTS,
        suite=ingest_suites,
        depends_on=(),
        headline=ingest_headline,
        configure=ingest_config,
    ),
    Stage(
        name="deid",
        function=deid_stage,
        inputs=("phi/instances.parquet", "phi/reports.parquet"),
        outputs=DEID_OUTPUTS,
        suite=deid_suites,
        depends_on=("ingest",),
        headline=deid_headline,
        configure=deid_config,
        config_inputs=deid_config_inputs,
    ),
    Stage(
        name="nlp",
        function=nlp_stage,
        inputs=("curated/reports.parquet", "curated/studies.parquet"),
        outputs=NLP_OUTPUTS,
        suite=nlp_suites,
        depends_on=("deid",),
        headline=nlp_headline,
        configure=nlp_config,
        config_inputs=nlp_config_inputs,
    ),
    Stage(
        name="labeling",
        function=labeling_stage,
        inputs=("curated/reports.parquet", "curated/rule_labels.parquet", "curated/mentions.parquet",
                "curated/measurements.parquet", "curated/topics.parquet"),
        outputs=LABELING_OUTPUTS,
        suite=labeling_suites,
        depends_on=("nlp",),
        headline=labeling_headline,
        configure=labeling_config,
        config_inputs=labeling_config_inputs,
    ),
    Stage(
        name="lesions",
        function=lesions_stage,
        inputs=("curated/annotations.parquet", "curated/annotation_references.parquet",
                "curated/instances.parquet", "curated/measurements.parquet", "curated/recist.parquet"),
        outputs=LESIONS_OUTPUTS,
        suite=lesions_suites,
        depends_on=("deid", "nlp"),
        headline=lesions_headline,
        configure=lesions_config,
    ),
    Stage(
        name="images",
        function=images_stage,
        inputs=("curated/instances.parquet", "curated/dicom"),
        outputs=IMAGES_OUTPUTS,
        suite=images_suites,
        depends_on=("deid",),
        headline=images_headline,
        configure=images_config,
    ),
    Stage(
        name="splits",
        function=splits_stage,
        inputs=("curated/images", "curated/studies.parquet", "curated/labels.parquet"),
        outputs=SPLITS_OUTPUTS,
        suite=splits_suites,
        depends_on=("images", "labeling"),
        headline=splits_headline,
        configure=splits_config,
    ),
)


# Optional stages: off by default; a section in the run's config switches one on
# (e.g. `synthesize_lowdose: {}`). Not part of PIPELINE, which is what every run executes.
from . import synthesis_stages as _synth  # noqa: E402



def _synthesis_stage(kind: str, function, configure, depends_on: tuple[str, ...] = ("splits",)) -> Stage:
    """An optional synthesis stage: training-split images in, ``curated/synthetic/<kind>/`` out."""
    return Stage(
        name=f"synthesize_{kind}",
        function=function,
        inputs=("curated/images", "curated/splits.parquet"),
        outputs=_synth.OUTPUTS[kind],
        suite=_synth.synthesis_suites(kind),
        depends_on=depends_on,
        headline=_synth.headline,
        configure=configure,
    )


OPTIONAL_STAGES: tuple[Stage, ...] = (
    _synthesis_stage("lowdose", _synth.lowdose_stage, _synth.lowdose_config),
    _synthesis_stage("lesions", _synth.lesions_stage, _synth.lesions_config),
    _synthesis_stage("gan", _synth.gan_stage, _synth.gan_config, depends_on=("splits", "lesions")),
)


def active(stages: Sequence[Stage], config: Mapping[str, Any] | None) -> list[Stage]:
    """The stages a run executes: ``stages`` plus the optional stages named in ``config``."""
    names = {s.name for s in stages}
    return list(stages) + [s for s in OPTIONAL_STAGES if s.name in (config or {}) and s.name not in names]


def ordered(stages: Sequence[Stage]) -> list[Stage]:
    """Stages in dependency order (stable with respect to the listed order); rejects cycles and
    unknown dependencies with a clear error."""
    by_name = {s.name: s for s in stages}
    if len(by_name) != len(stages):
        raise ValueError("stage names must be unique")
    for s in stages:
        unknown = [d for d in s.depends_on if d not in by_name]
        if unknown:
            raise ValueError(f"stage {s.name} depends on unknown stage(s): {', '.join(unknown)}")
    done: list[Stage] = []
    placed: set[str] = set()
    pending = list(stages)
    while pending:
        ready = [s for s in pending if all(d in placed for d in s.depends_on)]
        if not ready:
            raise ValueError(f"dependency cycle among: {', '.join(s.name for s in pending)}")
        for s in ready:
            done.append(s)
            placed.add(s.name)
        pending = [s for s in pending if s.name not in placed]
    return done


def dependants(stages: Sequence[Stage], name: str) -> set[str]:
    """Every stage that depends on ``name``, directly or through others."""
    found: set[str] = set()
    frontier = {name}
    while frontier:
        nxt = {s.name for s in stages if set(s.depends_on) & frontier} - found
        found |= nxt
        frontier = nxt
    return found
