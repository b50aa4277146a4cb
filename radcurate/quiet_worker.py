"""A Dask worker preload: local worker processes ignore Ctrl-C.

Ctrl-C in a terminal reaches every process of the foreground group. The radcurate process stops
the run and closes its local cluster; without this, each worker process would also print its
own KeyboardInterrupt traceback. Loaded with ``LocalCluster(preload=[__name__])``.
"""

from __future__ import annotations

import signal


def dask_setup(worker=None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
