"""Does the class-conditional GAN help a lesion classifier on held-out real patients? (issue 14)

The Frid-Adar et al. protocol on patches of a curated dataset: the same small classifier
(:class:`radcurate.training.gan_eval.PatchNet`) trained on
  (a) real training patches (real images only: physics-inserted lesions are left out),
  (b) real + classic augmentation (t13's BatchAugment),
  (c) real + augmentation + GAN samples (the GAN trained on the same real patches only),
at 25 / 50 / 100 % of the training patients, scored on the val + test patients' patches (lesion vs
no lesion): AUC, sensitivity, specificity with patient-bootstrap 95 % CIs (training.metrics).
Also: memorisation (nearest-neighbour distance synthetic -> train vs real held-out -> train and
train -> train), a Fréchet distance on the baseline classifier's penultimate features (in-domain,
not comparable with published FIDs), generator training images/s, a JSON and a PNG grid.

    python benchmarks/gan.py --curated OUT/curated            # an existing run (lesions stage done)
    python benchmarks/gan.py --patients 12 --work /tmp/gan    # generate an annotated export and run it
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np


def make_curated(patients: int, work: Path, seed: int) -> Path:
    from radcurate.dags.runner import run_pipeline
    from radcurate.synthesis import generate_export
    from radcurate.synthesis.config import ExportConfig

    out = work / "out"
    if not (out / "curated" / "lesions.parquet").exists():
        exp = generate_export(work / "export", patients=patients, seed=seed, config=ExportConfig(annotations=True))
        report = run_pipeline({"dicom": exp / "pacs", "reports": exp / "ris" / "reports.csv"}, out, workers=0,
                              log=lambda line: None)
        if not report.ok:
            sys.exit(f"pipeline failed: {[(o.name, o.status, o.message) for o in report.outcomes]}")
    return out / "curated"


def scores(model, x: np.ndarray) -> np.ndarray:
    from radcurate.training.gan_eval import predict

    return 1.0 - predict(model, x)[:, 0]  # P(any lesion)


def binary_metrics(y: np.ndarray, s: np.ndarray, patients: np.ndarray, n_boot: int) -> dict:
    from radcurate.training.metrics import patient_bootstrap, rank_auc

    def sens(i):
        pos = y[i] == 1
        return float((s[i][pos] >= 0.5).mean()) if pos.any() else float("nan")

    def spec(i):
        neg = y[i] == 0
        return float((s[i][neg] < 0.5).mean()) if neg.any() else float("nan")

    out = {}
    for name, f in (("auc", lambda i: rank_auc(y[i], s[i])), ("sensitivity", sens), ("specificity", spec)):
        everyone = np.arange(len(y))
        ci = patient_bootstrap(patients, f, n=n_boot, seed=0)
        out[name] = {"value": f(everyone), "ci95": ci.as_list(), "ci_dropped": ci.dropped}
    return out


def fmt(m: dict) -> str:
    lo, hi = m["ci95"]
    ci = f"[{lo:.2f}, {hi:.2f}]" if np.isfinite(lo) else "[n/a]"
    if np.isfinite(m.get("ci_dropped", 0.0)) and m.get("ci_dropped", 0.0) > 0:
        ci += f" {100 * m['ci_dropped']:.0f}% dropped"
    return f"{m['value']:.3f} {ci}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--curated", type=Path)
    ap.add_argument("--patients", type=int, default=12)
    ap.add_argument("--work", type=Path, default=Path("/tmp/radcurate-gan-bench"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fractions", default="0.25,0.5,1.0")
    ap.add_argument("--steps", type=int, default=600, help="GAN training steps per data size")
    ap.add_argument("--gan-ratio", type=float, default=1.0, help="GAN samples per real patch of each class")
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", type=Path, default=None, help="folder for gan_benchmark.json / .png (default: --work)")
    ap.add_argument("--smoke", action="store_true", help="smallest size, seconds: checks that the script runs (tests/test_benchmarks.py); not a measurement")
    args = ap.parse_args(argv)
    if args.smoke:
        import tempfile

        args.patients, args.steps, args.fractions, args.n_boot = 6, 20, "1.0", 50
        if args.curated is None and args.work == Path("/tmp/radcurate-gan-bench"):
            args.work = Path(tempfile.mkdtemp(prefix="gan-smoke-"))

    import torch

    from radcurate.synthesis.gan import GanConfig, nearest, preview_grid, sample, sample_seed, train_gan
    from radcurate.training.gan_eval import ClassifierConfig, features, frechet, train_classifier
    from radcurate.synthesis.gan_patches import CLASSES, extract_patches

    torch.set_num_threads(max(1, torch.get_num_threads()))
    curated = args.curated or make_curated(args.patients, args.work, args.seed)
    if not (curated / "splits.parquet").exists() or not (curated / "images").is_dir():
        print(f"{curated}: no images/ or splits.parquet; run the pipeline first", file=sys.stderr)
        return 2
    out_dir = args.out or args.work
    out_dir.mkdir(parents=True, exist_ok=True)
    # real images only: the physics-inserted lesions of curated/synthetic/lesions/ are synthetic data,
    # which arm (a) "real" must not hold (and the GAN is trained on the same real patches)
    x_tr, m_tr = extract_patches(curated, ("train",), inserted=False)
    n_inserted = int(extract_patches(curated, ("train",))[1]["source"].str.startswith("synthetic:").sum())
    x_te, m_te = extract_patches(curated, ("val", "test"), inserted=False)
    y_te = (m_te["label"].to_numpy() > 0).astype(int)
    p_te = m_te["patient_key"].to_numpy()
    print(f"curated: {curated}")
    print(f"training patches per class: {m_tr['class_name'].value_counts().to_dict()} "
          f"from {m_tr['patient_key'].nunique()} patients; held-out (val+test): "
          f"{m_te['class_name'].value_counts().to_dict()} from {m_te['patient_key'].nunique()} patients; "
          f"{n_inserted} physics-inserted lesion patches left out (real images only)")
    if len(x_te) == 0 or y_te.min() == y_te.max():
        print("held-out patients need lesion and no-lesion patches", file=sys.stderr)
        return 2
    patients = np.array(sorted(m_tr["patient_key"].unique()))
    patients = patients[np.random.default_rng(args.seed).permutation(len(patients))]
    fractions = [float(f) for f in args.fractions.split(",")]
    results = {"curated": str(curated), "held_out_patients": int(len(set(p_te))), "held_out_patches": int(len(x_te)),
               "classes": list(CLASSES), "steps": args.steps, "sizes": []}
    header = f"{'train patients':>15} {'arm':<22} {'AUC [95% CI]':>22} {'sensitivity':>22} {'specificity':>22}"
    print(header)
    last = None
    for frac in fractions:
        keep = set(patients[: max(1, int(round(frac * len(patients))))])
        sel = m_tr["patient_key"].isin(keep).to_numpy()
        x, y = x_tr[sel], m_tr["label"].to_numpy()[sel]
        counts = np.bincount(y, minlength=len(CLASSES))
        gcfg = GanConfig(steps=args.steps, seed=args.seed, device=args.device, batch_size=64)
        gan, stats = train_gan(x, y, gcfg)
        labels = np.concatenate([np.full(int(round(args.gan_ratio * n)), c) for c, n in enumerate(counts) if n > 0])
        seeds = np.array([sample_seed(args.seed, CLASSES[c], i) for i, c in enumerate(labels)], dtype=np.int64)
        gen = sample(gan.cpu(), labels, seeds)
        clf = ClassifierConfig(seed=args.seed, **({"epochs": 2, "min_steps": 10} if args.smoke else {}))
        arms = {
            "a real": train_classifier(x, y, len(CLASSES), clf),
            "b real+aug": train_classifier(x, y, len(CLASSES), replace(clf, augment=True)),
            "c real+aug+GAN": train_classifier(np.concatenate([x, gen]), np.concatenate([y, labels]), len(CLASSES),
                                               replace(clf, augment=True)),
        }
        size = {"fraction": frac, "train_patients": len(keep), "train_patches": int(len(x)),
                "patches_per_class": {CLASSES[c]: int(n) for c, n in enumerate(counts)},
                "gan_samples": int(len(gen)), "gan_training": stats, "arms": {}}
        for name, model in arms.items():
            m = binary_metrics(y_te, scores(model, x_te), p_te, args.n_boot)
            size["arms"][name] = m
            print(f"{len(keep):>15} {name:<22} {fmt(m['auc']):>22} {fmt(m['sensitivity']):>22} {fmt(m['specificity']):>22}")
        results["sizes"].append(size)
        last = (x, y, gen, labels, arms["a real"], stats)
    x, y, gen, labels, base, stats = last
    # memorisation: is a synthetic patch closer to some training patch than real patches are to each other?
    _, d_syn = nearest(gen, x)
    _, d_rr = nearest(x, x, exclude_self=True)
    _, d_ho = nearest(x_te, x)
    q05 = float(np.percentile(d_rr, 5))
    mem = {"synthetic_to_train_median": float(np.median(d_syn)), "train_to_train_median": float(np.median(d_rr)),
           "heldout_to_train_median": float(np.median(d_ho)), "train_to_train_p05": q05,
           "synthetic_below_train_p05": float((d_syn < q05).mean()), "units": "RMS over the patch, [-1, 1] scale"}
    f_tr, f_gen, f_te = features(base, x), features(base, gen), features(base, x_te)
    fd = {"gan_vs_train": frechet(f_gen, f_tr), "heldout_real_vs_train": frechet(f_te, f_tr),
          "feature_space": "penultimate layer (64) of arm (a)'s classifier at the largest size: in-domain, "
                           "not an Inception FID"}
    per_class_fd = {}
    for c in range(len(CLASSES)):
        if (y == c).sum() > 2 and (labels == c).sum() > 2:
            per_class_fd[CLASSES[c]] = frechet(f_gen[labels == c], f_tr[y == c])
    fd["per_class_gan_vs_train"] = per_class_fd
    results.update({"memorisation": mem, "frechet": fd})
    print(f"memorisation (NN RMS distance): synthetic->train median {mem['synthetic_to_train_median']:.3f}, "
          f"held-out real->train {mem['heldout_to_train_median']:.3f}, train->train {mem['train_to_train_median']:.3f}; "
          f"{100 * mem['synthetic_below_train_p05']:.1f} % of synthetic patches closer than the 5th percentile of train->train")
    print(f"Fréchet distance (in-domain features): GAN vs train {fd['gan_vs_train']:.2f}, "
          f"held-out real vs train {fd['heldout_real_vs_train']:.2f}; per class {({k: round(v, 2) for k, v in per_class_fd.items()})}")
    print(f"generator training: {stats['images_per_s']} images/s on {stats['device']} ({stats['steps']} steps, "
          f"batch 64, {stats['seconds']} s)")
    png = preview_grid(x, y, gen, labels, out_dir / "gan_benchmark.png")
    path = out_dir / "gan_benchmark.json"
    path.write_text(json.dumps(results, indent=1, default=float))
    print(f"wrote {path} and {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
