"""The dataset card: ``OUT/curated/README.md`` and ``OUT/curated/card.html``, written on every run.

What a person receiving the curated folder wants to know before training on it: where it came
from (run id, code version, config hash, input fingerprints), how it was de-identified, what every
table and column means, what is in it (label prevalence and confidence, topics, measurement sizes,
RECIST responses, splits), what was left out and why (quarantine), whether it passed its checks,
and its known limits. The README's YAML front matter lists every table under ``configs:`` so that
Hugging Face ``datasets.load_dataset("OUT/curated", "labels")`` opens each one. Plots are
matplotlib PNGs under ``curated/card/``, referenced by the README and embedded in the HTML.

Only the curated (de-identified) zone and the manifest's counts are read: nothing from ``phi/``.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from radcurate.columns import TABLE_MEANINGS, describe
from radcurate.tables import table_rows, table_schema

LIMITS = [
    "Labels are derived from report text (weak supervision), not from image reads; `probability` is the "
    "label model's confidence, not a calibrated diagnostic probability unless evaluated on reviewed labels.",
    "`recist.parquet` is computed from sizes written in reports, not a radiologist's RECIST read.",
    "De-identification follows DICOM PS3.15 Annex E with the options listed; burned-in text detection can miss "
    "text in unusual fonts or low contrast; review before any release outside the institution.",
    "Dates are shifted per patient: absolute dates and seasons are not real; intervals are.",
]


def write_dataset_card(out_dir: str | Path, manifest: Mapping[str, Any]) -> Path | None:
    """Write ``curated/README.md``, ``curated/card.html`` and ``curated/card/*.png``; return the
    README's path (None when there is no curated folder yet)."""
    curated = Path(out_dir) / "curated"
    if not curated.is_dir():
        return None
    figures = curated / "card"
    figures.mkdir(exist_ok=True)
    tables = {p.stem: p for p in sorted(curated.glob("*.parquet"))}
    blocks: list[tuple[str, Any]] = []
    add = blocks.append

    add(("h1", "radcurate curated dataset"))
    add(("p", "De-identified imaging metadata, report text, mined findings and labels produced by radcurate "
              f"run `{manifest.get('run_id', '?')}`. Status of the run: "
              f"**{'all stages passed' if manifest.get('ok') else 'NOT all stages passed'}**."))
    add(("h2", "Provenance"))
    rows = [["run id", manifest.get("run_id", "")], ["created", manifest.get("created_at", "")],
            ["code version", manifest.get("code_version", "")], ["config hash", manifest.get("config_hash", "")]]
    for name, item in (manifest.get("inputs") or {}).items():
        rows.append([f"input `{name}` fingerprint", str((item or {}).get("fingerprint", ""))[:80]])
    add(("table", (["", ""], rows)))

    add(("h2", "De-identification"))
    deid = _deid_options((manifest.get("config") or {}).get("deid", {}))
    add(("p", "DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile with the options below; "
              "report text scrubbed of names, identifiers, dates (shifted), contacts and ages over 89."))
    add(("table", (["option", "value"], [[k, str(v)] for k, v in deid.items() if k not in ("secret_file",)])))

    labels = _read(tables, "labels")
    if labels is not None and len(labels):
        add(("h2", "Labels"))
        prevalence = (labels.assign(positive=labels["value"] == 1, uncertain=labels["value"] == -1)
                      .groupby(["vocabulary", "finding"])
                      .agg(studies=("study_key", "nunique"), positive=("positive", "sum"),
                           uncertain=("uncertain", "sum"), mean_probability=("probability", "mean"))
                      .reset_index())
        add(("table", (list(prevalence.columns),
                       [[str(v) if not isinstance(v, float) else f"{v:.3f}" for v in r]
                        for r in prevalence.itertuples(index=False)])))
        add(("img", (_plot_prevalence(prevalence, figures / "label_prevalence.png"),
                     "Share of studies labelled positive per finding")))
        add(("img", (_plot_confidence(labels, figures / "label_confidence.png"),
                     "Label model probability per finding (histograms)")))

    terms = _read(tables, "topic_terms")
    if terms is not None and len(terms):
        add(("h2", "Topics"))
        top = terms.sort_values(["topic", "rank"]).groupby("topic").head(8)
        add(("table", (["topic", "top terms"],
                       [[str(t), ", ".join(g["term"])] for t, g in top.groupby("topic")])))

    measurements = _read(tables, "measurements")
    lesions = _read(tables, "lesions")
    if (measurements is not None and measurements["long_axis_mm"].notna().any()) or lesions is not None:
        add(("h2", "Sizes"))
        add(("img", (_plot_sizes(measurements, lesions, figures / "sizes.png"),
                     "Long-axis sizes stated in reports (and of lesions, when present), mm")))

    recist = _read(tables, "recist")
    if recist is not None and len(recist):
        add(("h2", "RECIST responses"))
        counts = recist["response"].value_counts()
        add(("table", (["response", "timepoints"], [[str(k), str(v)] for k, v in counts.items()])))

    splits = _read(tables, "splits")
    if splits is not None and len(splits):
        add(("h2", "Splits"))
        add(("table", (["split", "patients"], [[str(k), str(v)] for k, v in splits["split"].value_counts().items()])))

    add(("h2", "Tables"))
    for stem, path in tables.items():
        schema = table_schema(path)
        add(("h3", f"{stem}.parquet — {table_rows(path)} rows"))
        add(("p", TABLE_MEANINGS.get(stem, "")))
        add(("table", (["column", "type", "meaning"],
                       [[f.name, str(f.type), _field_doc(f, stem)] for f in schema])))

    add(("h2", "Quarantine"))
    quarantine = manifest.get("quarantine") or {}
    q_rows = [[stage, reason, str(n)] for stage, reasons in quarantine.items() for reason, n in reasons.items()]
    add(("table", (["stage", "reason", "inputs"], q_rows)) if q_rows else ("p", "Nothing was quarantined."))

    add(("h2", "Validation"))
    v_rows = []
    for stage, info in (manifest.get("stages") or {}).items():
        checks = [c for suite in info.get("validation", []) for c in suite.get("checks", [])]
        passed = sum(1 for c in checks if c.get("success"))
        v_rows.append([stage, info.get("status", ""), f"{passed}/{len(checks)}"])
    add(("table", (["stage", "status", "expectations passed"], v_rows)))
    add(("p", "Great Expectations Data Docs per stage: `../validation/index.html` (suite results as JSON beside "
              "each stage's pages); every result is also in `../manifest.json`."))

    add(("h2", "Known limits"))
    for item in LIMITS:
        add(("li", item))

    readme = curated / "README.md"
    readme.write_text(_front_matter(tables) + _markdown(blocks))
    (curated / "card.html").write_text(_html(blocks, curated))
    return readme


def _deid_options(section: Mapping[str, Any]) -> dict[str, Any]:
    """The deid stage's effective options as the manifest records them (defaults filled in by the
    runner), without the secret's location or the runner's own settings."""
    from .config import split_section

    own, _ = split_section(section)
    own.pop("secret_file", None)
    return own


def _read(tables: Mapping[str, Path], stem: str) -> pd.DataFrame | None:
    return pd.read_parquet(tables[stem]) if stem in tables else None


def _field_doc(field, table: str) -> str:
    """The column's declared description (every table written by radcurate has one)."""
    doc = (field.metadata or {}).get(b"description")
    return doc.decode() if doc else describe(field.name, f"curated/{table}") or ""


def _front_matter(tables: Mapping[str, Path]) -> str:
    """YAML front matter: one Hugging Face ``datasets`` config per table, ``labels`` the default."""
    lines = ["---", "pretty_name: radcurate curated dataset", "configs:"]
    for stem in sorted(tables, key=lambda s: s != "labels"):
        lines += [f"- config_name: {stem}", f"  data_files: {stem}.parquet/*.parquet"]
        if stem == "labels":
            lines.append("  default: true")
    return "\n".join(lines + ["---", ""])


# --- plots ---------------------------------------------------------------------------------------


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_prevalence(prevalence: pd.DataFrame, path: Path) -> Path:
    plt = _figure()
    p = prevalence.assign(share=prevalence["positive"] / prevalence["studies"].clip(lower=1))
    p = p.sort_values("share")
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.22 * len(p))))
    ax.barh([f"{f} ({v})" for v, f in zip(p["vocabulary"], p["finding"])], p["share"], color="#1f77b4")
    ax.set_xlabel("share of studies positive")
    ax.set_xlim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _plot_confidence(labels: pd.DataFrame, path: Path) -> Path:
    plt = _figure()
    findings = sorted(labels["finding"].unique())
    cols = 4
    rows = -(-len(findings) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(10, 1.8 * rows), squeeze=False, sharex=True)
    for ax, finding in zip(axes.flat, findings):
        values = labels.loc[labels["finding"] == finding, "probability"].dropna()
        ax.hist(values, bins=10, range=(0, 1), color="#ff7f0e")
        ax.set_title(finding, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(findings):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def _plot_sizes(measurements: pd.DataFrame | None, lesions: pd.DataFrame | None, path: Path) -> Path:
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7, 3))
    if measurements is not None:
        ax.hist(measurements["long_axis_mm"].dropna(), bins=20, color="#2ca02c", label="report measurements")
    if lesions is not None and "long_axis_mm" in lesions:
        ax.hist(lesions["long_axis_mm"].dropna(), bins=20, color="#d62728", alpha=0.6, label="lesions")
    ax.set_xlabel("long axis (mm)")
    ax.set_ylabel("count")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# --- rendering -----------------------------------------------------------------------------------


def _markdown(blocks) -> str:
    out = []
    for kind, content in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + content + "\n")
        elif kind == "p":
            out.append(content + "\n")
        elif kind == "li":
            out.append(f"- {content}")
        elif kind == "table":
            header, rows = content
            out.append("| " + " | ".join(header) + " |")
            out.append("|" + "---|" * len(header))
            out += ["| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in r) + " |" for r in rows]
            out.append("")
        elif kind == "img":
            path, alt = content
            out.append(f"![{alt}](card/{path.name})\n")
    return "\n".join(out) + "\n"


def _inline(text: str) -> str:
    """Markdown's **bold** and `code` in escaped HTML."""
    import re

    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def _html(blocks, curated: Path) -> str:
    body = []
    in_list = False
    for kind, content in blocks:
        if kind != "li" and in_list:
            body.append("</ul>")
            in_list = False
        if kind in ("h1", "h2", "h3"):
            body.append(f"<{kind}>{_inline(content)}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{_inline(content)}</p>")
        elif kind == "li":
            if not in_list:
                body.append("<ul>")
                in_list = True
            body.append(f"<li>{_inline(content)}</li>")
        elif kind == "table":
            header, rows = content
            body.append("<table><tr>" + "".join(f"<th>{_inline(h)}</th>" for h in header) + "</tr>")
            body += ["<tr>" + "".join(f"<td>{_inline(str(c))}</td>" for c in r) + "</tr>" for r in rows]
            body.append("</table>")
        elif kind == "img":
            path, alt = content
            data = base64.b64encode(Path(path).read_bytes()).decode()
            body.append(f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{html.escape(alt)}</figcaption></figure>")
    if in_list:
        body.append("</ul>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:.5em 0;font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px}"
             "th{background:#f3f3f3}img{max-width:100%}figcaption{font-size:12px;color:#555}")
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>radcurate dataset card</title>"
            f"<style>{style}</style></head><body>" + "\n".join(body) + "</body></html>\n")
