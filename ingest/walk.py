"""Find every file of a DICOM tree, and what its DICOMDIR files say the tree holds.

Every file on disk is accounted for exactly once whether or not a DICOMDIR lists it: the walk,
not the DICOMDIR, decides what is ingested. A DICOMDIR is read only to mark which instances it
indexes (``in_dicomdir``) and to count the entries that point at files missing from the tree.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import pydicom


def list_files(root: str | os.PathLike, exclude: str | os.PathLike | None = None) -> list[str]:
    """Relative POSIX paths of all files under ``root`` (any name, with or without extension).

    ``exclude`` skips one folder (the output folder, when a user puts it inside the tree).
    Symbolic links to folders are not followed, so no file is seen twice.
    """
    root = os.fspath(root)
    skip = os.path.realpath(exclude) if exclude else None
    found: list[str] = []
    for folder, dirs, names in os.walk(root):
        if skip is not None:
            dirs[:] = [d for d in dirs if os.path.realpath(os.path.join(folder, d)) != skip]
        rel = os.path.relpath(folder, root)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        found.extend(prefix + name for name in names)
    return sorted(found)


def display_path(path: str) -> str:
    """A path as it can be stored and shown: bytes of a non-UTF-8 file name become U+FFFD."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


@dataclass(frozen=True)
class DicomdirListing:
    """Files one DICOMDIR references (relative to the tree root) and how many are missing."""

    relpath: str
    referenced: frozenset[str]
    missing: int
    readable: bool


def read_dicomdir(root: str | os.PathLike, relpath: str, on_disk: set[str]) -> DicomdirListing:
    """Resolve the Referenced File IDs of one DICOMDIR against the files found on disk.

    File IDs are matched case-insensitively: media file systems (ISO 9660) store upper case names
    that a copied tree may not keep.
    """
    base = Path(relpath).parent
    by_lower = {p.lower(): p for p in on_disk}
    referenced: set[str] = set()
    missing = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(Path(root, relpath), force=True)
        records = ds.get("DirectoryRecordSequence") or []
        for record in records:
            file_id = record.get("ReferencedFileID")
            if not file_id:
                continue
            parts = [file_id] if isinstance(file_id, str) else list(file_id)
            rel = (base / Path(*parts)).as_posix() if parts else None
            hit = by_lower.get(rel.lower()) if rel else None
            if hit is None:
                missing += 1
            else:
                referenced.add(hit)
    except Exception:
        return DicomdirListing(relpath, frozenset(), 0, readable=False)
    return DicomdirListing(relpath, frozenset(referenced), missing, readable=True)
