"""Check a deid output against a synthetic export's PHI inventory (``truth/phi.parquet``).

Every planted value is searched, in its written forms (DICOM ``LAST^FIRST``, ``LAST, FIRST``,
``First Last``; dates as ``YYYYMMDD``, ``YYYY-MM-DD``, ``MM/DD/YYYY``), in the raw bytes of the
de-identified DICOM made from the file it was planted in, and in every curated table. Dates are
searched per patient: another patient's *shifted* date may equal this patient's real one by
chance, which is not a leak. Ages of 89 or less are not PHI under the Retain Patient
Characteristics option and are skipped, as are values shorter than 4 characters (they occur by
chance in any binary). Results name kind, location and output file, never the value.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from pathlib import Path

import pandas as pd

DATE_KINDS = {"date", "birth_date"}


def forms(value: str, kind: str) -> set[str]:
    """Written forms of one planted value."""
    v = str(value).strip()
    out = {v}
    if kind in DATE_KINDS or re.fullmatch(r"\d{4}-\d{2}-\d{2}|\d{8}", v):
        digits = v.replace("-", "")
        try:
            d = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
            out |= {d.strftime("%Y%m%d"), d.isoformat(), d.strftime("%m/%d/%Y"), f"{d.month}/{d.day}/{d.year}"}
        except ValueError:
            pass
    if "^" in v:
        parts = [p for p in v.split("^") if p]
        out.add(", ".join(parts[:2]))
        out.add(" ".join(reversed(parts[:2])))
    if ", " in v and kind.endswith("name"):
        last, first = v.split(", ", 1)
        out |= {f"{last}^{first}", f"{first} {last}"}
    if kind == "time" and re.fullmatch(r"\d{6}(\.\d+)?", v):
        out.add(v[:6])
    return {f for f in out if len(f) >= 4}


def _in_bytes(form: str, data: bytes) -> bool:
    """Is the planted value in ``data`` as a whole token? (Keyed hex pseudonyms and 2.25 UIDs are
    long digit runs in which a short number, a time or an ID, can appear by chance.)"""
    needle = form.encode("utf-8")
    start = data.find(needle)
    while start >= 0:
        before = data[start - 1:start] if start else b""
        after = data[start + len(needle):start + len(needle) + 1]
        if not (before.isalnum() or after.isalnum()):
            return True
        start = data.find(needle, start + 1)
    return False


def _skip(kind: str, value: str) -> bool:
    if kind == "age":
        m = re.match(r"^(\d+)", value)
        return bool(m) and int(m[1]) <= 89
    return len(value) < 4


def find_leaks(out_dir: str | Path, truth_dir: str | Path) -> list[dict]:
    """Planted values found in outputs: ``[{kind, location, output}]`` (no values)."""
    out_dir, truth = Path(out_dir), Path(truth_dir)
    phi = pd.read_parquet(truth / "phi.parquet")
    phi = phi[[not _skip(k, str(v)) for k, v in zip(phi.kind, phi.value)]]
    leaks: list[dict] = []
    cw_path = out_dir / "phi" / "crosswalk.parquet"
    inst = pd.read_parquet(out_dir / "curated" / "instances.parquet") if (out_dir / "curated" / "instances.parquet").exists() else None
    if cw_path.exists() and inst is not None:
        cw = pd.read_parquet(cw_path)
        path_of = dict(zip(inst.instance_key, inst.path))
        out_of = {src: path_of.get(k) for src, k in zip(cw.source, cw.instance_key)}
        patient_of = dict(zip(cw.source, cw.patient_key))
        by_patient: dict[str, list] = defaultdict(list)
        by_source: dict[str, list] = defaultdict(list)
        for row in phi.itertuples():
            by_source[row.source].append(row)
            if row.source in patient_of:
                by_patient[patient_of[row.source]].append(row)
        date_forms: dict[str, dict[str, tuple]] = defaultdict(dict)
        for pk, rows in by_patient.items():
            for r in rows:
                if r.kind in DATE_KINDS:
                    for f in forms(r.value, r.kind):
                        date_forms[pk][f] = (r.kind, r.location)
        for src, rel in out_of.items():
            if rel is None:
                continue
            data = (out_dir / "curated" / rel).read_bytes()
            pk = patient_of[src]
            needles = dict(date_forms[pk])
            for r in by_source[src]:
                if r.kind not in DATE_KINDS:
                    for f in forms(r.value, r.kind):
                        needles[f] = (r.kind, r.location)
            found = set()
            for f, (kind, loc) in needles.items():
                if (kind, loc) not in found and (_in_bytes(f, data) or _in_bytes(f.upper(), data)):
                    found.add((kind, loc))
                    leaks.append({"kind": kind, "location": loc, "output": rel})
    non_dates = phi[~phi.kind.isin(DATE_KINDS)]
    needles = {(f.lower(), k, loc) for v, k, loc in zip(non_dates.value, non_dates.kind, non_dates.location)
               for f in forms(v, k)}
    for table in sorted((out_dir / "curated").glob("*.parquet")):
        df = pd.read_parquet(table)
        cells = {str(v) for c in df.columns for v in df[c].astype(str).unique()}
        text = "\n".join(sorted(cells)).lower()
        for f, kind, loc in needles:
            if f in text and re.search(r"(?<![0-9a-z])" + re.escape(f) + r"(?![0-9a-z])", text):
                leaks.append({"kind": kind, "location": loc, "output": table.name})
    return leaks


def burned_in_scores(out_dir: str | Path, truth_dir: str | Path) -> dict:
    """How the text detector did against ``truth/burned_in.parquet``.

    ``box_recall``: share of planted text lines fully inside blanked regions; ``files_missed``:
    files with planted text where some line was not fully blanked; ``false_files``: files blanked
    without planted text; ``false_area``: share of blanked pixels outside every planted line box.
    """
    out_dir, truth = Path(out_dir), Path(truth_dir)
    bi = pd.read_parquet(truth / "burned_in.parquet")
    cw = pd.read_parquet(out_dir / "phi" / "crosswalk.parquet")
    audit = pd.read_parquet(out_dir / "curated" / "deid_audit.parquet")
    blanked = audit[audit.action == "blanked"]
    key_of = dict(zip(cw.source, cw.instance_key))
    boxes_of: dict[str, list] = defaultdict(list)
    for r in blanked.itertuples():
        boxes_of[r.instance_key].append((r.x0, r.y0, r.x1, r.y1))
    hit = 0
    missed_files = set()
    for r in bi.itertuples():
        boxes = boxes_of.get(key_of.get(r.path), [])
        if any(b[0] <= r.x0 and b[1] <= r.y0 and b[2] >= r.x1 and b[3] >= r.y1 for b in boxes):
            hit += 1
        else:
            missed_files.add(r.path)
    truth_keys = {key_of.get(p) for p in bi.path}
    false_files = sum(1 for k in boxes_of if k not in truth_keys)
    total = outside = 0
    truth_by_key: dict[str, list] = defaultdict(list)
    for r in bi.itertuples():
        truth_by_key[key_of.get(r.path)].append((r.x0, r.y0, r.x1, r.y1))
    for k, boxes in boxes_of.items():
        for x0, y0, x1, y1 in boxes:
            area = (x1 - x0) * (y1 - y0)
            inside = 0
            for tx0, ty0, tx1, ty1 in truth_by_key.get(k, []):
                inside += max(0, min(x1, tx1) - max(x0, tx0)) * max(0, min(y1, ty1) - max(y0, ty0))
            total += area
            outside += max(0, area - inside)
    return {"text_lines": len(bi), "box_recall": hit / len(bi) if len(bi) else 1.0,
            "files_with_text": int(bi.path.nunique()), "files_missed": len(missed_files),
            "false_files": false_files, "blanked_px": total,
            "false_area": outside / total if total else 0.0}
