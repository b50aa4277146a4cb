"""A stage that fails leaves the previous version of its outputs current.

Before a stage is redone its outputs are moved aside (``OUT/_state/previous/<stage>/``: renames,
cheap on one file system). When the stage passes its checks the set-aside copy is dropped. When it
fails its checks (or errors), what it wrote is moved out of ``curated/`` to the private PHI zone
(``OUT/phi/rejected/<stage>/``, replacing an earlier rejected copy; a rejected table may be why a
check failed, so it is not shared) and the previous outputs are moved back. A run killed while the
stage ran leaves the set-aside copy; the next run puts it back before doing anything else.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterable

PREVIOUS = Path("_state") / "previous"
REJECTED = Path("phi") / "rejected"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _move(src: Path, dest: Path) -> None:
    _remove(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dest)


def set_aside(stage: str, outputs: Iterable[str], out_dir: Path) -> None:
    """Move the stage's existing outputs to ``OUT/_state/previous/<stage>/`` (an older copy there
    is dropped first)."""
    aside = Path(out_dir, PREVIOUS, stage)
    _remove(aside)
    for rel in outputs:
        src = Path(out_dir, rel)
        if src.exists() or src.is_symlink():
            _move(src, aside / rel)


def drop_previous(stage: str, out_dir: Path) -> None:
    """The stage passed: its set-aside outputs are no longer needed."""
    _remove(Path(out_dir, PREVIOUS, stage))


def restore_previous(stage: str, outputs: Iterable[str], out_dir: Path, *, keep_rejected: bool) -> Path | None:
    """Put the set-aside outputs back; what the stage wrote goes to ``OUT/phi/rejected/<stage>/``
    (``keep_rejected``) or is removed. Returns the rejected folder when something was kept."""
    aside = Path(out_dir, PREVIOUS, stage)
    rejected = Path(out_dir, REJECTED, stage)
    kept = False
    if keep_rejected:
        _remove(rejected)
    for rel in outputs:
        written = Path(out_dir, rel)
        if written.exists() or written.is_symlink():
            if keep_rejected:
                rejected.parent.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                _move(written, rejected / rel)
                kept = True
            else:
                _remove(written)
        previous = aside / rel
        if previous.exists() or previous.is_symlink():
            _move(previous, written)
    _remove(aside)
    return rejected if kept else None


def recover(stage: str, outputs: Iterable[str], out_dir: Path, completed: bool) -> None:
    """Left over from a run killed while the stage ran: put the previous outputs back (or, when the
    stage had completed before the kill, drop them)."""
    if not Path(out_dir, PREVIOUS, stage).exists():
        return
    if completed:
        drop_previous(stage, out_dir)
    else:
        restore_previous(stage, outputs, out_dir, keep_rejected=False)
