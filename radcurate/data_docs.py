"""Great Expectations Data Docs for each stage: ``OUT/validation/<stage>/index.html`` (GE's own site
builder), the suite and result JSON beside it, and ``OUT/validation/index.html`` linking the stages.

PHI never reaches the docs: results are computed with ``partial_unexpected_count: 0`` (no offending
values), and before anything is stored or rendered every expectation argument that may carry values
of a PHI-zone table — ``regex_list`` (patient names, MRNs), any value list of a suite over ``phi/``,
any value list longer than 20 — is replaced by a count. Suites are not rendered as separate pages
(their arguments would be); the validation pages show each expectation, its outcome and counts.
"""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path
from typing import Any, Mapping

RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 0, "include_unexpected_rows": False}
LIST_KWARGS_SHOWN = 20


def redact_kwargs(kwargs: Mapping[str, Any], table: str) -> dict[str, Any]:
    """Expectation arguments safe to show: value lists that could hold PHI become a count."""
    out = {}
    for key, value in kwargs.items():
        if isinstance(value, (list, tuple, set)) and key != "column_list" and (
            key == "regex_list" or table.startswith("phi/") or len(value) > LIST_KWARGS_SHOWN
        ):
            out[key] = [f"<{len(value)} values, not shown>"]
        else:
            out[key] = value
    return out


def add_site(ctx: Any, site_dir: Path) -> None:
    """A Data Docs site in ``site_dir`` (replaced), built by GE's SiteBuilder."""
    if site_dir.exists():
        shutil.rmtree(site_dir)
    site_dir.mkdir(parents=True)
    ctx.add_data_docs_site(
        site_name="radcurate",
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(Path(site_dir).resolve())},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )


def store_result(ctx: Any, result_id: Any, result: Any, table: str) -> dict[str, Any]:
    """Redact a validation result in place, store it for the docs; return its JSON."""
    for res in result.results:
        config = res.expectation_config
        config.kwargs = redact_kwargs(config.kwargs, table)
    ctx.validation_results_store.set(result_id, result)
    return result.to_json_dict()


def build(ctx: Any, site_dir: Path, suite_names: list[str], results: list[dict[str, Any]]) -> None:
    """Render the site (validation pages only) and write ``results.json`` beside it."""
    for name in suite_names:  # suites hold unredacted arguments: not rendered
        ctx.suites.delete(name)
    ctx.build_data_docs(site_names=["radcurate"])
    for image in (site_dir / "static" / "images").glob("*"):  # GE's tutorial GIFs (3 MB), not used by the pages
        if image.suffix in (".gif",) or image.stat().st_size > 256 * 1024:
            image.unlink()
    (site_dir / "results.json").write_text(json.dumps(results, indent=1, default=str))
    write_index(site_dir.parent)


def write_index(validation_dir: Path) -> Path:
    """``OUT/validation/index.html``: one link per stage whose Data Docs exist."""
    stages = sorted(p.parent.name for p in validation_dir.glob("*/index.html"))
    items = "".join(f'<li><a href="{html.escape(s)}/index.html">{html.escape(s)}</a> '
                    f'(<a href="{html.escape(s)}/results.json">results.json</a>)</li>' for s in stages)
    path = validation_dir / "index.html"
    path.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'><title>radcurate validation</title></head>"
                    f"<body><h1>Great Expectations Data Docs per stage</h1><ul>{items}</ul></body></html>\n")
    return path
