"""Generate deid/data/annex_e_<edition>.csv from the DICOM PS3.15 Table E.1-1 data in `dicom-anonymizer`.

The standard is not on this machine as a document; the PyPI package `dicom-anonymizer` embeds the
Basic Application Level Confidentiality Profile column of Table E.1-1 as Python data, one module per
edition. This script reads the newest edition it carries and writes the project's own data table, so
nobody types the table by hand. Run:  .venv/bin/python scripts/gen_annex_e.py [--edition 2026c]

Columns: edition, tag ("(gggg,eeee)", with "xx" where the standard repeats a group), group,
element, group_mask, element_mask (a tag matches when tag_group & group_mask == group and
tag_element & element_mask == element), keyword, name, action (D, Z, X, U, Z/D, X/Z, X/D, X/Z/D,
X/Z/U*).
"""

from __future__ import annotations

import argparse
import csv
import importlib
import pkgutil
import re
from pathlib import Path

import pydicom.datadict as dd

CATEGORY_ACTION = {
    "D_TAGS": "D",
    "Z_TAGS": "Z",
    "X_TAGS": "X",
    "U_TAGS": "U",
    "Z_D_TAGS": "Z/D",
    "X_Z_TAGS": "X/Z",
    "X_D_TAGS": "X/D",
    "X_Z_D_TAGS": "X/Z/D",
    "X_Z_U_STAR_TAGS": "X/Z/U*",
}
OUT_DIR = Path(__file__).resolve().parents[1] / "deid" / "data"


def available_editions() -> dict[str, str]:
    """Edition name (e.g. '2026c') -> module name inside dicom-anonymizer."""
    import dicomanonymizer.dicom_anonymization_databases as dbs

    out = {}
    for mod in pkgutil.iter_modules(dbs.__path__):
        m = re.fullmatch(r"dicomfields_(\d{4}[a-z]?)", mod.name)
        if m:
            out[m.group(1)] = f"{dbs.__name__}.{mod.name}"
    return out


def comment_names(source: str) -> dict[tuple[int, ...], str]:
    """The attribute names the package writes as comments after each tag tuple."""
    names = {}
    flat = re.sub(r"\(\s*\n\s*", "(", source)
    flat = re.sub(r",\s*\n\s*\)", ")", flat)
    flat = re.sub(r"(0x[0-9A-Fa-f]{4}),\s*\n\s*", r"\1, ", flat)
    for m in re.finditer(r"\(((?:0x[0-9A-Fa-f]{4},?\s*){2,4})\),?\s*#\s*(.+)", flat):
        key = tuple(int(x, 16) for x in re.findall(r"0x[0-9A-Fa-f]{4}", m.group(1)))
        names[key] = m.group(2).strip()
    return names


def tag_text(group: int, element: int, gmask: int, emask: int) -> str:
    g = f"{group:04X}"
    e = f"{element:04X}"
    if gmask != 0xFFFF:
        g = "".join(c if ((gmask >> (12 - 4 * i)) & 0xF) else "x" for i, c in enumerate(g))
    if emask != 0xFFFF:
        e = "".join(c if ((emask >> (12 - 4 * i)) & 0xF) else "x" for i, c in enumerate(e))
    return f"({g},{e})"


def rows_for(edition: str, module_name: str) -> list[dict]:
    mod = importlib.import_module(module_name)
    names = comment_names(Path(mod.__file__).read_text())
    rows, seen = [], set()
    for category, action in CATEGORY_ACTION.items():
        for entry in getattr(mod, category):
            group, element, gmask, emask = (*entry, 0xFFFF, 0xFFFF)[:4] if len(entry) == 2 else entry
            key = (group, element, gmask, emask)
            if key in seen:
                raise SystemExit(f"tag {tag_text(*key)} listed twice in {module_name}")
            seen.add(key)
            exact = gmask == 0xFFFF and emask == 0xFFFF
            tag = (group << 16) | element
            keyword = dd.keyword_for_tag(tag) if exact else ""
            name = names.get(tuple(entry)) or (dd.dictionary_description(tag) if exact and dd.dictionary_has_tag(tag) else "")
            rows.append({
                "edition": edition, "tag": tag_text(*key), "group": f"{group:04X}",
                "element": f"{element:04X}", "group_mask": f"{gmask:04X}", "element_mask": f"{emask:04X}",
                "keyword": keyword, "name": name, "action": action,
            })
    rows.sort(key=lambda r: (r["group"], r["element"]))
    return rows


def main(argv: list[str] | None = None) -> int:
    editions = available_editions()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--edition", default=max(editions), help=f"one of {sorted(editions)} (default newest)")
    args = ap.parse_args(argv)
    rows = rows_for(args.edition, editions[args.edition])
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"annex_e_{args.edition}.csv"
    with out.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {len(rows)} rules of edition {args.edition} to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
