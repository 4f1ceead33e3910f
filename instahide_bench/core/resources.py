"""Peak memory of this process (and its children), the same on every platform.

``getrusage`` reports ``ru_maxrss`` in kilobytes on Linux and in bytes on macOS; every figure
this project prints or records goes through :func:`peak_memory_bytes` so that the unit is
converted in one place.
"""

from __future__ import annotations

import os
import resource
import sys

from instahide_bench.core.errors import ConfigError


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


def physical_memory_bytes() -> int | None:
    """This machine's physical memory in bytes (None where the OS does not say)."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return int(pages * size) if pages > 0 and size > 0 else None


def check_fits_in_memory(what: str, nbytes: float) -> None:
    """Refuse, before any work, a setting whose arrays alone would take more than the machine's memory.

    ``what`` names the setting (``"T=1000000000 with n=100"``): the error says what it would take.
    Settings then fail in a second with the reason, not after minutes with a MemoryError.
    """
    total = physical_memory_bytes()
    if total is not None and nbytes > total:
        raise ConfigError(
            f"{what} needs about {nbytes / 2**30:,.1f} GiB for its arrays alone; "
            f"this machine has {total / 2**30:,.1f} GiB"
        )


__all__ = ["check_fits_in_memory", "peak_memory_bytes", "physical_memory_bytes"]
