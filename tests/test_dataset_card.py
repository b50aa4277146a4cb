"""The dataset card a person opens: README.md with Hugging Face configs, an HTML page with plots
that a real browser renders (headless Chromium screenshot), Great Expectations Data Docs per stage;
no PHI in any of them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from radcurate.dags.runner import run_pipeline
from radcurate.synthesis import generate_export
from radcurate.synthesis.config import ExportConfig

# matplotlib's default colours of the plots: label prevalence bars, confidence histograms, sizes
PLOT_COLOURS = {"prevalence": (0x1F, 0x77, 0xB4), "confidence": (0xFF, 0x7F, 0x0E), "sizes": (0x2C, 0xA0, 0x2C)}


@pytest.fixture(scope="module")
def run_out(tmp_path_factory):
    export = generate_export(tmp_path_factory.mktemp("card_export"), patients=2, seed=4,
                             config=ExportConfig(ct_slices=12))
    out = tmp_path_factory.mktemp("card_out")
    report = run_pipeline({"dicom": export / "pacs", "reports": export / "ris/reports.csv"}, out, workers=0,
                          log=lambda line: None)
    assert report.ok
    return export, out


def test_readme_front_matter_opens_every_table_and_explains_the_columns(run_out):
    export, out = run_out
    text = (out / "curated/README.md").read_text()
    assert text.startswith("---\n")
    front = yaml.safe_load(text.split("---\n")[1])
    configs = {c["config_name"]: c for c in front["configs"]}
    assert configs["labels"].get("default") is True
    assert {"labels", "studies", "reports", "measurements", "recist", "topic_terms"} <= set(configs)
    for name, c in configs.items():  # what datasets.load_dataset(curated, name) reads: a glob of parts
        parts = sorted((out / "curated").glob(c["data_files"]))
        assert parts and len(pd.concat(pd.read_parquet(p) for p in parts)) >= 0, name
        table = out / "curated" / f"{name}.parquet"
        assert pd.read_parquet(table).shape == pd.concat(pd.read_parquet(p) for p in parts).shape  # the folder too
        for field in pq.read_schema(parts[0]):  # every column explained, in the file and on the card
            doc = field.metadata[b"description"].decode()
            assert doc and f"| {field.name} | " in text, (name, field.name)
    assert "| probability | double | label model's probability" in text
    assert "| value | int8 | label after the finding's uncertainty policy: 1 present, 0 absent, -1 uncertain" in text
    assert "retain_dates" in text and "clean_pixels" in text  # the de-id options used
    assert "## Quarantine" in text and "## Known limits" in text and "## RECIST responses" in text
    for png in ("label_prevalence.png", "label_confidence.png", "sizes.png"):
        assert f"](card/{png})" in text and (out / "curated/card" / png).stat().st_size > 1000
    # nothing from the PHI zone: no patient name, MRN or accession of the export
    phi = pd.read_parquet(export / "truth/phi.parquet")
    html = (out / "curated/card.html").read_text()
    values = [v for v in phi["value"].astype(str) if len(v) >= 6] if "value" in phi else []
    assert values and not [v for v in values if v in text or v in html]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def colour_pixels(image: np.ndarray, rgb) -> int:
    return int((np.abs(image[..., :3].astype(int) - np.array(rgb)).sum(axis=-1) <= 6).sum())


def test_the_html_card_renders_its_plots_in_a_real_browser(run_out, tmp_path):
    browser = chromium()
    if browser is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium; `make system-deps`)")
    from PIL import Image

    _, out = run_out
    card = out / "curated/card.html"
    shots = {}
    for name, page in (("card", card), ("blank", _without_images(card, tmp_path))):
        shot = tmp_path / f"{name}.png"
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--window-size=1100,4000", f"--screenshot={shot}", page.as_uri()],
                       check=True, capture_output=True, timeout=120)
        shots[name] = np.asarray(Image.open(shot).convert("RGB"))
    for plot, rgb in PLOT_COLOURS.items():
        assert colour_pixels(shots["card"], rgb) > 500, f"{plot} plot not rendered"
        assert colour_pixels(shots["blank"], rgb) < 50  # the colour comes from the plots, not the page


def _without_images(card: Path, tmp_path: Path) -> Path:
    """The same page with every image removed: the control screenshot."""
    import re

    page = tmp_path / "blank.html"
    page.write_text(re.sub(r"<img [^>]*>", "", card.read_text()))
    return page


def test_great_expectations_data_docs_per_stage_without_phi(run_out):
    export, out = run_out
    validation = out / "validation"
    index = (validation / "index.html").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    for stage, info in manifest["stages"].items():
        assert f'href="{stage}/index.html"' in index
        site = (validation / stage / "index.html").read_text()
        assert "radcurate" in site and "validations/" in site  # GE's site index links each validation page
        results = json.loads((validation / stage / "results.json").read_text())
        ge_checks = [c for s in info["validation"] for c in s["checks"]
                     if c["expectation"] != "expect_quarantined_share_to_be_at_most"]
        assert sum(len(r["results"]) for r in results) == len(ge_checks)
        assert all(r["success"] for r in results)
    deid = json.loads((validation / "deid/results.json").read_text())
    leak = [e for r in deid for e in r["results"]
            if e["expectation_config"]["type"] == "expect_column_values_to_not_match_regex_list"]
    assert leak and leak[0]["expectation_config"]["kwargs"]["regex_list"][0].endswith("values, not shown>")
    # no value planted as PHI in the export appears anywhere in the docs
    phi = pd.read_parquet(export / "truth/phi.parquet")
    values = {str(v) for v in phi["value"] if len(str(v)) >= 6}
    docs = [p.read_text(errors="ignore") for p in validation.rglob("*") if p.suffix in (".html", ".json")]
    assert len(docs) > 10 and values
    assert not [v for v in values if any(v in d for d in docs)]


def test_curated_reports_declare_their_schema_and_join_studies_in_pyarrow(run_out):
    import pyarrow.parquet as pq

    _, out = run_out
    reports = pq.read_table(out / "curated/reports.parquet")
    studies = pq.read_table(out / "curated/studies.parquet")
    assert str(reports.schema.field("study_key").type) == "string"
    assert reports.schema.field("text").metadata[b"description"]
    joined = reports.join(studies.select(["study_key", "modality"]), "study_key")
    assert joined.num_rows == reports.num_rows and joined.column("modality").null_count == 0
    assert "| text | string | report text with PHI removed or replaced |" in (out / "curated/README.md").read_text()
