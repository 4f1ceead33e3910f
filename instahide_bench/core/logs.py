"""Scoped changes to other libraries' log levels.

Library code must not change process-wide state for good; where a dependency (Dask, numba)
logs too much for the length of one call, the level is raised for that call and put back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

_PACKAGE_LOGGER = logging.getLogger("instahide_bench")


@contextmanager
def quiet_logger(name: str, level: int) -> Iterator[None]:
    """Raise logger ``name`` to at least ``level`` inside the block, then restore it.

    Nothing changes when this package logs at debug level: whoever asked for debug output
    wants the dependency's chatter too.

    Parameters
    ----------
    name : str
        The chatty library's logger (``"distributed"``).
    level : int
        The least severe level to let through inside the block.
    """
    chatty = logging.getLogger(name)
    previous = chatty.level
    if _PACKAGE_LOGGER.isEnabledFor(logging.DEBUG):
        yield
        return
    chatty.setLevel(max(level, previous))
    try:
        yield
    finally:
        chatty.setLevel(previous)


__all__ = ["quiet_logger"]
