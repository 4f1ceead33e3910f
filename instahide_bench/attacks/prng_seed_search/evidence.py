"""What the fast check compares a seed with, and how often a wrong seed passes it.

This module exists to turn ``label.npy`` into the check's evidence (:class:`Evidence`: epoch
0's label rows as float32 acceptance boxes, and the flat arguments of the numba kernels) and to
estimate, analytically, the rate at which wrong seeds pass (:meth:`Evidence.false_positive_rate`).
It is pure numpy: the kernels live in :mod:`.cpu_check` and :mod:`.torch_check`.

Evidence and false positives
----------------------------
A two-valued label row pins ``(lam0, lam1)`` to a box of 3 x 3 float32 ulps (tolerance 1):
for ``lam`` around 0.1-0.5 the box covers 2**-52 to 2**-48 of the plane; times the joint
density of accepted ``(lam0, lam1)`` (closed form: ``p(lam) = 2**(k-1) Gamma(k/2) / pi**(k/2)
* (sum lam_i**2)**(-k/2)`` on the simplex, integrated over the unseen coordinates) and 2 for the
two orders, a wrong seed's accepted row matches with probability about 2**-44.5 (43-51 bits
over 12 random challenges). A one-valued row (both images of one class, ~10% of rows) pins
only the float32 sum: about 21.5 bits. A wrong seed's first accepted row is row 0 with
probability 0.56, row 1 with 0.25, ..., so with one compared row (``check_rows=1``) the rate
per seed is dominated by the one-valued rows among the first few: median 4.6e-9 (2**-27.7)
over those challenges, from 4e-14 to 2.5e-7 (when row 0 is one-valued), i.e. about 20
(0.0002 to 1000) false candidates over 2**32 seeds. The default ``check_rows=2`` compares a
second accepted row, which only lanes that passed the first ever reach (no cost): median
7.7e-20 (2**-63.5) per seed, worst seen 1.2e-14, i.e. below 1e-4 false candidates over 2**32.
:meth:`Evidence.false_positive_rate` evaluates this for a given ``label.npy``; measured pass
rates of wrong seeds agree with it (the tests; ``bench_seed_kernel.py --fp-seeds 100000000``,
``check_rows=1``, 10**8 wrong seeds each): 0 passes where 8e-6 were expected (typical labels,
1 ulp), 39 for 33.2 expected (rows 0-2 one-valued, 1 ulp), 54 for 59.5 expected (typical
labels, boxes widened to 4096 ulps). :func:`.reference.confirm_seed` then replays all epochs
with numpy itself, so no false positive survives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np

__all__ = ["Evidence", "KernelArgs"]

#: The evidence as the numba kernels take it (:meth:`Evidence.kernel_args`): counts, low, high,
#: k, n, upper, dom (``-inf`` for none), check_rows, and the float64 prefilter ranges dlow, dhigh.
KernelArgs: TypeAlias = tuple[np.ndarray, np.ndarray, np.ndarray, int, int, float, float, int, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Evidence:
    """What the fast check compares: epoch 0's label rows, as float32 acceptance intervals.

    ``low``/``high`` (rows x 2, float32) bound each nonzero label value widened by
    ``tolerance_ulps`` ulps; ``counts`` says whether a row has two values (different classes, in
    column order, compared in either order) or one (the float32 sum). ``check_rows`` accepted
    first-draw rows must match for a seed to pass.
    """

    n: int
    k: int
    upper: float
    dom: float | None
    values: np.ndarray
    counts: np.ndarray
    low: np.ndarray
    high: np.ndarray
    check_rows: int = 2
    tolerance_ulps: int = 1

    @classmethod
    def from_labels(
        cls,
        labels: np.ndarray,
        n: int,
        k: int,
        upper: float,
        dom: float | None,
        max_rows: int | None = None,
        check_rows: int = 2,
        tolerance_ulps: int = 1,
    ) -> Evidence:
        """Take the nonzero float32 entries of label rows ``0 .. max_rows-1`` (default: all of epoch 0)."""
        labels = np.asarray(labels)
        if labels.ndim != 2 or labels.shape[0] < 1:
            raise ValueError(f"labels must be a 2-D (rows, classes) array, got shape {labels.shape}")
        if check_rows < 1:
            raise ValueError("check_rows must be at least 1")
        if tolerance_ulps < 0:
            raise ValueError("tolerance_ulps must be non-negative")
        if k < 2:
            raise ValueError("the seed check needs k >= 2 (two private slots)")
        if max_rows is not None and max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        rows = min(n, labels.shape[0]) if max_rows is None else min(max_rows, n, labels.shape[0])
        values = np.zeros((rows, 2), dtype=np.float32)
        counts = np.zeros(rows, dtype=np.int64)
        for row in range(rows):
            nonzero = labels[row][labels[row] != 0].astype(np.float32)
            if nonzero.size not in (1, 2) or np.any(nonzero < 0) or not np.all(np.isfinite(nonzero)):
                raise ValueError(f"label row {row} is not a two-private-slot label: {nonzero}")
            counts[row] = nonzero.size
            values[row, : nonzero.size] = nonzero
        low, high = _ulp_interval(values, tolerance_ulps)
        low[counts == 1, 1] = high[counts == 1, 1] = 0.0
        return cls(
            n,
            k,
            float(upper),
            None if dom is None else float(dom),
            values,
            counts,
            low,
            high,
            int(check_rows),
            int(tolerance_ulps),
        )

    def row_matches(self, row: int, lam0: float, lam1: float) -> bool:
        """Whether an accepted row's float64 ``lam0, lam1`` fit label row ``row`` (the kernels' test)."""
        f0, f1 = np.float32(lam0), np.float32(lam1)
        low, high = self.low[row], self.high[row]
        if self.counts[row] == 2:
            return bool(
                (low[0] <= f0 <= high[0] and low[1] <= f1 <= high[1])
                or (low[1] <= f0 <= high[1] and low[0] <= f1 <= high[0])
            )
        sums = (np.float32(f0 + f1), np.float32(float(lam0) + float(lam1)))
        return any(low[0] <= value <= high[0] for value in sums)

    @property
    def rows(self) -> int:
        return int(self.counts.shape[0])

    def kernel_args(self) -> KernelArgs:
        """The evidence as the flat arguments of the numba kernels."""
        dom = -math.inf if self.dom is None else self.dom
        # Float64 ranges for the approximate prefilter: every double that could round into the
        # float32 box, widened by two float32 ulps (covers the float32 sum of rounded values).
        gap = np.nextafter(self.high, np.float32(np.inf)).astype(np.float64) - self.high.astype(np.float64)
        dlow = self.low.astype(np.float64) - 2 * gap
        dhigh = self.high.astype(np.float64) + 2 * gap
        return (
            self.counts,
            self.low,
            self.high,
            int(self.k),
            int(self.n),
            float(self.upper),
            float(dom),
            int(self.check_rows),
            dlow,
            dhigh,
        )

    def false_positive_rate(self, samples: int = 4096, rng_seed: int = 0) -> float:
        """Analytic estimate of the probability that a wrong seed passes the fast check.

        A wrong seed's stream is independent of the labels, so its first-draw rows are i.i.d.
        ``lam = |z| / sum|z|``, whose density on the simplex is closed-form:
        ``p(lam) = 2**(k-1) * Gamma(k/2) / pi**(k/2) * (sum lam_i**2)**(-k/2)``. The probability
        that an accepted row lands in a label row's float32 box is this density, integrated over
        the unseen coordinates by Monte Carlo (``samples`` points), times the box's area; a
        dynamic programme over rows then combines acceptance (skip) and match (count) events.
        """
        if self.k < 3:
            raise ValueError("the estimate needs k >= 3")
        rng = np.random.default_rng(rng_seed)
        accept = _acceptance_probability(self.k, self.upper, self.dom, rng)
        unseen = rng.dirichlet(np.ones(self.k - 2), size=samples)
        match = np.array([self._row_match_probability(row, unseen) for row in range(self.rows)])
        alive = np.zeros(self.check_rows + 1)
        alive[0] = 1.0
        for row in range(self.n):
            m = match[row] if row < self.rows else accept  # unchecked rows always "match"
            moved = alive[:-1] * m
            alive[:-1] *= 1.0 - accept
            alive[1:] += moved
        # Seeds still short of check_rows matches after the whole first draw also pass.
        return float(alive.sum())

    def _row_match_probability(self, row: int, unseen: np.ndarray) -> float:
        """P(a random first-draw row is accepted and matches label row ``row``)."""
        low = self.low[row].astype(np.float64)
        high = self.high[row].astype(np.float64)
        width = (high - low) + _half_ulps(self.low[row], self.high[row])
        centre = (low + high) / 2
        if self.counts[row] == 2:
            density = _accepted_pair_density(centre[0], centre[1], unseen, self.k, self.upper, self.dom)
            overlapping = low[0] <= high[1] and low[1] <= high[0]
            return float((1 if overlapping else 2) * density * width[0] * width[1])
        # One value: the sum lam0 + lam1; integrate the pair density along the line.
        nodes, weights = np.polynomial.legendre.leggauss(48)
        total = centre[0]
        first = (nodes + 1) / 2 * total
        density = (
            sum(
                w * _accepted_pair_density(x, total - x, unseen, self.k, self.upper, self.dom)
                for x, w in zip(first, weights)
            )
            * total
            / 2
        )
        return float(density * width[0])


def _ulp_interval(values: np.ndarray, tolerance_ulps: int) -> tuple[np.ndarray, np.ndarray]:
    """Float32 values ``tolerance_ulps`` steps below and above each (non-negative) value."""
    bits = values.astype(np.float32).view(np.int32).astype(np.int64)
    low = np.maximum(bits - tolerance_ulps, 0).astype(np.int32).view(np.float32)
    high = np.minimum(bits + tolerance_ulps, 0x7F7FFFFF).astype(np.int32).view(np.float32)
    return low, high


def _half_ulps(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Half a float32 ulp below ``low`` plus half above ``high``: the doubles that round into the box."""
    below = low.astype(np.float64) - np.nextafter(low, np.float32(-np.inf)).astype(np.float64)
    above = np.nextafter(high, np.float32(np.inf)).astype(np.float64) - high.astype(np.float64)
    return (below + above) / 2


