"""``radcurate images``: curated DICOM -> ``curated/images/`` and ``curated/splits.parquet``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from radcurate.cluster import add_cluster_arguments, open_client


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "images",
        help="decode the curated DICOM into Parquet (pixels, geometry, keys) and assign patient splits",
        description=(
            "Decode every image in CURATED/dicom (all transfer syntaxes, multi-frame too; CT in HU as "
            "int16) into CURATED/images/ (sharded zstd Parquet written by the Dask workers; "
            "radiographs also resized and padded to --resize on the long side), then write "
            "CURATED/splits.parquet (patient-level train/val/test and folds; patients already in "
            "it keep their split) and CURATED/image_splits.parquet. Undecodable images go to "
            "quarantine with a reason. Reads only the curated zone. "
            "Example: radcurate images --curated out/curated"
        ),
    )
    p.add_argument("--curated", required=True, metavar="DIR", help="the curated dataset folder (OUT/curated)")
    p.add_argument("--resize", type=int, default=512, metavar="N",
                   help="long side of the padded radiograph copy (default 512; 0: none)")
    p.add_argument("--folds", type=int, default=5, metavar="K", help="k-fold groups over train+val (default 5)")
    p.add_argument("--fractions", default="0.8,0.1,0.1", metavar="TR,VA,TE",
                   help="train,val,test fractions of patients (default 0.8,0.1,0.1)")
    p.add_argument("--no-splits", dest="splits", action="store_false", help="write images only")
    add_cluster_arguments(p)
    p.set_defaults(func=images_command)


def images_command(args: argparse.Namespace) -> int:
    from .config import ImagesConfig, SplitsConfig
    from .splits import run_splits
    from .run import run_images

    curated = Path(args.curated)
    if not (curated / "instances.parquet").exists():
        print(f"error: {curated}/instances.parquet not found: give the curated folder deid wrote",
              file=sys.stderr)
        return 2
    try:
        fr = [float(x) for x in args.fractions.split(",")]
        if len(fr) != 3:
            raise ValueError("give three fractions")
        config = ImagesConfig(resize=args.resize)
        splits_config = SplitsConfig(train=fr[0], val=fr[1], test=fr[2], folds=args.folds)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with open_client(args.scheduler, args.workers) as client:
        s = run_images(curated, client=client, config=config)
    print(f"images: {s.instances_in} curated images -> {s.instances} decoded, {s.frames} frames, "
          f"{s.resized} resized copies in {s.part_files} part files ({s.bytes_written / 2**20:.1f} MiB); "
          f"{s.quarantined} quarantined; {s.seconds:.1f} s, {s.instances_in / max(s.seconds, 1e-9):.1f} files/s")
    if args.splits and s.instances:
        r = run_splits(curated, splits_config)
        print(f"splits: {r['patients']} patients -> train {r['patients_train']}, val {r['patients_val']}, "
              f"test {r['patients_test']} ({r['kept']} kept from an earlier splits.parquet); images "
              f"train {r['images_train']}, val {r['images_val']}, test {r['images_test']}")
    print(f"outputs: {curated / 'images'}/" + (f", {curated / 'splits.parquet'}" if args.splits else ""))
    if s.instances_in and not s.instances:
        print("error: every image was quarantined (see quarantine.parquet)", file=sys.stderr)
        return 1
    return 0
