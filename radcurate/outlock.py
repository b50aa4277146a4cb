"""An exclusive lock on an output folder, so two runs never write into the same OUT at once.

``fcntl.flock`` on ``OUT/.radcurate.lock``: the kernel releases it when the process ends, even
on ``kill -9``, so a crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Iterator

LOCK_NAME = ".radcurate.lock"


class OutputLocked(OSError):
    """Another process holds the output folder."""


@contextlib.contextmanager
def lock_output(out_dir: str | os.PathLike) -> Iterator[Path]:
    """Hold the exclusive lock on ``out_dir`` (created if needed) for the ``with`` block."""
    import fcntl

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise OutputLocked(f"{out} is in use by another radcurate run ({holder}); wait for it to "
                               "finish or choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}".encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the lock
