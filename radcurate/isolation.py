"""Native pixel decoders run where a crash, a panic or a hang cannot take the run down.

pydicom hands compressed frames to native plugins (pylibjpeg's Rust RLE decoder, OpenJPEG,
libjpeg, CharLS, GDCM). On malformed input they do not always raise an ``Exception``:

* pyo3's ``PanicException`` (an RLE file whose Rows disagree with its segments) derives from
  ``BaseException``, so ``except Exception`` lets it through and it ends the process or the task;
  :func:`guarded` turns such a ``BaseException`` (not an interrupt or an exit) into
  :class:`NativeFailure`.
* C and C++ decoders can abort, crash or loop: no ``except`` helps there. :class:`Sandbox` decodes
  such a file first in a child process with a time limit; only a file that decodes there is decoded
  in the worker itself. One child serves every file of a worker process (no start-up per file); a
  child that crashed or timed out is replaced for the next file.

The file is then quarantined (``pixel_undecodable``) with the decoder's message, which names the
failure and never a header value. Python's ``multiprocessing`` cannot be used for the child: Dask's
worker processes are daemons, which may not have children of their own.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import select
import signal
import subprocess
import sys
import time
from typing import Any, Callable, TypeVar

T = TypeVar("T")

NEVER_SWALLOWED = (KeyboardInterrupt, SystemExit, GeneratorExit)  # the user's Ctrl-C still stops a run
DEFAULT_TIMEOUT_S = 120.0

# Transfer syntaxes whose decoders are C/C++ libraries (OpenJPEG, libjpeg, CharLS, GDCM) that can
# abort or hang on a malformed codestream. RLE (numpy or Rust: panics are caught by `guarded`),
# deflate and native pixel data are decoded in process.
ABORT_PRONE = frozenset({
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",  # JPEG
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81",  # JPEG-LS
    "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91",  # JPEG 2000
    "1.2.840.10008.1.2.4.92", "1.2.840.10008.1.2.4.93",
    "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203",  # HTJ2K
})


class NativeFailure(Exception):
    """A decoder failed, panicked, crashed or ran out of time; ``detail`` says how."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


def describe(exc: BaseException) -> str:
    """``Type: first line of the message`` (at most 200 characters)."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def guarded(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, where a ``BaseException`` that is no ``Exception`` (pyo3's
    ``PanicException``) becomes :class:`NativeFailure`. Ordinary exceptions reach the caller's own
    handlers unchanged; interrupts and exits pass."""
    try:
        return fn(*args, **kwargs)
    except (Exception, *NEVER_SWALLOWED):
        raise
    except BaseException as exc:  # noqa: BLE001 - the point of this function
        raise NativeFailure(describe(exc)) from None


def decode_pixels(path: str) -> None:
    """Decode every frame of one file (what a worker would do next), discarding the pixels."""
    import warnings

    import pydicom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path, force=True)
        if "PixelData" in ds:
            ds.pixel_array  # noqa: B018 - decoding is the test


def _resolve(target: str) -> Callable[[str], Any]:
    import importlib

    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _serve(target: str) -> None:
    """The child's loop: one JSON line in (a path), one JSON line out (ok or the failure)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # a decoder's own prints must not break the protocol
    fn = _resolve(target)
    for line in sys.stdin:
        try:
            fn(json.loads(line))
            reply = {"ok": True}
        except BaseException as exc:  # noqa: BLE001 - every failure is the answer, panics included
            reply = {"ok": False, "detail": describe(exc)}
        out.write(json.dumps(reply) + "\n")


class Sandbox:
    """One child process that runs ``target`` (``"module:function"``, called with a file path)
    on one file at a time, each within ``timeout`` seconds."""

    def __init__(self, target: str = "radcurate.isolation:decode_pixels", timeout: float = DEFAULT_TIMEOUT_S):
        self.target = target
        self.timeout = float(timeout)
        self._proc: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
               "RUST_BACKTRACE": "0", "PYTHONUNBUFFERED": "1"}
        code = f"from radcurate.isolation import _serve; _serve({self.target!r})"
        return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, env=env, text=True, bufsize=1)

    def check(self, path: str) -> str | None:
        """None when ``target(path)`` succeeded in the child; else what went wrong."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            proc = self._proc = self._start()
        try:
            proc.stdin.write(json.dumps(str(path)) + "\n")
            proc.stdin.flush()
        except OSError:
            return self._failed(proc, "the decoder process could not be reached")
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self._stop(proc)
                return f"decoding took longer than {self.timeout:g} s: stopped"
            ready, _, _ = select.select([proc.stdout], [], [], min(left, 1.0))
            if ready:
                break
        line = proc.stdout.readline()
        if not line:
            return self._failed(proc, "")
        reply = json.loads(line)
        return None if reply.get("ok") else str(reply.get("detail") or "decoder failed")

    def _failed(self, proc: subprocess.Popen, detail: str) -> str:
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._stop(proc)
            code = None
        self._proc = None
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"the decoder crashed ({name})"
        return detail or f"the decoder process ended (exit code {code})"

    def _stop(self, proc: subprocess.Popen) -> None:
        proc.kill()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if self._proc is proc:
            self._proc = None

    def close(self) -> None:
        if self._proc is not None:
            self._proc.stdin.close()
            self._stop(self._proc)


@functools.lru_cache(maxsize=8)
def sandbox(timeout: float = DEFAULT_TIMEOUT_S, target: str = "radcurate.isolation:decode_pixels") -> Sandbox:
    """The sandbox of this process for ``(timeout, target)``, started on first use, closed at exit."""
    box = Sandbox(target, timeout)
    atexit.register(box.close)
    return box


def check_decodes(path: str, transfer_syntax: str | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> str | None:
    """For an abort-prone transfer syntax (read from the file's meta when not given), decode
    ``path`` in this process's sandbox first: None when it decoded, else the failure. Other
    syntaxes (and ``timeout <= 0``): None, nothing run."""
    if timeout <= 0:
        return None
    if transfer_syntax is None:
        transfer_syntax = _meta_transfer_syntax(path)
    if str(transfer_syntax) not in ABORT_PRONE:
        return None
    return sandbox(float(timeout)).check(path)


def _meta_transfer_syntax(path: str) -> str:
    """The Transfer Syntax UID of a file's meta group ('' when it has none or cannot be read)."""
    from pydicom.filereader import read_file_meta_info

    try:
        return str(read_file_meta_info(path).get("TransferSyntaxUID", "") or "")
    except Exception:
        return ""
