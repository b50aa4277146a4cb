"""The optional synthesis stages in the pipeline (``OPTIONAL_STAGES``): low-dose CT pairs,
inserted lesions and GAN lesion patches, all from the training split.

Each is off unless the run's config file has its section (``synthesize_lowdose: {}`` switches the
low-dose stage on with its defaults). Their suites check the rule of the dataset contract: every
synthetic row's patient is in the training split of ``curated/splits.parquet``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from radcurate.stage import Stage, StageContext

from .checks import synthesis_suites

KINDS = ("lowdose", "lesions", "gan")
OUTPUTS = {
    "lowdose": ("curated/synthetic/lowdose", "curated/synthetic/lowdose_preview.png"),
    "lesions": ("curated/synthetic/lesions", "curated/synthetic/lesions_preview.png"),
    "gan": ("curated/synthetic/gan", "curated/synthetic/gan_preview.png"),
}


def stage_name(kind: str) -> str:
    return f"synthesize_{kind}"


def lowdose_config(section: Mapping[str, Any]):
    from .lowdose import LowDoseConfig

    return LowDoseConfig.from_mapping(section)


def lesions_config(section: Mapping[str, Any]):
    from .lesions import LesionConfig

    return LesionConfig.from_mapping(section)


def gan_config(section: Mapping[str, Any]):
    from .gan import GanConfig

    return GanConfig.from_mapping(section)


CONFIGS = {"lowdose": lowdose_config, "lesions": lesions_config, "gan": gan_config}


def synthesize(kind: str, curated: Path, section: Mapping[str, Any], out_dir: Path) -> dict[str, Any]:
    """Run one kind of synthesis over ``curated`` with its config section; quarantine rows go to
    ``out_dir/quarantine.parquet``. Returns the stage's counts."""
    from radcurate.tables import append_quarantine

    extra: dict[str, Any] = {}
    if kind == "lowdose":
        from .synthesize import run_lowdose

        summary = run_lowdose(curated, lowdose_config(section))
    elif kind == "gan":
        from .gan import run_gan

        summary, extra = run_gan(curated, gan_config(section))
    else:
        from .synthesize import run_lesion_insertion

        summary = run_lesion_insertion(curated, lesions_config(section))
    append_quarantine(Path(out_dir) / "quarantine.parquet", stage_name(kind), summary.quarantine)
    return {**summary.to_dict(), **extra}


def lowdose_stage(ctx: StageContext) -> dict[str, Any]:
    """Low-dose / full-dose CT pairs from the training split."""
    return synthesize("lowdose", Path(ctx.out_dir) / "curated", ctx.config, ctx.out_dir)


def lesions_stage(ctx: StageContext) -> dict[str, Any]:
    """Lesions inserted into training-split CT slices and radiographs."""
    return synthesize("lesions", Path(ctx.out_dir) / "curated", ctx.config, ctx.out_dir)


def gan_stage(ctx: StageContext) -> dict[str, Any]:
    """Class-conditional GAN lesion patches from the training split."""
    return synthesize("gan", Path(ctx.out_dir) / "curated", ctx.config, ctx.out_dir)


def headline(result: Mapping[str, Any]) -> str:
    return (
        f"{result.get('parents', 0)} training-split parents -> {result.get('rows', 0)} {result.get('kind', '')} rows, "
        f"{result.get('quarantined', 0)} quarantined; {result.get('not_training', 0)} val/test images left out"
    )


def _stage(kind: str, function, depends_on: tuple[str, ...] = ("splits",)) -> Stage:
    """An optional synthesis stage: training-split images in, ``curated/synthetic/<kind>/`` out."""
    return Stage(
        name=stage_name(kind),
        function=function,
        inputs=("curated/images", "curated/splits.parquet"),
        outputs=OUTPUTS[kind],
        suite=synthesis_suites(kind),
        depends_on=depends_on,
        headline=headline,
        configure=CONFIGS[kind],
        optional=True,
    )


OPTIONAL_STAGES: tuple[Stage, ...] = (
    _stage("lowdose", lowdose_stage),
    _stage("lesions", lesions_stage),
    _stage("gan", gan_stage, depends_on=("splits", "lesions")),
)
