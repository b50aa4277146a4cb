"""``radcurate synth-export`` (a synthetic PACS export with ground truth) and ``radcurate synthesize
lowdose|lesions|gan --curated OUT/curated`` (synthetic samples from the curated training split)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Mapping

from radcurate.settings import read_settings_file

from .config import ExportConfig
from .stage import CONFIGS, KINDS, stage_name, synthesize
from .checks import synthesis_suites


def _run(args: argparse.Namespace) -> int:
    from .export import generate_export

    if args.patients < 1 or args.corrupt < 0 or not 8 <= args.ct_slices <= 256:
        print("synth-export: need --patients >= 1, --corrupt >= 0 and 8 <= --ct-slices <= 256", file=sys.stderr)
        return 2
    cfg = ExportConfig(ct_size=args.ct_size, ct_slices=args.ct_slices, annotations=args.annotations)
    t0 = time.perf_counter()
    try:
        out = generate_export(args.out, args.patients, args.seed, corrupt=args.corrupt, config=cfg)
    except OSError as exc:  # e.g. --out names a file or a read-only place
        print(f"synth-export: cannot write the export under {args.out}: {exc.strerror}", file=sys.stderr)
        return 2
    n = sum(1 for p in (out / "pacs").rglob("*") if p.is_file())
    print(f"synthetic export: {args.patients} patients, {n} files under {out / 'pacs'}, "
          f"reports in {out / 'ris' / 'reports.csv'}, truth in {out / 'truth'} "
          f"({time.perf_counter() - t0:.1f} s)")
    return 0


def register(subparsers) -> None:
    """Add the ``synth-export`` subcommand."""
    p = subparsers.add_parser("synth-export", help="write a synthetic PACS export (DICOM + RIS reports + truth)",
                              description="Generate phantom-based CT and chest radiograph studies with reports, "
                                          "PHI and (optionally) corrupt inputs; the same seed gives the same bytes.")
    p.add_argument("--out", required=True, help="output folder (pacs/, ris/, truth/ are replaced)")
    p.add_argument("--patients", type=int, default=3, help="number of patients (default 3)")
    p.add_argument("--seed", type=int, default=0, help="same seed, same bytes (default 0)")
    p.add_argument("--corrupt", type=int, default=0, help="number of bad inputs to plant")
    p.add_argument("--annotations", action="store_true",
                   help="also write the readers' lesion measurements (GSPS or TID 1500 SR per CT study)")
    p.add_argument("--ct-size", type=int, default=ExportConfig.ct_size, choices=(128, 256, 512),
                   help="rows and columns of each CT slice (default 128)")
    p.add_argument("--ct-slices", type=int, default=ExportConfig.ct_slices,
                   help="slices per CT series over 300 mm (default 24)")
    p.set_defaults(func=_run)
    register_synthesize(subparsers)


def register_synthesize(subparsers: argparse._SubParsersAction) -> None:
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
            "train a class-conditional GAN (ACGAN in plain PyTorch; checkpoint + resume) and write samples with "
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
        data = read_settings_file(args.config)
        if not isinstance(data, dict):
            raise ValueError("the config file must be a mapping of setting -> value")
        section.update(data.get(stage_name(args.kind), data))
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
    from radcurate.checks import format_report, validate

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
    result = synthesize(args.kind, curated, section, out_dir)
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
