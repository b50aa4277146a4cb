"""Fingerprints of inputs and outputs: what decides whether a completed stage is still current.

Files by content (SHA-256), table folders (``*.parquet/``) by their parts' contents, other folders
by their listing (path, size, mtime). Shared by the runner and by stages whose config points at
files (reviewed labels, lexicons, the secret's key id).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence

from radcurate.tables import table_parts


def fingerprint_path(path: Path | None) -> str:
    if path is None:
        return "none"
    path = Path(path)
    if path.is_file():
        return "file:" + _content_hash([path], names=False)
    if path.is_dir() and path.suffix == ".parquet":  # a table: its parts by content, as a file was
        return "table:" + _content_hash(table_parts(path))
    if path.is_dir():
        h = hashlib.sha256()
        for folder, dirs, names in os.walk(path):
            dirs.sort()
            for name in sorted(names):
                p = Path(folder, name)
                try:
                    st = p.stat()
                except OSError:
                    continue
                name = os.fsencode(p.relative_to(path).as_posix())  # any bytes, even non-UTF-8
                h.update(name + f"\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return "dir:" + h.hexdigest()
    return "missing"


def _content_hash(files: Sequence[Path], names: bool = True) -> str:
    h = hashlib.sha256()
    for path in files:
        if names:
            h.update(path.name.encode() + b"\0")
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()
