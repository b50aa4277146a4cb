"""The optional synthesis stages (low-dose CT pairs, inserted lesions): pipeline adapters, their
expectation suites, and ``radcurate synthesize lowdose|lesions|gan --curated OUT/curated``
(``gan``: the class-conditional GAN of lesion patches, issue 14).

Both are off unless the run's config file has their section (``synthesize_lowdose: {}`` switches
the low-dose stage on with its defaults). Their suites check the rule of the dataset contract:
every synthetic row's patient is in the training split of ``curated/splits.parquet``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Mapping

from .expectations import Expectation, TableSuite, not_null, unique

KINDS = ("lowdose", "lesions", "gan")
OUTPUTS = {
    "lowdose": ("curated/synthetic/lowdose", "curated/synthetic/lowdose_preview.png"),
    "lesions": ("curated/synthetic/lesions", "curated/synthetic/lesions_preview.png"),
    "gan": ("curated/synthetic/gan", "curated/synthetic/gan_preview.png"),
}


def lowdose_config(section: Mapping[str, Any]):
    from radcurate.synthesis.lowdose import LowDoseConfig

    return LowDoseConfig.from_mapping(section)


def lesions_config(section: Mapping[str, Any]):
    from radcurate.synthesis.lesions import LesionConfig

    return LesionConfig.from_mapping(section)


def gan_config(section: Mapping[str, Any]):
    from radcurate.synthesis.gan import GanConfig

    return GanConfig.from_mapping(section)


CONFIGS = {"lowdose": lowdose_config, "lesions": lesions_config, "gan": gan_config}


def _run(kind: str, curated: Path, section: Mapping[str, Any], out_dir: Path) -> dict[str, Any]:
    from radcurate.synthesis.synthesize import run_lesions, run_lowdose
    from radcurate.tables import append_quarantine

    extra: dict[str, Any] = {}
    if kind == "lowdose":
        summary = run_lowdose(curated, lowdose_config(section))
    elif kind == "gan":
        from radcurate.synthesis.gan import run_gan

        summary, extra = run_gan(curated, gan_config(section))
    else:
        summary = run_lesions(curated, lesions_config(section))
    append_quarantine(Path(out_dir) / "quarantine.parquet", f"synthesize_{kind}", summary.quarantine)
    return {**summary.to_dict(), **extra}


def lowdose_stage(ctx) -> dict[str, Any]:
    """Low-dose / full-dose CT pairs from the training split (adapter for the runner)."""
    return _run("lowdose", Path(ctx.out_dir) / "curated", ctx.config, ctx.out_dir)


def lesions_stage(ctx) -> dict[str, Any]:
    """Lesions inserted into training-split CT slices and radiographs (adapter for the runner)."""
    return _run("lesions", Path(ctx.out_dir) / "curated", ctx.config, ctx.out_dir)


def gan_stage(ctx) -> dict[str, Any]:
    """Class-conditional GAN lesion patches from the training split (adapter for the runner)."""
    return _run("gan", Path(ctx.out_dir) / "curated", ctx.config, ctx.out_dir)


def synthesis_suites(kind: str):
    """The suite builder of one kind: keys present, synthetic keys unique, parents in training."""

    def build(out_dir: str | Path, inputs: Mapping[str, Any], result: Mapping[str, Any]) -> list[TableSuite]:
        import pyarrow.parquet as pq

        out_dir = Path(out_dir)
        splits = pq.read_table(out_dir / "curated" / "splits.parquet", columns=["patient_key", "split"]).to_pandas()
        train = sorted(splits.loc[splits["split"] == "train", "patient_key"].astype(str).unique())
        folder = out_dir / "curated" / "synthetic" / kind
        suites = []
        for i, part in enumerate(sorted(folder.glob("part-*.parquet"))):
            exps = [
                *not_null("synthetic_key", "patient_key", "parent_instance_key", "generator", "parameters", "seed"),
                *unique("synthetic_key"),
                Expectation("ExpectColumnValuesToBeInSet", {"column": "patient_key", "value_set": train},
                            "synthetic samples come only from training-split patients"),
            ]
            if kind == "lowdose":
                exps.append(Expectation("ExpectColumnValuesToBeBetween",
                                        {"column": "dose_fraction", "min_value": 0.0, "max_value": 1.0,
                                         "strict_min": True}))
            if i == 0 and int(result.get("parents", 0)) > 0:
                exps.append(Expectation("ExpectTableRowCountToBeBetween", {"min_value": 1},
                                        "parents were selected but none gave a synthetic row"))
            suites.append(TableSuite(f"synthetic_{kind}", part.relative_to(out_dir).as_posix(), tuple(exps)))
        return suites

    return build


def headline(result: Mapping[str, Any]) -> str:
    return (
        f"{result.get('parents', 0)} training-split parents -> {result.get('rows', 0)} {result.get('kind', '')} rows, "
        f"{result.get('quarantined', 0)} quarantined; {result.get('not_training', 0)} val/test images left out"
    )


# --- command line ---------------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "synthesize",
        help="low-dose CT pairs, inserted lesions or GAN lesion patches from the curated training split",
        description=(
            "lowdose: project each training-split CT slice (torch, parallel or fan beam), add the Poisson "
            "and electronic noise of a lower dose, reconstruct by FBP; writes curated/synthetic/lowdose/ "
            "(low-dose and full-dose pixels, dose, geometry, seed). lesions: insert a modelled lesion "
            "(ellipsoid, lobulated or spiculated, partial volume and blur matched to the image) into lung "
            "on CT slices and, in the log domain, radiographs; writes curated/synthetic/lesions/ with mask, "
            "size and location. gan: cut nodule / mass / no-lesion CT patches (lesion table, inserted lesions), "
            "train a class-conditional GAN (ACGAN, MONAI networks; checkpoint + resume) and write samples with "
            "checkpoint hash, class and seed to curated/synthetic/gan/. Only training-split patients are parents (checked by an expectation). "
            "A PNG preview is written beside each table. Exit 0 done, 1 a check failed, 2 bad input."
        ),
    )
    p.add_argument("kind", choices=KINDS)
    p.add_argument("--curated", required=True, metavar="DIR", help="the curated folder (OUT/curated)")
    p.add_argument("--config", metavar="FILE", help="YAML/JSON settings of this kind (LowDoseConfig / LesionConfig fields)")
    p.add_argument("--dose", type=float, action="append", metavar="F", help="lowdose: dose fraction (repeatable)")
    p.add_argument("--geometry", choices=("parallel", "fan"), help="lowdose: beam geometry")
    p.add_argument("--views", type=int, help="lowdose: projections per rotation")
    p.add_argument("--device", help="lowdose, gan: torch device (cpu, cuda; gan also auto)")
    p.add_argument("--steps", type=int, metavar="N", help="gan: training steps (a rerun resumes from the checkpoint)")
    p.add_argument("--samples-per-class", type=int, metavar="N", help="gan: samples written per class")
    p.add_argument("--max-parents", type=int, metavar="N", help="use at most N training images")
    p.add_argument("--seed", type=int, help="random seed")
    p.set_defaults(func=synthesize_command)


OWN_FLAGS = {"lowdose": ("dose_fractions", "geometry", "views", "device", "max_parents", "seed"),
             "lesions": ("max_parents", "seed"), "gan": ("device", "seed", "steps", "samples_per_class")}


def _section(args: argparse.Namespace) -> dict[str, Any]:
    section: dict[str, Any] = {}
    if args.config:
        text = Path(args.config).read_text()
        if args.config.endswith(".json"):
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text) or {}
        if not isinstance(data, dict):
            raise ValueError("the config file must be a mapping of setting -> value")
        section.update(data.get(f"synthesize_{args.kind}", data))
    flags = {"dose_fractions": tuple(args.dose) if args.dose else None, "geometry": args.geometry,
             "views": args.views, "device": args.device, "max_parents": args.max_parents, "seed": args.seed,
             "steps": getattr(args, "steps", None), "samples_per_class": getattr(args, "samples_per_class", None)}
    own = OWN_FLAGS[args.kind]
    for k in list(flags):
        if k not in own and flags.pop(k) is not None:
            owners = " / ".join(kind for kind, names in OWN_FLAGS.items() if k in names)
            raise ValueError(f"--{k.replace('_', '-').replace('dose-fractions', 'dose')} is a {owners} setting")
    section.update({k: v for k, v in flags.items() if v is not None})
    return section


def synthesize_command(args: argparse.Namespace) -> int:
    from .expectations import format_report, validate

    curated = Path(args.curated)
    if not (curated / "images").is_dir() or not (curated / "splits.parquet").exists():
        print(f"error: {curated} has no images/ folder or splits.parquet: run the images stage first", file=sys.stderr)
        return 2
    try:
        section = _section(args)
        CONFIGS[args.kind](section)
    except (OSError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out_dir = curated.parent
    result = _run(args.kind, curated, section, out_dir)
    results = validate(out_dir, synthesis_suites(args.kind)(out_dir, {}, result))
    ok = all(r.success for r in results)
    print(format_summary(args.kind, result, results, ok))
    if not ok:
        print(format_report(results, failures_only=True))
    return 0 if ok else 1


def format_summary(kind: str, result: Mapping[str, Any], results, ok: bool) -> str:
    checks = [c for r in results for c in r.checks]
    lines = [
        f"radcurate synthesize {kind}: {'OK' if ok else 'FAILED'} in {result.get('seconds', 0):.1f}s",
        f"  training-split images of the modality: {result.get('eligible', 0)} "
        f"(val/test or unsplit left out: {result.get('not_training', 0)})",
        f"  parents used: {result.get('parents', 0)} -> rows written: {result.get('rows', 0)}, "
        f"quarantined: {result.get('quarantined', 0)}",
        f"  expectations: {sum(c.success for c in checks)}/{len(checks)} passed",
        f"  table:   {result.get('table')}/",
    ]
    if kind == "gan" and result.get("patches_per_class"):
        lines.insert(1, f"  training-split patches per class: {result['patches_per_class']}")
        t = result.get("training") or {}
        if t:
            lines.insert(2, f"  GAN: {t.get('steps')} steps (resumed from {t.get('resumed_from')}) on {t.get('device')}, "
                            f"{t.get('images_per_s')} images/s; checkpoint sha256 {str(result.get('checkpoint_sha256'))[:16]}")
    if result.get("preview"):
        lines.append(f"  preview: {result['preview']}")
    return "\n".join(lines)
