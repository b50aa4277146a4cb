"""``radcurate run`` and ``radcurate demo``: the whole pipeline from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Mapping

from radcurate.cluster import add_cluster_arguments, show_progress

from .config import ConfigError, load_config
from .pipeline import OPTIONAL_STAGES, PIPELINE
from .runner import RunReport, run_pipeline


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser(
        "run",
        help="run every pipeline stage over a PACS export and a report extract",
        description=(
            "Run the stages (ingest, then each later stage that exists) on Dask: a local cluster "
            "with one worker process per core, or an existing cluster with --scheduler. Completed "
            "stages are skipped on a rerun; an interrupted one is redone from scratch. Each stage "
            "is validated by its Great Expectations suite; a failure stops the stages after it. "
            "Exit code 0: all passed; 1: a stage failed its checks or errored; 2: bad input."
        ),
    )
    run.add_argument("--dicom", required=True, metavar="DIR", help="root of the DICOM tree")
    run.add_argument("--reports", metavar="FILE", help="RIS extract (.csv or .parquet)")
    run.add_argument("--out", required=True, metavar="OUT", help="output folder")
    add_cluster_arguments(run)
    run.add_argument(
        "--config",
        metavar="FILE",
        help="YAML/JSON file with a section per stage, e.g. ingest: {batch_size: 128}",
    )
    run.add_argument("--force", action="store_true", help="redo stages even when complete and unchanged")
    run.set_defaults(func=run_command)

    demo = subparsers.add_parser(
        "demo",
        help="generate a synthetic PACS export and run the pipeline on it",
        description=(
            "Write a synthetic hospital export (DICOM tree, RIS reports, ground truth) to "
            "DIR/export, run every stage into DIR/out, and print a one-screen summary."
        ),
    )
    demo.add_argument("--out", default="demo-out", metavar="DIR", help="output folder (default: demo-out)")
    demo.add_argument("--patients", type=int, default=6, metavar="N", help="synthetic patients (default: 6)")
    demo.add_argument("--seed", type=int, default=0, help="random seed of the export")
    demo.add_argument(
        "--corrupt",
        type=int,
        default=8,
        metavar="K",
        help="bad inputs planted (default: 8, one of each kind)",
    )
    add_cluster_arguments(demo)
    demo.set_defaults(func=demo_command, force=False, config=None)


def run_command(args: argparse.Namespace) -> int:
    if not Path(args.dicom).is_dir():
        print(f"error: DICOM folder not found: {args.dicom}", file=sys.stderr)
        return 2
    if args.reports and not Path(args.reports).is_file():
        print(f"error: report extract not found: {args.reports}", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"error: config {args.config}: {exc}", file=sys.stderr)
        return 2
    report = _run(args, {"dicom": args.dicom, "reports": args.reports}, args.out, config)
    if report is None:
        return 2
    print(format_summary(report))
    return report.exit_code


def demo_command(args: argparse.Namespace) -> int:
    from radcurate.synthesis import ExportConfig, generate_export

    export, out = Path(args.out) / "export", Path(args.out) / "out"
    print(f"generating a synthetic PACS export of {args.patients} patients in {export} ...", file=sys.stderr)
    generate_export(export, patients=args.patients, seed=args.seed, corrupt=args.corrupt,
                    config=ExportConfig(annotations=True))  # with the readers' GSPS/SR measurements
    report = _run(args, {"dicom": export / "pacs", "reports": export / "ris" / "reports.csv"}, out, {})
    if report is None:
        return 2
    print(format_summary(report, export=export))
    return report.exit_code


def _run(
    args: argparse.Namespace, inputs: Mapping[str, Any], out: Any, config: Mapping[str, Any]
) -> RunReport | None:
    progress = show_progress(args)
    try:
        return run_pipeline(
            inputs,
            out,
            scheduler=args.scheduler,
            workers=args.workers,
            worker_timeout=getattr(args, "worker_timeout", None),
            config=config,
            progress=progress,
            force=args.force,
        )
    except OSError as exc:  # cannot reach the scheduler, cannot write OUT, OUT in use
        print(f"error: {exc}", file=sys.stderr)
        return None
    except ValueError as exc:  # e.g. a bad worker count given through the Python API
        print(f"error: {exc}", file=sys.stderr)
        return None


def format_summary(report: RunReport, export: Path | None = None) -> str:
    """One screen: status and counts per stage, quarantine by reason, validation, outputs."""
    from .manifest import quarantine_counts

    headline = {s.name: s.headline for s in PIPELINE + OPTIONAL_STAGES}
    lines = [f"radcurate run {report.run_id}: {'OK' if report.ok else 'FAILED'}", ""]
    w = max([12] + [len(o.name) + 2 for o in report.outcomes])  # optional stages have longer names
    lines.append(f"{'stage':<{w}}{'status':<19}{'time':>7}  counts")
    for o in report.outcomes:
        fn = headline.get(o.name)
        counts = fn(o.result) if (fn and o.result) else _generic_counts(o.result)
        detail = counts or (o.message.splitlines()[0] if o.message else "")
        lines.append(f"{o.name:<{w}}{o.status:<19}{o.seconds:>6.1f}s  {detail}")
    quarantine = quarantine_counts(report.out_dir)
    if quarantine:
        lines += ["", "quarantine (OUT/quarantine.parquet):"]
        for stage, reasons in quarantine.items():
            lines.append(f"  {stage}: " + ", ".join(f"{r} {n}" for r, n in reasons.items()))
    lines += ["", "validation:"]
    for o in report.outcomes:
        checks = [c for suite in o.validation for c in suite["checks"]]
        if not checks:
            lines.append(f"  {o.name}: {'not run' if not o.ok else 'no suite'}")
            continue
        failed = [c for c in checks if not c["success"]]
        lines.append(f"  {o.name}: {len(checks) - len(failed)}/{len(checks)} expectations passed")
        for c in failed[:8]:
            col = f" [{c['column']}]" if c["column"] else ""
            lines.append(f"    FAIL {c['suite']}: {c['expectation']}{col} {c['observed']}")
    lines += ["", "outputs:"]
    if export is not None:
        lines.append(f"  synthetic export   {export}/ (pacs/, ris/, truth/)")
    out = report.out_dir
    for sub, what in (("phi", "PHI-zone manifests"), ("curated", "de-identified dataset")):
        if (out / sub).exists():
            lines.append(f"  {what:<18} {out / sub}/")
    lines.append(f"  {'quarantine':<18} {out / 'quarantine.parquet'}")
    if (out / "curated" / "README.md").exists():
        lines.append(f"  {'dataset card':<18} {out / 'curated' / 'README.md'} (and card.html)")
    lines.append(f"  {'manifest':<18} {report.manifest}")
    if not report.ok:
        lines.append("rerun the same command to resume: completed stages are skipped")
    return "\n".join(lines)


def _generic_counts(result: Mapping[str, Any]) -> str:
    items = [f"{k} {v}" for k, v in result.items() if isinstance(v, int) and not isinstance(v, bool)]
    return ", ".join(items[:6])
