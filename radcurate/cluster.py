"""The Dask client every command and the pipeline runner use.

A client of an existing scheduler (``tcp://HOST:PORT``), or of a local cluster of worker processes
(one per core by default, one thread each: the work is CPU-bound Python), or none at all
(``workers=0``) for in-process work. Shared here because stages' own commands and ``dags/`` both
need it and stages may not import ``dags``.

Waits are bounded: a scheduler that has no worker (none joined, or all died) fails after
``worker_timeout`` seconds with a message instead of waiting forever. Local worker processes
ignore Ctrl-C (:mod:`radcurate.quiet_worker`), so an interrupt stops the run once, in this
process, and prints one line (the CLI's), not a traceback per worker.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import sys
import threading
import time
from typing import Any, Iterator

DEFAULT_WORKER_TIMEOUT = 60.0
_ADDRESS = re.compile(r"^(?:(tcp|tls|inproc|ucx|ws|wss)://)?\[?[A-Za-z0-9_.:-]*?\]?:\d{1,5}$")


class NoWorkersError(OSError):
    """The Dask cluster has no worker to run tasks on."""


def check_scheduler_address(address: str) -> str:
    """``tcp://HOST:PORT`` (or ``HOST:PORT``); anything else is a clear error, not a traceback."""
    if not _ADDRESS.match(address.strip()):
        raise ValueError(f"scheduler address {address!r} is not of the form tcp://HOST:PORT "
                         "(e.g. tcp://10.0.0.5:8786)")
    return address.strip()


@contextlib.contextmanager
def open_client(scheduler: str | None = None, workers: int | None = None,
                worker_timeout: float = DEFAULT_WORKER_TIMEOUT) -> Iterator[Any]:
    """Yield a ``distributed.Client`` (or None when ``workers == 0`` and no scheduler is given)."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
        raise ValueError(f"workers must be 0 (in this process) or a positive number, not {workers!r}")
    if worker_timeout is not None and worker_timeout <= 0:
        raise ValueError(f"worker timeout must be a positive number of seconds, not {worker_timeout!r}")
    if not scheduler and workers == 0:
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler:
        address = check_scheduler_address(scheduler)
        with Client(address, timeout=f"{max(1, int(worker_timeout))}s") as client:
            try:
                client.wait_for_workers(1, timeout=worker_timeout)
            except TimeoutError:
                raise NoWorkersError(f"the Dask cluster at {address} has no worker after {worker_timeout:g} s; "
                                     "start workers (dask worker ADDRESS) or raise --worker-timeout") from None
            with _watch_workers(client, address, worker_timeout) as watch:
                try:
                    yield client
                except Exception:
                    if watch.fired:
                        raise NoWorkersError(watch.message) from None
                    raise
        return
    n = workers or os.cpu_count() or 1
    with (
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.CRITICAL,
            preload=["radcurate.quiet_worker"],  # workers ignore Ctrl-C: this process handles it
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


class _Watch:
    fired = False
    message = ""


@contextlib.contextmanager
def _watch_workers(client: Any, address: str, timeout: float) -> Iterator[_Watch]:
    """Close ``client`` when its cluster has had no worker for ``timeout`` seconds, so pending
    results fail (and are reported) instead of being waited for forever."""
    watch = _Watch()
    stop = threading.Event()

    def run() -> None:
        since = None
        while not stop.wait(1.0):
            try:
                n = len(client.nthreads())  # asks the scheduler (scheduler_info() may be cached)
            except Exception:
                n = 0
            if n:
                since = None
                continue
            since = since or time.monotonic()
            if time.monotonic() - since >= timeout:
                watch.fired = True
                watch.message = (f"all workers of the Dask cluster at {address} are gone (none for "
                                 f"{timeout:g} s); restart them and rerun to resume")
                with contextlib.suppress(Exception):
                    client.close()
                return

    thread = threading.Thread(target=run, name="radcurate-worker-watch", daemon=True)
    thread.start()
    try:
        yield watch
    finally:
        stop.set()


def _workers_arg(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (run in this process) or more, not {n}")
    return n


def _seconds_arg(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not x > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text}")
    return x


def _address_arg(text: str) -> str:
    try:
        return check_scheduler_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_cluster_arguments(parser: argparse.ArgumentParser, *, default_workers: int | None = None) -> None:
    """``--scheduler ADDR``, ``--workers N``, ``--worker-timeout S`` and ``--no-progress``, the same
    on every command that runs on Dask (validated here: a bad value is a usage error, exit 2)."""
    parser.add_argument("--scheduler", metavar="ADDR", type=_address_arg,
                        help="existing Dask scheduler, tcp://HOST:PORT")
    default = "one per core" if default_workers is None else f"{default_workers}"
    parser.add_argument(
        "--workers",
        type=_workers_arg,
        default=default_workers,
        metavar="N",
        help=f"local worker processes (default: {default}; 0: run in this process, no Dask)",
    )
    parser.add_argument(
        "--worker-timeout", type=_seconds_arg, default=DEFAULT_WORKER_TIMEOUT, metavar="S",
        help=f"fail when the cluster has no worker for S seconds (default: {DEFAULT_WORKER_TIMEOUT:g})",
    )
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bars (they are shown only on a terminal anyway)")


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars: unless ``--no-progress``, and only when stderr is a terminal."""
    return bool(getattr(args, "progress", True)) and sys.stderr.isatty()


def worker_count(client: Any) -> int:
    """Task slots to plan for: the cluster's worker threads, 1 without a client (or when unknown)."""
    if client is None:
        return 1
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:
        return 1


def run_tasks(fn: Any, *iterables: Any, client: Any = None, name: str = "task", progress: bool = False,
              **kwargs: Any) -> list[Any]:
    """``[fn(*args, **kwargs) for args in zip(*iterables)]``, in order: serially in this process
    without a client, else as Dask tasks on its workers (which must see the same paths). ``fn``
    must be a top-level function. Keys are unique per call: a key reused while an earlier run's
    result is still held would hand back that stale result."""
    import uuid

    calls = list(zip(*iterables))
    if client is None:
        if progress:
            from tqdm.auto import tqdm

            calls = tqdm(calls, desc=name, unit=name.rsplit(" ", 1)[-1])
        return [fn(*args, **kwargs) for args in calls]
    if not calls:
        return []
    run = uuid.uuid4().hex[:8]
    keys = [f"{fn.__name__}-{run}-{i}" for i in range(len(calls))]
    futures = client.map(fn, *(list(c) for c in zip(*calls)), key=keys, pure=False, **kwargs)
    if progress:
        from distributed import progress as show

        show(futures)
    return client.gather(futures)
