"""Peak memory of this process (and its children), the same on every platform.

``getrusage`` reports ``ru_maxrss`` in kilobytes on Linux and in bytes on macOS; every figure
this project prints or records goes through :func:`peak_memory_bytes` so that the unit is
converted in one place.
"""

from __future__ import annotations

import resource
import sys


def _to_bytes(maxrss: int) -> int:
    return int(maxrss if sys.platform == "darwin" else maxrss * 1024)


def peak_memory_bytes(*, children: bool = False) -> int:
    """Peak resident memory of this process so far, in bytes.

    Parameters
    ----------
    children : bool
        Also consider the waited-for child processes and return the larger of the two peaks
        (a process that did its work in a subprocess reports that subprocess's peak).

    Returns
    -------
    int
        Bytes.
    """
    own = _to_bytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    if not children:
        return own
    return max(own, _to_bytes(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))


__all__ = ["peak_memory_bytes"]
