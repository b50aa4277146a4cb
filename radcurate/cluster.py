"""The Dask client every command and the pipeline runner use.

A client of an existing scheduler (``tcp://HOST:PORT``), or of a local cluster of worker processes
(one per core by default, one thread each: the work is CPU-bound Python), or none at all
(``workers=0``) for in-process work. Shared here because stages' own commands and ``dags/`` both
need it and stages may not import ``dags``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
from typing import Any, Iterator


@contextlib.contextmanager
def open_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """Yield a ``distributed.Client`` (or None when ``workers == 0`` and no scheduler is given)."""
    if not scheduler and workers == 0:
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    with (
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def add_cluster_arguments(parser: argparse.ArgumentParser, *, default_workers: int | None = None) -> None:
    """``--scheduler ADDR`` and ``--workers N``, the same on every command that runs on Dask."""
    parser.add_argument("--scheduler", metavar="ADDR", help="existing Dask scheduler, tcp://HOST:PORT")
    default = "one per core" if default_workers is None else f"{default_workers}"
    parser.add_argument(
        "--workers",
        type=int,
        default=default_workers,
        metavar="N",
        help=f"local worker processes (default: {default}; 0: run in this process, no Dask)",
    )
