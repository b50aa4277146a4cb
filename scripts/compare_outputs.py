"""Compare two radcurate output folders table by table, row for row.

    python scripts/compare_outputs.py digest OUT > before.json      # before a change
    python scripts/compare_outputs.py digest OUT2 > after.json      # after it
    python scripts/compare_outputs.py diff before.json after.json   # exit 1 on any difference

Every Parquet table under OUT (``phi/``, ``curated/``, ``quarantine.parquet``, ``curated/images``)
is read whole, its rows put in a canonical order (sorted by every column's text), and each column
hashed; every file under ``curated/dicom`` and ``curated/annotations`` is hashed by content. Columns
that record when or where a run happened (absolute input paths, timings, the run's own scratch
names) are listed in ``VOLATILE`` and compared by row count only. Used to show that a refactor left
every table identical (issue 22).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

# (table suffix, column): values that legitimately differ between two runs of the same code.
VOLATILE = {
    ("phi/instances.parquet", "path"),  # absolute path of the input file
    ("phi/annotations.parquet", "path"),
}


def _cell(value) -> str:
    if isinstance(value, float) and value != value:
        return "nan"
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    return json.dumps(value, sort_keys=True, default=str)


def _read(path: Path) -> pa.Table:
    """A table file, or a table folder part by part (the images table's pixel width differs by part)."""
    parts = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    tables = []
    for part in parts:
        t = pq.read_table(part)
        tables.append(t.cast(pa.schema([f.with_type(pa.binary()) if pa.types.is_fixed_size_binary(f.type) else f
                                        for f in t.schema])))
    return pa.concat_tables(tables, promote_options="permissive") if tables else pa.table({})


def table_digest(path: Path, rel: str) -> dict:
    table = _read(path)
    names = sorted(table.column_names)
    columns = {n: [_cell(v) for v in table.column(n).to_pylist()] for n in names}
    stable = [n for n in names if (rel, n) not in VOLATILE]
    order = sorted(range(table.num_rows), key=lambda i: tuple(columns[n][i] for n in stable))
    digests = {}
    for n in names:
        if (rel, n) in VOLATILE:
            digests[n] = f"volatile ({table.num_rows} rows)"
            continue
        h = hashlib.sha256()
        for i in order:
            h.update(columns[n][i].encode() + b"\0")
        digests[n] = h.hexdigest()[:16]
    return {"rows": table.num_rows, "types": {f.name: str(f.type) for f in table.schema}, "columns": digests}


def tables(out: Path) -> list[Path]:
    """Table folders (holding part files) and single Parquet files outside them."""
    found = []
    for path in sorted(out.rglob("*.parquet")):
        rel = path.relative_to(out)
        if any(p.startswith((".", "_")) for p in rel.parts) or rel.parts[0] == "validation":
            continue
        if path.is_file() and (path.parent.suffix == ".parquet" or path.name.startswith("part-")):
            continue
        found.append(path)
    found += [p.parent for p in out.rglob("part-*.parquet")
              if p.parent.suffix != ".parquet" and not any(x.startswith((".", "_")) for x in p.relative_to(out).parts)]
    return sorted(set(found))


def digest(out: Path) -> dict:
    result: dict = {"tables": {}, "files": {}}
    for path in tables(out):
        rel = path.relative_to(out).as_posix()
        result["tables"][rel] = table_digest(path, rel)
    for sub in ("curated/dicom", "curated/annotations"):
        for path in sorted((out / sub).rglob("*")) if (out / sub).is_dir() else []:
            if path.is_file():
                result["files"][path.relative_to(out).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return result


def diff(a: dict, b: dict) -> list[str]:
    problems = []
    for kind in ("tables", "files"):
        for name in sorted(set(a[kind]) | set(b[kind])):
            if name not in a[kind] or name not in b[kind]:
                problems.append(f"{name}: only in {'after' if name not in a[kind] else 'before'}")
                continue
            x, y = a[kind][name], b[kind][name]
            if kind == "files":
                if x != y:
                    problems.append(f"{name}: content differs")
                continue
            if x["rows"] != y["rows"]:
                problems.append(f"{name}: {x['rows']} rows before, {y['rows']} after")
            for col in sorted(set(x["columns"]) | set(y["columns"])):
                if x["columns"].get(col) != y["columns"].get(col):
                    problems.append(f"{name}[{col}]: differs ({x['types'].get(col)} / {y['types'].get(col)})")
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("digest")
    d.add_argument("out")
    c = sub.add_parser("diff")
    c.add_argument("before")
    c.add_argument("after")
    args = p.parse_args(argv)
    if args.cmd == "digest":
        json.dump(digest(Path(args.out)), sys.stdout, indent=1, sort_keys=True)
        return 0
    problems = diff(json.loads(Path(args.before).read_text()), json.loads(Path(args.after).read_text()))
    a = json.loads(Path(args.before).read_text())
    print(f"{len(a['tables'])} tables, {len(a['files'])} files compared: "
          + ("identical" if not problems else f"{len(problems)} differences"))
    for line in problems:
        print("  " + line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
