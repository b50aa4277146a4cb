"""One ``radcurate`` logger for every stage, and the verbosity switch of the command line.

Modules log to ``logging.getLogger(__name__)`` (all under ``radcurate.``); :func:`configure_logging`
sends them to stderr as plain lines. Dask's own INFO chatter (scheduler and worker start/stop,
nanny messages) is kept at WARNING unless ``-vv``. Log lines name stages, counts and paths of
our outputs, never values from PHI-zone tables.
"""

from __future__ import annotations

import logging
import sys

LOGGER = "radcurate"
DASK_LOGGERS = ("distributed", "dask")


def configure_logging(verbosity: int = 0) -> logging.Logger:
    """``verbosity``: -1 warnings only (``-q``), 0 progress lines (default), 1 debug (``-v``),
    2 debug and Dask's own INFO messages (``-vv``). Idempotent."""
    logger = logging.getLogger(LOGGER)
    logger.setLevel(logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG)
    handler = next((h for h in logger.handlers if isinstance(h, _Stderr)), None)
    if handler is None:
        handler = _Stderr()
        logger.addHandler(handler)
        logger.propagate = False
    handler.setFormatter(logging.Formatter("%(message)s" if verbosity < 1 else "%(levelname)s %(name)s: %(message)s"))
    level = "info" if verbosity >= 2 else "warning"
    import dask

    # read by distributed when it is first imported (it would set its loggers to INFO) ...
    dask.config.set({"logging": {**dask.config.get("logging", default={}), **dict.fromkeys(DASK_LOGGERS, level)}})
    for name in DASK_LOGGERS:  # ... and applied now in case it already was
        logging.getLogger(name).setLevel(level.upper())
    return logger


class _Stderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (redirections made after setup are honoured)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass
