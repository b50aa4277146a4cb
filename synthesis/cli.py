"""``radcurate synth-export``: write a synthetic PACS export with ground truth."""

from __future__ import annotations

import argparse
import sys
import time

from .config import ExportConfig


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
