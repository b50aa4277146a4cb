"""Find every file of a DICOM tree, and what its DICOMDIR files say the tree holds.

Every file on disk is accounted for exactly once whether or not a DICOMDIR lists it: the walk,
not the DICOMDIR, decides what is ingested. A DICOMDIR is read only to mark which instances it
indexes (``in_dicomdir``) and to count the entries that point at files missing from the tree.
"""

from __future__ import annotations

import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import pydicom


@dataclass(frozen=True)
class TreeScan:
    """What a walk of a DICOM tree found: regular files to read, and entries that cannot be
    (folders that cannot be listed, FIFOs, sockets, devices, dangling links) as quarantine rows."""

    files: list[str]
    problems: list[dict[str, str]]

    def entries(self) -> list[str]:
        """Every accounted entry: files plus problem entries (an unreadable folder ends in ``/``)."""
        return sorted(self.files + [p["source"] for p in self.problems])


_SPECIAL = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
            (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def scan_tree(root: str | os.PathLike, exclude: str | os.PathLike | None = None) -> TreeScan:
    """Walk ``root`` once; nothing found is skipped silently and nothing is opened.

    Symbolic links, to files or folders, are followed when their target lies inside ``root``: the
    target is listed under its real path, once (a link to a file or folder the walk reaches anyway
    adds nothing, and a link to a folder above it cannot loop). A link whose target lies outside
    ``root`` is a problem row (``link_outside_input``) and its target is never read. A folder that
    cannot be listed, and any entry that is not a regular file (opening a FIFO would wait forever),
    becomes a problem row named relative to ``root``.
    """
    root = os.fspath(root)
    real_root = os.path.realpath(root)
    skip = os.path.realpath(exclude) if exclude else None
    files: set[str] = set()
    problems: list[dict[str, str]] = []
    seen_dirs = {""}  # folders listed or to be listed, by their real path below the root
    stack = [""]

    def inside(real: str) -> str | None:
        """``real`` relative to the root (POSIX), or None when it lies outside."""
        if real == real_root:
            return ""
        if not real.startswith(real_root.rstrip(os.sep) + os.sep):
            return None
        return Path(os.path.relpath(real, real_root)).as_posix()

    while stack:
        rel = stack.pop()
        folder = os.path.join(root, rel) if rel else root
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            problems.append({"source": (rel + "/") if rel else "./", "reason": "unreadable_folder",
                             "detail": f"folder cannot be listed ({exc.strerror or type(exc).__name__}); "
                                       "the files in it are not counted: fix its permissions and rerun"})
            continue
        for entry in entries:
            path = rel + entry.name if not rel else rel + "/" + entry.name
            target = path
            try:
                if entry.is_symlink():
                    real = os.path.realpath(entry.path)
                    target = inside(real)
                    if target is None:
                        problems.append({"source": path, "reason": "link_outside_input",
                                         "detail": "symbolic link to a location outside the input folder; "
                                                   "it was not followed and nothing there was read"})
                        continue
                    if entry.is_dir(follow_symlinks=True):
                        if target not in seen_dirs and (skip is None or real != skip):
                            seen_dirs.add(target)
                            stack.append(target)
                        continue
                elif entry.is_dir(follow_symlinks=False):
                    # a folder reached through real folders only: its path is its real path below the root
                    if path not in seen_dirs and (skip is None or os.path.realpath(entry.path) != skip):
                        seen_dirs.add(path)
                        stack.append(path)
                    continue
                mode = entry.stat(follow_symlinks=True).st_mode
            except FileNotFoundError:
                problems.append({"source": path, "reason": "unreadable",
                                 "detail": "symbolic link to a file that does not exist"})
                continue
            except OSError as exc:
                problems.append({"source": path, "reason": "unreadable",
                                 "detail": f"cannot stat file ({exc.strerror or type(exc).__name__})"})
                continue
            if stat.S_ISREG(mode):
                files.add(target)
                continue
            kind = next((name for test, name in _SPECIAL if test(mode)), "not a regular file")
            problems.append({"source": path, "reason": "not_regular_file",
                             "detail": f"{kind} is not a file; it was not opened"})
    return TreeScan(sorted(files), sorted(problems, key=lambda p: p["source"]))


def first_candidate(root: str | os.PathLike, exclude: str | os.PathLike | None = None) -> str | None:
    """The first file under ``root`` that could be DICOM (:func:`radcurate.dicom_file.could_be_dicom`),
    walking as :func:`scan_tree` does but stopping there; None when there is none."""
    from radcurate.dicom_file import could_be_dicom

    root = os.fspath(root)
    real_root = os.path.realpath(root).rstrip(os.sep) + os.sep
    skip = os.path.realpath(exclude) if exclude else None
    stack = [root]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                entries = list(it)
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if skip is None or os.path.realpath(entry.path) != skip:
                        stack.append(entry.path)
                elif entry.is_file(follow_symlinks=not entry.is_symlink()) and could_be_dicom(entry.path):
                    return entry.path
                elif entry.is_symlink() and os.path.realpath(entry.path).startswith(real_root) \
                        and os.path.isfile(entry.path) and could_be_dicom(entry.path):
                    return entry.path
            except OSError:
                continue
    return None


def list_files(root: str | os.PathLike, exclude: str | os.PathLike | None = None) -> list[str]:
    """Relative POSIX paths of every entry under ``root`` that ingest accounts for: all files (any
    name, with or without extension), non-regular entries, and folders that cannot be listed
    (with a trailing ``/``). ``exclude`` skips one folder (the output folder, when a user puts it
    inside the tree)."""
    return scan_tree(root, exclude).entries()


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


def read_dicomdir(root: str | os.PathLike, relpath: str, by_lower: Mapping[str, str]) -> DicomdirListing:
    """Resolve the Referenced File IDs of one DICOMDIR against the files found on disk
    (``by_lower``: lower-cased relpath -> relpath, built once for all of a tree's DICOMDIRs).

    File IDs are matched case-insensitively: media file systems (ISO 9660) store upper case names
    that a copied tree may not keep.
    """
    base = Path(relpath).parent
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
