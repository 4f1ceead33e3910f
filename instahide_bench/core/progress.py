"""Progress bars for long steps.

Library code never prints; long loops report through tqdm on stderr, which turns itself
off when stderr is not a terminal (``disable=None``) or when INSTAHIDE_BENCH_PROGRESS=0.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress_enabled() -> bool | None:
    """None lets tqdm decide from the terminal; the environment can force it off or on."""
    value = os.environ.get("INSTAHIDE_BENCH_PROGRESS")
    if value is None:
        return None
    return value.strip().lower() not in {"0", "false", "no", "off"}


def progress(
    iterable: Iterable[T], *, desc: str, total: int | None = None, unit: str = "it"
) -> Generator[T, None, None]:
    """Wrap an iterable in a progress bar (or not, see :func:`progress_enabled`)."""
    enabled = progress_enabled()
    yield from tqdm(
        iterable,
        desc=desc,
        total=total,
        unit=unit,
        disable=None if enabled is None else not enabled,
        leave=False,
        dynamic_ncols=True,
    )


def progress_bar(*, desc: str, total: float | None = None, unit: str = "it", unit_scale: bool = False) -> tqdm:
    """A manually updated bar (``bar.update(n)``), e.g. for seeds searched per second."""
    enabled = progress_enabled()
    return tqdm(
        desc=desc,
        total=total,
        unit=unit,
        unit_scale=unit_scale,
        disable=None if enabled is None else not enabled,
        leave=False,
        dynamic_ncols=True,
    )
