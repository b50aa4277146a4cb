"""The images and splits stages in the pipeline (``STAGE``, ``SPLITS_STAGE``): config, outputs,
checks and summary lines.

``images`` (after deid) decodes the curated DICOM into ``curated/images/``; ``splits`` (after
images and labeling, whose labels stratify it) assigns every patient a split and fold and writes
which split every image is in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from radcurate.stage import Stage, StageContext

from .checks import images_suites, splits_suites
from .config import NAME, SPLITS_NAME, ImagesConfig, SplitsConfig

OUTPUTS = ("curated/images",)
# splits.parquet is read back as the ledger of earlier assignments (adding patients never moves
# anyone), so the runner must not delete it before the stage runs: it is rewritten atomically.
SPLITS_OUTPUTS = ("curated/image_splits.parquet",)


def images_config(section: Mapping[str, Any]) -> ImagesConfig:
    return ImagesConfig.from_mapping(section)


def images_stage(ctx: StageContext) -> dict[str, Any]:
    """Pixels of every curated image into sharded Parquet, written by the Dask workers."""
    from .run import run_images

    summary = run_images(Path(ctx.out_dir) / "curated", client=ctx.client, config=images_config(ctx.config),
                         quarantine_path=Path(ctx.out_dir) / "quarantine.parquet")
    return summary.to_dict()


def images_headline(result: Mapping[str, Any]) -> str:
    return (
        f"{result.get('instances_in', 0)} images -> {result.get('instances', 0)} decoded "
        f"({result.get('frames', 0)} frames, {result.get('resized', 0)} resized copies, "
        f"{result.get('part_files', 0)} part files, {result.get('bytes_written', 0) / 2**20:.1f} MiB), "
        f"{result.get('quarantined', 0)} quarantined"
    )


def splits_config(section: Mapping[str, Any]) -> SplitsConfig:
    return SplitsConfig.from_mapping(section)


def splits_stage(ctx: StageContext) -> dict[str, Any]:
    """Patient-level train/val/test and folds, stratified by rare findings, stable as patients are added."""
    from .splits import run_splits

    return run_splits(Path(ctx.out_dir) / "curated", splits_config(ctx.config))


def splits_headline(result: Mapping[str, Any]) -> str:
    return (
        f"{result.get('patients', 0)} patients -> train {result.get('patients_train', 0)}, "
        f"val {result.get('patients_val', 0)}, test {result.get('patients_test', 0)} "
        f"({result.get('kept', 0)} kept from earlier); images train {result.get('images_train', 0)}, "
        f"val {result.get('images_val', 0)}, test {result.get('images_test', 0)}"
    )


STAGE = Stage(
    name=NAME,
    function=images_stage,
    inputs=("curated/instances.parquet", "curated/dicom"),
    outputs=OUTPUTS,
    suite=images_suites,
    depends_on=("deid",),
    headline=images_headline,
    configure=images_config,
)

SPLITS_STAGE = Stage(
    name=SPLITS_NAME,
    function=splits_stage,
    inputs=("curated/images", "curated/studies.parquet", "curated/labels.parquet"),
    outputs=SPLITS_OUTPUTS,
    suite=splits_suites,
    depends_on=("images", "labeling"),
    headline=splits_headline,
    configure=splits_config,
)
