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

import functools
from collections.abc import Callable

import numpy as np

from instahide_bench.core.errors import ConfigError

NormalDraw = Callable[[tuple[int, ...]], np.ndarray]

#: Settings under which fewer rows than this are accepted are refused up front: each row would
#: take over 10,000 redraws on average (a 5000-row challenge, minutes to hours).
MIN_ACCEPTANCE = 1e-4
#: Rows probed (a private generator, never the encoder's stream) to estimate the acceptance.
ACCEPTANCE_PROBES = 20_000
#: A row redrawn this many times stops the encoding: a backstop behind the up-front check.
MAX_REDRAWS = 1_000_000


def normalise(z: np.ndarray) -> np.ndarray:
    """|z| / sum(|z|) for one row, in numpy's float64 arithmetic."""
    magnitude = np.abs(z)
    weights: np.ndarray = magnitude / np.sum(magnitude)
    return weights


def is_rejected(lam: np.ndarray, upper: float, dom: float | None) -> bool:
    """The authors' rejection rule: a dominant coefficient, or (cross) too little private weight."""
    return bool(lam.max() > upper or (dom is not None and lam[0] + lam[1] < dom))


@functools.lru_cache(maxsize=64)
def acceptance_rate(k: int, upper: float, dom: float | None, probes: int = ACCEPTANCE_PROBES) -> float:
    """The fraction of first draws the rejection rule keeps, estimated on ``probes`` rows of a fixed generator."""
    z = np.abs(np.random.default_rng(0).standard_normal((probes, k)))
    lam = z / z.sum(axis=1, keepdims=True)
    kept = lam.max(axis=1) <= upper
    if dom is not None:
        kept &= lam[:, 0] + lam[:, 1] >= dom
    return float(kept.mean())


def check_coefficient_acceptance(k: int, upper: float, dom: float | None) -> None:
    """Refuse (upper, dom, k) under which almost no coefficient row is ever accepted, with the rate measured."""
    if k * ACCEPTANCE_PROBES > 50_000_000:
        raise ConfigError(f"k={k} images per encryption is beyond any published setting (at most 2,500 here)")
    rate = acceptance_rate(k, upper, dom)
    if rate < MIN_ACCEPTANCE:
        rule = f"max <= upper={upper:.4g}" + (f" and lam[0] + lam[1] >= dom={dom:.4g}" if dom is not None else "")
        raise ConfigError(
            f"with k={k}, {rate:.2%} of coefficient rows satisfy {rule} ({ACCEPTANCE_PROBES:,} rows probed): "
            "rejection sampling would not finish; raise upper, lower dom or k"
        )


def draw_coefficients(normal: NormalDraw, n: int, k: int, upper: float, dom: float | None) -> np.ndarray:
    """``n`` x ``k`` float64 coefficient rows, each summing to one, drawn in the authors' order.

    The first draws are normalised and checked all at once (a row-wise reduction over the last
    axis adds each row in the same order as the 1-D sum: ``tests`` compare them bit for bit);
    only the rejected rows are redrawn, one by one in row order, as the authors' loop does.
    """
    if k * upper < 1.0:
        raise ValueError(f"upper={upper} is unsatisfiable with k={k}: k*upper must be at least 1")
    first = np.asarray(normal((n, k)), dtype=np.float64).reshape(n, k)
    magnitude = np.abs(first)
    lam: np.ndarray = magnitude / np.sum(magnitude, axis=1, keepdims=True)
    rejected = lam.max(axis=1) > upper
    if dom is not None:
        rejected |= lam[:, 0] + lam[:, 1] < dom
    for row in np.flatnonzero(rejected):
        current = normalise(np.asarray(normal((1, k)), dtype=np.float64).reshape(k))
        redraws = 1
        while is_rejected(current, upper, dom):
            if redraws >= MAX_REDRAWS:
                raise ConfigError(f"a coefficient row was rejected {redraws:,} times (k={k}, upper={upper}, dom={dom})")
            current = normalise(np.asarray(normal((1, k)), dtype=np.float64).reshape(k))
            redraws += 1
        lam[row] = current
    return lam