def _acceptance_probability(k: int, upper: float, dom: float | None, rng: np.random.Generator) -> float:
    """Monte Carlo P(a first draw is accepted); +-0.001 is plenty for a rate estimate."""
    z = np.abs(rng.standard_normal((1_000_000, k)))
    lam = z / z.sum(axis=1, keepdims=True)
    rejected = lam.max(axis=1) > upper
    if dom is not None:
        rejected |= lam[:, 0] + lam[:, 1] < dom
    return float(1.0 - rejected.mean())


def _accepted_pair_density(
    lam0: float, lam1: float, unseen: np.ndarray, k: int, upper: float, dom: float | None
) -> float:
    """Joint density of (lam0, lam1) over accepted rows (not normalised by the acceptance rate)."""
    rest = 1.0 - lam0 - lam1
    if rest <= 0 or lam0 <= 0 or lam1 <= 0 or max(lam0, lam1) > upper:
        return 0.0
    if dom is not None and lam0 + lam1 < dom:
        return 0.0
    tail = rest * unseen
    ok = tail.max(axis=1) <= upper
    squares = lam0**2 + lam1**2 + (tail**2).sum(axis=1)
    constant = 2.0 ** (k - 1) * math.gamma(k / 2) / math.pi ** (k / 2)
    volume = rest ** (k - 3) / math.factorial(k - 3)
    return float(volume * constant * np.mean(np.where(ok, squares ** (-k / 2), 0.0)))
