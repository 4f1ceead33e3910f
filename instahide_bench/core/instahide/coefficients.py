"""InstaHide's mixing coefficients, drawn exactly as the authors' code draws them.

The draw order matters: the PRNG seed-search attack replays it. For a batch of ``n`` rows:

1. one call ``normal(size=(n, k))`` gives every row's first draw (row-major, so row 0 takes
   the stream's first ``k`` normals);
2. then, row by row, ``lam = |z| / sum(|z|)``; while the row is rejected (``max(lam) > upper``
   or, cross-dataset, ``lam[0] + lam[1] < dom``) it is redrawn with ``normal(size=(1, k))``.

The per-row ``sum`` is numpy's own 1-D reduction, whose summation order (sequential for
fewer than 8 terms) the seed-search kernel reproduces.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

NormalDraw = Callable[[tuple[int, ...]], np.ndarray]


def normalise(z: np.ndarray) -> np.ndarray:
    """|z| / sum(|z|) for one row, in numpy's float64 arithmetic."""
    magnitude = np.abs(z)
    weights: np.ndarray = magnitude / np.sum(magnitude)
    return weights


def is_rejected(lam: np.ndarray, upper: float, dom: float | None) -> bool:
    """The authors' rejection rule: a dominant coefficient, or (cross) too little private weight."""
    return bool(lam.max() > upper or (dom is not None and lam[0] + lam[1] < dom))


def draw_coefficients(normal: NormalDraw, n: int, k: int, upper: float, dom: float | None) -> np.ndarray:
    """``n`` x ``k`` float64 coefficient rows, each summing to one, drawn in the authors' order."""
    if k * upper < 1.0:
        raise ValueError(f"upper={upper} is unsatisfiable with k={k}: k*upper must be at least 1")
    first = np.asarray(normal((n, k)), dtype=np.float64).reshape(n, k)
    lam = np.empty((n, k), dtype=np.float64)
    for row in range(n):
        current = normalise(first[row])
        while is_rejected(current, upper, dom):
            current = normalise(np.asarray(normal((1, k)), dtype=np.float64).reshape(k))
        lam[row] = current
    return lam
