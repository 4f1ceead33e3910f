"""Fast seed check for the ``prng-seed-search`` attack on the ``challenge-2020`` encoder.

Why a seed is checkable
-----------------------
In ``challenge-2020`` (SPEC §3.1) numpy's legacy ``RandomState(s)`` is used only for the mixing
coefficients, so the stream of seed ``s`` starts with epoch 0's first draw
``normal(size=(n, k))``: row ``r`` takes normals ``r*k .. r*k+k-1``. A row whose first draw is
accepted keeps it, and ``label.npy`` row ``r`` then holds ``float32(lam0)`` and ``float32(lam1)``
(in class-column order, or their float32 sum when both private images share a class). Rejected
rows are redrawn only after the whole first draw, so they carry no evidence; the first accepted
row ``r*`` (``r* = 0`` for ~56% of seeds at k=6, upper 0.65, dom 0.3) does.

How the check runs
------------------
Every seed is replayed as numpy does it: ``mt19937_seed`` (init_genrand), the first tempered
words, ``legacy_double`` (``((a>>5) * 2**26 + (b>>6)) / 2**53``), the polar method of
``legacy_gauss`` (retries while ``r2 >= 1`` or ``r2 == 0``; returns ``f*x2`` first, caches
``f*x1``), ``lam = |z| / sum(|z|)`` with numpy's summation order, and the rejection rule. Row
``r`` of the first draw is compared with label row ``r`` only if it is accepted; a seed passes
when its first ``check_rows`` accepted rows all match their label rows within
``tolerance_ulps`` float32 ulps (default 1, which absorbs a last-bit difference of libm's log).

The CPU kernel (:func:`search_block`) works on blocks of 256 seeds (lanes):

1. a vectorised phase, loops over lanes on uint32 arrays (32-bit IR through numba intrinsics,
   so LLVM emits ``vpmulld`` on 16 seeds per AVX-512 register): the init recurrence up to index
   ``397 + W - 1``, the twist and tempering of the first ``W`` words (word ``i < 227`` needs
   only the original ``key[i], key[i+1], key[i+397]``), the polar uniforms ``2u - 1`` (exact),
   for each polar attempt whether it is valid, and an approximate scale ``f`` (a polynomial
   log, relative error about 1e-12, where libm's log would be a scalar call);
2. a lockstep, branch-free walk over the live lanes with those approximate scales, which only
   decides what the approximation cannot get wrong (a margin of 1e-9 on every threshold and
   box): the seed is rejected at an accepted row that misses its label box;
3. the exact walk (libm log, numpy's divisions and sums, float32 boxes) for the rare lanes that
   might pass or sit near a threshold, so every compared value is numpy's, bit for bit.

A lane that needs more than ``W`` words (many rejected rows or polar retries) is never skipped:
it is re-run with a longer buffer (tiers of 64, 128 and 224 words), and past 224 words (about
1.5e-5 of wrong seeds) with the full generator. Python threads run spans of seeds on the
GIL-free kernel. :func:`search_block_torch` runs the same check on tensors (GPUs).

Throughput (``scripts/bench_seed_kernel.py``, on this project's 2-core AMD Zen 5 machine): one
core checks about 9-10 million seeds/s (about 100 ns/seed: ~48 vectorised phase with 64 words,
~36 walk, ~15 longer tiers and bookkeeping), so 2**32 seeds take about 4 minutes on 2 dedicated
cores (measured by CPU time; on the shared machine, with a load average of 4-6 from other
jobs, the wall clock gave 6-7 M/s, 10-12 minutes).

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
labels, boxes widened to 4096 ulps). :func:`confirm_seed` then replays all epochs with numpy
itself, so no false positive survives.
"""

from __future__ import annotations

import functools
import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from instahide_bench.core.instahide.coefficients import draw_coefficients, is_rejected, normalise

__all__ = [
    "DEFAULT_CHUNK",
    "DEFAULT_LANES",
    "DEFAULT_TIERS",
    "FULL_KEY_WORDS",
    "Evidence",
    "check_seeds_exact",
    "confirm_seed",
    "fast_check_reference",
    "first_accepted_row",
    "label_rows",
    "search_block",
    "search_block_torch",
    "synthetic_labels",
]

logger = logging.getLogger(__name__)

# MT19937 constants (Matsumoto & Nishimura; numpy's mt19937.c uses the same values).
_N = 624
_M = 397
_INIT_MULT = 1812433253
_MATRIX_A = 0x9908B0DF
_UPPER_MASK = 0x80000000
_LOWER_MASK = 0x7FFFFFFF
_TEMPER_B = 0x9D2C5680
_TEMPER_C = 0xEFC60000
_MASK32 = 0xFFFFFFFF  # uint32 values held in int64 tensors

#: Words of the stream computable from the initial key alone (word i needs key[i + 397]),
#: rounded down to whole polar attempts (4 words each).
FULL_KEY_WORDS = 224
#: Default buffer tiers (words per lane): ~4.6% of wrong seeds need more than 64 words (k=6),
#: ~0.2% more than 128, ~1.5e-5 more than 224 (those take the full generator).
DEFAULT_TIERS = (64, 128, FULL_KEY_WORDS)
#: Default lanes (seeds) per vectorised block on the CPU (best of 64-512 on Zen 5).
DEFAULT_LANES = 256
#: Default seeds per work item (one Python thread runs one span at a time, without the GIL).
DEFAULT_CHUNK = 1 << 16

# Lane verdicts.
_REJECT = 0  # an accepted row mismatches its label row
_PASS = 1  # the check passed (candidate seed)
_OVERFLOW = 2  # needs more stream than the buffer holds: run again with a longer one
_EXACT = 3  # the approximate walk cannot decide: replay exactly

# Every kernel: cached on disk; numpy's float semantics (no ZeroDivisionError branch, which
# would stop LLVM from vectorising); fastmath off, so float64 results are numpy's bit for bit.
_jit = functools.partial(njit, cache=True, error_model="numpy")


# --------------------------------------------------------------------------------------------
# Reference (slow, numpy's own RandomState)
# --------------------------------------------------------------------------------------------


def first_accepted_row(seed: int, n: int, k: int, upper: float, dom: float | None) -> tuple[int, np.ndarray]:
    """Index and float64 coefficients of epoch 0's first row whose first draw is accepted.

    Computed with numpy's ``RandomState`` itself, as the ground truth for the fast kernels.
    Returns ``(-1, empty)`` in the (astronomically unlikely) case that no first draw is accepted.
    """
    first = np.random.RandomState(seed).normal(0, 1, size=(n, k))
    for row in range(n):
        lam = normalise(first[row])
        if not is_rejected(lam, upper, dom):
            return row, lam
    return -1, np.empty(0, dtype=np.float64)


def label_rows(lam: np.ndarray, classes: np.ndarray, num_classes: int) -> np.ndarray:
    """``label.npy`` rows for coefficient rows ``lam`` and private classes ``classes`` (rows x 2).

    The challenge's formula, in float32: ``float32(lam0)*onehot(y) + float32(lam1)*onehot(y')``
    (one float32 sum when ``y == y'``). For tests and benchmarks that need a challenge's labels.
    """
    rows = np.arange(lam.shape[0])
    labels = np.zeros((lam.shape[0], num_classes), dtype=np.float32)
    labels[rows, classes[:, 0]] += lam[:, 0].astype(np.float32)
    labels[rows, classes[:, 1]] += lam[:, 1].astype(np.float32)
    return labels


def synthetic_labels(
    seed: int,
    n: int,
    k: int,
    upper: float,
    dom: float | None,
    num_classes: int = 10,
    epochs: int = 1,
    same_class_rows: tuple[int, ...] = (),
) -> np.ndarray:
    """``label.npy`` of a challenge-2020 run with ``seed``: its real coefficients, random classes.

    Only the coefficient stream matters to the seed check, so the images are left out. Rows
    listed in ``same_class_rows`` (epoch 0) get two images of one class: a one-valued label.
    """
    state = np.random.RandomState(seed)
    classes = np.random.default_rng(seed)
    rows = []
    for epoch in range(epochs):
        lam = draw_coefficients(lambda shape: state.normal(0, 1, size=shape), n, k, upper, dom)
        y = classes.integers(num_classes, size=(n, 2))
        if epoch == 0:
            shared = list(same_class_rows)
            y[shared, 1] = y[shared, 0]
        rows.append(label_rows(lam, y, num_classes))
    return np.concatenate(rows)


def fast_check_reference(seed: int, evidence: Evidence) -> bool:
    """The fast check's verdict for one seed, computed with numpy's ``RandomState`` (slow).

    Walks epoch 0's first draw: rejected rows are skipped, accepted rows are compared with their
    label rows (float32 boxes of ``evidence``) until ``check_rows`` matched (pass) or one
    mismatches (fail). The kernels must agree with this on every seed.
    """
    first = np.random.RandomState(seed).normal(0, 1, size=(evidence.n, evidence.k))
    matched = 0
    for row in range(evidence.n):
        lam = normalise(first[row])
        if is_rejected(lam, evidence.upper, evidence.dom):
            continue
        if row >= evidence.rows:
            return True
        if not evidence.row_matches(row, lam[0], lam[1]):
            return False
        matched += 1
        if matched >= evidence.check_rows:
            return True
    return True


def confirm_seed(
    seed: int,
    labels: np.ndarray,
    n: int,
    k: int,
    upper: float,
    dom: float | None,
    private_slots: int = 2,
) -> bool:
    """Replay every epoch's coefficients with numpy's real ``RandomState`` and check all label rows.

    Exact: a row matches only if its nonzero entries equal, as float32, the label formula
    ``float32(lam0)*onehot(y) + float32(lam1)*onehot(y')`` for some classes (or, for one
    nonzero entry, the float32 sum of the private coefficients). The coefficient stream is
    consumed by nothing else in ``challenge-2020``, so the replay needs no classes.
    """
    labels = np.asarray(labels)
    rows = labels.shape[0]
    if rows % n:
        raise ValueError(f"label rows ({rows}) are not a whole number of epochs of n={n}")
    if private_slots < 1:
        raise ValueError("private_slots must be at least 1")
    rng = np.random.RandomState(seed)

    def normal(shape: tuple[int, ...]) -> np.ndarray:
        return rng.normal(0, 1, size=shape)  # the encoder's draw call

    for epoch in range(rows // n):
        lam = draw_coefficients(normal, n, k, upper, dom)
        block = labels[epoch * n : (epoch + 1) * n]
        for row in range(n):
            if not _label_row_matches(block[row], lam[row, :private_slots]):
                return False
    return True


def _label_row_matches(label_row: np.ndarray, private_lam: np.ndarray) -> bool:
    """Whether one label row is consistent with the private slots' coefficients (float32, exact)."""
    observed = np.sort(label_row[label_row != 0].astype(np.float32))
    parts = private_lam.astype(np.float32)
    if observed.size == parts.size:
        return bool(np.array_equal(observed, np.sort(parts)))
    # Shared classes merge entries; for two slots the only merged form is the float32 sum.
    # Accept the sum computed in float32 (the label formula) or rounded from float64.
    if observed.size == 1 and parts.size == 2:
        summed32 = np.float32(parts[0] + parts[1])
        summed64 = np.float32(float(private_lam[0]) + float(private_lam[1]))
        return bool(observed[0] == summed32 or observed[0] == summed64)
    if observed.size < parts.size:
        return _merged_partition_matches(observed, parts)
    return False


def _merged_partition_matches(observed: np.ndarray, parts: np.ndarray) -> bool:
    """For more than two private slots: try every assignment of slots to observed entries."""
    slots = parts.size
    for assignment in np.ndindex(*([observed.size] * slots)):
        sums = np.zeros(observed.size, dtype=np.float32)
        for slot, target in enumerate(assignment):
            sums[target] = np.float32(sums[target] + parts[slot])
        if np.array_equal(sums, observed):
            return True
    return False


# --------------------------------------------------------------------------------------------
# Evidence
# --------------------------------------------------------------------------------------------


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

    def kernel_args(self) -> tuple:
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


# --------------------------------------------------------------------------------------------
# numba: MT19937 pieces
# --------------------------------------------------------------------------------------------


# numba types uint32 arithmetic as uint64, which makes LLVM vectorise the lane loops 8 wide with
# 64-bit multiplies. These intrinsics emit the 32-bit IR directly (16 lanes per AVX-512 op).
# (numba's intrinsic protocol passes a typing context first, unused here.)

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)


def _c32(value: int) -> ir.Constant:
    return ir.Constant(_I32, value)


def _temper_ir(builder: ir.IRBuilder, w: ir.Value) -> ir.Value:
    w = builder.xor(w, builder.lshr(w, _c32(11)))
    w = builder.xor(w, builder.and_(builder.shl(w, _c32(7)), _c32(_TEMPER_B)))
    w = builder.xor(w, builder.and_(builder.shl(w, _c32(15)), _c32(_TEMPER_C)))
    return builder.xor(w, builder.lshr(w, _c32(18)))


@intrinsic
def _next_key(typingctx, x, index):
    """init_genrand's recurrence: key[i] = 1812433253 * (key[i-1] ^ (key[i-1] >> 30)) + i (mod 2**32)."""

    def codegen(context, builder, signature, args):
        value, position = args
        mixed = builder.xor(value, builder.lshr(value, _c32(30)))
        return builder.add(builder.mul(mixed, _c32(_INIT_MULT)), position)

    return types.uint32(types.uint32, types.uint32), codegen


@intrinsic
def _twist_temper(typingctx, key_i, key_i1, key_i397):
    """Word i (< 227) of the first generation, from the ORIGINAL key[i], key[i+1], key[i+397]."""

    def codegen(context, builder, signature, args):
        k_i, k_i1, k_i397 = args
        y = builder.or_(builder.and_(k_i, _c32(_UPPER_MASK)), builder.and_(k_i1, _c32(_LOWER_MASK)))
        odd = builder.mul(builder.and_(y, _c32(1)), _c32(_MATRIX_A))
        w = builder.xor(builder.xor(k_i397, builder.lshr(y, _c32(1))), odd)
        return _temper_ir(builder, w)

    return types.uint32(types.uint32, types.uint32, types.uint32), codegen


@intrinsic
def _temper(typingctx, word):
    """MT19937's output tempering."""

    def codegen(context, builder, signature, args):
        return _temper_ir(builder, args[0])

    return types.uint32(types.uint32), codegen


@intrinsic
def _mantissa53(typingctx, a, b):
    """legacy_double's integer ``(a >> 5) * 2**26 + (b >> 6)`` (< 2**53, so exact in float64)."""

    def codegen(context, builder, signature, args):
        high = builder.zext(builder.lshr(args[0], _c32(5)), _I64)
        low = builder.zext(builder.lshr(args[1], _c32(6)), _I64)
        return builder.or_(builder.shl(high, ir.Constant(_I64, 26)), low)

    return types.int64(types.uint32, types.uint32), codegen


@_jit(inline="always")
def _uniform_pm1(a: np.uint32, b: np.uint32) -> float:
    """``2 * legacy_double - 1`` from two words; every step is exact in float64."""
    d = float(_mantissa53(a, b)) / 9007199254740992.0
    return 2.0 * d - 1.0


@_jit
def _mt_words(seed: int, count: int) -> np.ndarray:
    """The first ``count`` words of numpy's ``RandomState(seed)`` (slow path, any length)."""
    key = np.empty(_N, dtype=np.uint32)
    key[0] = np.uint32(seed)
    for i in range(1, _N):
        key[i] = _next_key(key[i - 1], np.uint32(i))
    out = np.empty(count, dtype=np.uint32)
    pos = _N
    for j in range(count):
        if pos == _N:
            for i in range(_N):
                y = np.uint32((key[i] & np.uint32(_UPPER_MASK)) | (key[(i + 1) % _N] & np.uint32(_LOWER_MASK)))
                key[i] = np.uint32(
                    key[(i + _M) % _N] ^ (y >> np.uint32(1)) ^ ((y & np.uint32(1)) * np.uint32(_MATRIX_A))
                )
            pos = 0
        out[j] = _temper(key[pos])
        pos += 1
    return out


@intrinsic
def _float_bits(typingctx, value):
    """The IEEE-754 bits of a float64, as int64."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], _I64)

    return types.int64(types.float64), codegen


@intrinsic
def _bits_float(typingctx, bits):
    """The float64 with the given IEEE-754 bits."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


_LN2 = math.log(2.0)
_SQRT2 = math.sqrt(2.0)
#: Margin of the approximate walk on every threshold and box: |approximate lam - numpy's lam|
#: stays below ~5e-12 (see _approx_polar_scale), so it never decides a borderline case.
_APPROX_MARGIN = 1e-9


@_jit(inline="always")
def _approx_polar_scale(r2: float) -> float:
    """``sqrt(-2 log(r2) / r2)`` for ``0 < r2 < 1`` to a relative error of about 1e-12, vectorisable.

    libm's ``log`` is a call that stops LLVM from vectorising; this one is a polynomial.
    ``r2 = m * 2**e`` with ``m`` in [sqrt(1/2), sqrt(2)); ``log m = 2 atanh(s)``, ``s = (m-1)/(m+1)``,
    ``|s| <= 0.1716``, series to ``s**13``: the tail is below ``z**7 / 14.5 <= 1.4e-12`` relative
    (``z = s**2``; measured max 6.5e-13). ``|log r2| >= 0.34`` whenever ``e < 0``, so adding
    ``e log 2`` loses no relative accuracy. One division gives both ``1/(m+1)`` and ``1/r2``.
    Garbage (possibly NaN) for invalid ``r2``, which callers never use.
    """
    bits = _float_bits(r2)
    exponent = (bits >> 52) - 1023
    m = _bits_float((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)
    big = m > _SQRT2
    m = m * 0.5 if big else m
    exponent = exponent + big
    inverse = 1.0 / (r2 * (m + 1.0))
    s = (m - 1.0) * r2 * inverse
    z = s * s
    series = 2.0 + z * (2.0 / 3 + z * (2.0 / 5 + z * (2.0 / 7 + z * (2.0 / 9 + z * (2.0 / 11 + z * (2.0 / 13))))))
    log_r2 = float(exponent) * _LN2 + s * series
    return math.sqrt(-2.0 * log_r2 * (m + 1.0) * inverse)


# Workspaces are tuples of preallocated arrays (numba caches tuples, not jitclasses).
# fill workspace: seeds, state, key_low (words+1 x lanes), last word, xs (2*attempts x lanes),
#                 next_valid (attempts+1 x lanes), scale (attempts x lanes).
# walk workspace: xs, next_valid, scale, magnitudes (k x lanes), cached normal, position,
#                 matched, order (live lanes), status.


@_jit(inline="always")
def _workspace(lanes: int, words: int, k: int) -> tuple:
    """Buffers for one block of ``lanes`` seeds with ``words`` fast words each."""
    attempts = words // 4
    xs = np.empty((2 * attempts, lanes), dtype=np.float64)
    next_valid = np.empty((attempts + 1, lanes), dtype=np.int32)
    scale = np.empty((attempts, lanes), dtype=np.float64)
    fill = (
        np.zeros(lanes, dtype=np.uint32),
        np.empty(lanes, dtype=np.uint32),
        np.empty((words + 1, lanes), dtype=np.uint32),
        np.empty(lanes, dtype=np.uint32),
        xs,
        next_valid,
        scale,
    )
    walk = (
        xs,
        next_valid,
        scale,
        np.empty((k, lanes), dtype=np.float64),
        np.empty(lanes, dtype=np.float64),
        np.empty(lanes, dtype=np.int64),
        np.empty(lanes, dtype=np.int64),
        np.empty(lanes, dtype=np.int64),
        np.empty(lanes, dtype=np.int64),
    )
    return fill, walk


@_jit
def _fill_uniforms(fill: tuple) -> None:
    """Vectorised phase for one block: the polar uniforms, valid attempts and approximate scales.

    Loops run over lanes innermost on uint32 arrays, so each recurrence step becomes a few
    AVX-512 instructions for 16 seeds. Only the original key is used, so at most 226 words.
    """
    seeds, state, key_low, last, xs, next_valid, scale = fill
    lanes = seeds.shape[0]
    words = 2 * xs.shape[0]
    for lane in range(lanes):
        state[lane] = seeds[lane]
        key_low[0, lane] = seeds[lane]
    for i in range(1, words + 1):
        index = np.uint32(i)
        for lane in range(lanes):
            x = _next_key(state[lane], index)
            state[lane] = x
            key_low[i, lane] = x
    for i in range(words + 1, _M):
        index = np.uint32(i)
        for lane in range(lanes):
            state[lane] = _next_key(state[lane], index)
    for i in range(0, words, 2):
        index = np.uint32(_M + i)
        for lane in range(lanes):
            x = _next_key(state[lane], index)
            state[lane] = x
            last[lane] = _twist_temper(key_low[i, lane], key_low[i + 1, lane], x)
        index = np.uint32(_M + i + 1)
        for lane in range(lanes):
            x = _next_key(state[lane], index)
            state[lane] = x
            w = _twist_temper(key_low[i + 1, lane], key_low[i + 2, lane], x)
            xs[i >> 1, lane] = _uniform_pm1(last[lane], w)
    _index_valid_attempts(xs, next_valid)
    # A loop of its own: merged with the one above, LLVM no longer vectorises it (4x slower).
    for t in range(scale.shape[0]):
        for lane in range(lanes):
            x1 = xs[2 * t, lane]
            x2 = xs[2 * t + 1, lane]
            scale[t, lane] = _approx_polar_scale(x1 * x1 + x2 * x2)


@_jit
def _index_valid_attempts(xs: np.ndarray, next_valid: np.ndarray) -> None:
    """``next_valid[t, lane]``: first polar attempt >= t with ``0 < r2 < 1`` (``attempts`` if none).

    Precomputing it (vectorised) makes the per-lane walk branch-free: no retry loop to mispredict.
    """
    attempts = next_valid.shape[0] - 1
    lanes = xs.shape[1]
    for lane in range(lanes):
        next_valid[attempts, lane] = attempts
    for t in range(attempts - 1, -1, -1):
        for lane in range(lanes):
            x1 = xs[2 * t, lane]
            x2 = xs[2 * t + 1, lane]
            next_valid[t, lane] = _next_valid_step(x1 * x1 + x2 * x2, t, next_valid[t + 1, lane])


@_jit(inline="always")
def _next_valid_step(r2: float, t: int, later: np.int32) -> np.int32:
    """``t`` if attempt ``t`` is valid (``0 < r2 < 1``, numpy's test), else the later index.

    An arithmetic select: the plain conditional kept LLVM from vectorising the loop.
    """
    valid = (r2 < 1.0) & (r2 != 0.0)
    return np.int32(later + valid * (t - later))


# --------------------------------------------------------------------------------------------
# numba: the float phase (exact replication of legacy_gauss and of the rejection rule)
# --------------------------------------------------------------------------------------------


@_jit(inline="always")
def _numpy_sum(a: np.ndarray, lane: int, k: int) -> float:
    """numpy's 1-D float64 sum of ``a[:, lane]``: sequential below 8 terms, else its pairwise order."""
    if k < 8:
        total = 0.0
        for i in range(k):
            total += a[i, lane]
        return total
    r0, r1, r2, r3 = a[0, lane], a[1, lane], a[2, lane], a[3, lane]
    r4, r5, r6, r7 = a[4, lane], a[5, lane], a[6, lane], a[7, lane]
    i = 8
    while i < k - (k % 8):
        r0 += a[i, lane]
        r1 += a[i + 1, lane]
        r2 += a[i + 2, lane]
        r3 += a[i + 3, lane]
        r4 += a[i + 4, lane]
        r5 += a[i + 5, lane]
        r6 += a[i + 6, lane]
        r7 += a[i + 7, lane]
        i += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < k:
        total += a[i, lane]
        i += 1
    return total


@_jit(inline="always")
def _in_box(value: np.float32, low: np.float32, high: np.float32) -> bool:
    return (low <= value) & (value <= high)


@_jit(inline="always")
def _in_range(value: float, low: float, high: float) -> bool:
    return (low - _APPROX_MARGIN <= value) & (value <= high + _APPROX_MARGIN)


@_jit(inline="always")
def _next_pair(
    xs: np.ndarray, next_valid: np.ndarray, scale: np.ndarray, position: np.ndarray, lane: int, approximate: bool
) -> tuple[float, float]:
    """The lane's next polar pair ``(f*x2, f*x1)``; garbage once the lane overflows the buffer."""
    attempts = next_valid.shape[0] - 1
    t = next_valid[min(position[lane], attempts), lane]
    safe = min(t, attempts - 1)
    x1 = xs[2 * safe, lane]
    x2 = xs[2 * safe + 1, lane]
    if approximate:
        f = scale[safe, lane]
    else:
        r2 = x1 * x1 + x2 * x2
        f = math.sqrt(-2.0 * math.log(r2) / r2)
    # Past the buffer, t is the sentinel ``attempts`` and the position ends above it.
    position[lane] = t + 1
    return f * x2, f * x1


@_jit(inline="always")
def _walk(walk: tuple, live: int, evidence: tuple, approximate: bool) -> None:
    """Float phase: replay epoch 0's first draw for lanes ``order[:live]`` in lockstep.

    All live lanes advance row by row (and normal by normal), each with its own position in its
    polar attempts; the per-lane work is branch-free, so the independent chains of many lanes
    overlap. Exact mode replays numpy (libm log, its divisions and summation order) and leaves
    ``status[lane]`` as ``_REJECT`` (an accepted row mismatches its label row), ``_PASS``
    (``check_rows`` accepted rows matched, or the evidence ran out) or ``_OVERFLOW`` (more
    attempts needed than the buffer holds). Approximate mode uses the vectorised scales and
    decides only what is certain despite their error: ``_REJECT``, ``_OVERFLOW`` or ``_EXACT``
    (possibly a match, or too close to a threshold: replay exactly).
    """
    xs, next_valid, scale, mags, cached, position, matched, order, status = walk
    counts, low, high, k, n, upper, dom, check_rows, dlow, dhigh = evidence
    margin = _APPROX_MARGIN if approximate else 0.0
    rows = counts.shape[0]
    attempts = next_valid.shape[0] - 1
    for i in range(live):
        lane = order[i]
        position[lane] = 0
        matched[lane] = 0
        status[lane] = _PASS
    for row in range(n):
        if live == 0:
            break
        j = 0
        if (row * k) & 1:
            # Odd k: the row starts with the second normal of the previous row's last pair,
            # which numpy's legacy_gauss kept in its cache.
            for i in range(live):
                lane = order[i]
                mags[0, lane] = abs(cached[lane])
            j = 1
        while j < k:
            within = j + 1 < k
            for i in range(live):
                lane = order[i]
                first, second = _next_pair(xs, next_valid, scale, position, lane, approximate)
                mags[j, lane] = abs(first)
                if within:
                    mags[j + 1, lane] = abs(second)
                else:
                    cached[lane] = second
            j += 2
        checked = row < rows
        last = min(row, rows - 1)
        two = checked and counts[last] == 2
        kept = 0
        for i in range(live):
            lane = order[i]
            total = _numpy_sum(mags, lane, k)
            largest = mags[0, lane]
            for j in range(1, k):
                largest = max(largest, mags[j, lane])
            if approximate:
                # One division instead of three: the reciprocal's rounding is far inside the margin.
                inverse = 1.0 / total
                lam0 = mags[0, lane] * inverse
                lam1 = mags[1, lane] * inverse
                top = largest * inverse
            else:
                lam0 = mags[0, lane] / total
                lam1 = mags[1, lane] / total
                # max(lam) == max(|z|) / total: rounded division by a positive number is monotone.
                top = largest / total
            pair = lam0 + lam1
            accepted = (top <= upper - margin) & (pair >= dom + margin)
            unsure = (not accepted) & (top <= upper + margin) & (pair >= dom - margin)
            if approximate:
                if two:
                    match = (
                        _in_range(lam0, dlow[last, 0], dhigh[last, 0]) & _in_range(lam1, dlow[last, 1], dhigh[last, 1])
                    ) | (
                        _in_range(lam0, dlow[last, 1], dhigh[last, 1]) & _in_range(lam1, dlow[last, 0], dhigh[last, 0])
                    )
                else:
                    match = _in_range(pair, dlow[last, 0], dhigh[last, 0])
            else:
                f0 = np.float32(lam0)
                f1 = np.float32(lam1)
                if two:
                    match = (_in_box(f0, low[last, 0], high[last, 0]) & _in_box(f1, low[last, 1], high[last, 1])) | (
                        _in_box(f0, low[last, 1], high[last, 1]) & _in_box(f1, low[last, 0], high[last, 0])
                    )
                else:
                    match = _in_box(np.float32(f0 + f1), low[last, 0], high[last, 0]) | _in_box(
                        np.float32(pair), low[last, 0], high[last, 0]
                    )
            match = match | (not checked)
            # Statuses and the compaction are arithmetic: data-dependent branches here would be
            # mispredicted about half the time.
            overflow = position[lane] > attempts
            fine = not overflow
            rejected = accepted & (not match) & fine
            if approximate:
                # Anything that might pass goes to the exact replay.
                exact = ((accepted & match) | unsure) & fine
                status[lane] = 2 * overflow + 3 * exact  # _OVERFLOW, _EXACT, else _REJECT
                done = overflow | rejected | exact
            else:
                hit = accepted & match & fine
                matched[lane] += hit
                finished = hit & (matched[lane] >= check_rows)
                status[lane] = 2 * overflow + (fine & (not rejected))  # _OVERFLOW, _PASS, _REJECT
                done = overflow | finished | rejected
            order[kept] = lane
            kept += not done
        live = kept
    if approximate:
        # Lanes that ran through the whole first draw undecided: let the exact replay judge.
        for i in range(live):
            status[order[i]] = _EXACT


@_jit
def _walk_approx(walk: tuple, live: int, evidence: tuple) -> None:
    """:func:`_walk` in approximate mode (its own compiled function: the mode folds away)."""
    _walk(walk, live, evidence, True)


@_jit
def _walk_exact(walk: tuple, live: int, evidence: tuple) -> None:
    """:func:`_walk` in exact mode."""
    _walk(walk, live, evidence, False)


@_jit(inline="always")
def _walk_block(walk: tuple, active: int, evidence: tuple) -> None:
    """Approximate walk for lanes ``0 .. active-1``, then an exact replay of the unsure ones."""
    order, status = walk[7], walk[8]
    for lane in range(active):
        order[lane] = lane
    _walk_approx(walk, active, evidence)
    unsure = 0
    for lane in range(active):
        if status[lane] == _EXACT:
            order[unsure] = lane
            unsure += 1
    if unsure:
        _walk_exact(walk, unsure, evidence)


@_jit
def _check_seed_exact(seed: int, evidence: tuple) -> bool:
    """Slow path: the exact walk on words from the full generator, as long as the lane needs."""
    count = 4 * FULL_KEY_WORDS
    k = evidence[3]
    while True:
        words = _mt_words(seed, count)
        _, walk = _workspace(1, count, k)
        xs, next_valid = walk[0], walk[1]
        for q in range(xs.shape[0]):
            xs[q, 0] = _uniform_pm1(words[2 * q], words[2 * q + 1])
        _index_valid_attempts(xs, next_valid)
        order = walk[7]
        order[0] = 0
        _walk_exact(walk, order.shape[0], evidence)  # a variable, not the literal 1: no respecialisation
        if walk[8][0] != _OVERFLOW:
            return walk[8][0] == _PASS
        count *= 2


@_jit
def check_seeds_exact(seeds: np.ndarray, evidence: tuple) -> np.ndarray:
    """The fast check through the exact slow path for a few seeds (``evidence.kernel_args()``).

    Used for the GPU path's rare leftovers; never vectorised, about 10 us per seed.
    """
    passed = np.zeros(seeds.shape[0], dtype=np.bool_)
    for i in range(seeds.shape[0]):
        passed[i] = _check_seed_exact(seeds[i], evidence)
    return passed


@_jit(inline="always")
def _record(seed: int, found: np.ndarray, found_count: np.ndarray) -> None:
    """Append a passing seed (counting past the capacity of ``found``)."""
    if found_count[0] < found.shape[0]:
        found[found_count[0]] = seed
    found_count[0] += 1


@_jit(inline="always")
def _run_batch(
    space: tuple,
    active: int,
    evidence: tuple,
    tier: int,
    waiting: np.ndarray,
    pending: np.ndarray,
    found: np.ndarray,
    found_count: np.ndarray,
) -> None:
    """Check the seeds already in ``space``'s seed array; queue overflowing lanes one tier deeper."""
    fill, walk = space
    seeds, status = fill[0], walk[8]
    _fill_uniforms(fill)
    _walk_block(walk, active, evidence)
    deeper = tier + 1
    for lane in range(active):
        verdict = status[lane]
        if verdict == _OVERFLOW:
            if deeper < pending.shape[0]:
                waiting[deeper, pending[deeper]] = seeds[lane]
                pending[deeper] += 1
                continue
            # Past the longest buffer: the full generator, never a skip.
            verdict = _PASS if _check_seed_exact(np.int64(seeds[lane]), evidence) else _REJECT
        if verdict == _PASS:
            _record(seeds[lane], found, found_count)


@_jit(nogil=True)
def _search_span(
    first: int, stop: int, lanes: int, tiers: np.ndarray, capacity: int, evidence: tuple
) -> tuple[np.ndarray, int]:
    """Seeds ``first .. stop-1``: up to ``capacity`` passing seeds and how many passed.

    Every block of ``lanes`` seeds runs with the first tier's buffer; lanes that overflow wait
    for a batch of the next tier (``tiers`` are increasing buffer lengths in words). Releases
    the GIL, so Python threads run spans in parallel.
    """
    k = evidence[3]
    levels = tiers.shape[0]
    spaces = [_workspace(lanes, tiers[tier], k) for tier in range(levels)]
    waiting = np.zeros((levels, 2 * lanes), dtype=np.uint32)
    pending = np.zeros(levels, dtype=np.int64)
    found = np.zeros(capacity, dtype=np.int64)
    found_count = np.zeros(1, dtype=np.int64)
    base = first
    while base < stop or pending.sum() > 0:
        if base < stop:
            active = min(lanes, stop - base)
            seeds = spaces[0][0][0]
            for lane in range(active):
                seeds[lane] = np.uint32(base + lane)
            base += active
            _run_batch(spaces[0], active, evidence, 0, waiting, pending, found, found_count)
        for tier in range(1, levels):
            # Full batches as they come; partial ones once the span's seeds are done.
            if pending[tier] >= lanes or (base >= stop and pending[tier] > 0):
                batch = min(pending[tier], lanes)
                seeds = spaces[tier][0][0]
                for lane in range(lanes):  # a slice assignment costs seconds of compile time
                    seeds[lane] = waiting[tier, lane]
                _run_batch(spaces[tier], batch, evidence, tier, waiting, pending, found, found_count)
                for lane in range(batch, pending[tier]):
                    waiting[tier, lane - batch] = waiting[tier, lane]
                pending[tier] -= batch
    return found, found_count[0]


def search_block(
    start: int,
    stop: int,
    evidence: Evidence,
    *,
    threads: int | None = None,
    lanes: int = DEFAULT_LANES,
    tiers: tuple[int, ...] = DEFAULT_TIERS,
    chunk: int = DEFAULT_CHUNK,
) -> np.ndarray:
    """Seeds in ``[start, stop)`` that pass the fast check (numba CPU kernel).

    The range is cut into spans of ``chunk`` seeds, run by ``threads`` Python threads (default:
    one per CPU) on the GIL-free numba kernel; numba's ``prange`` would do the same, but its
    parallel compilation re-optimises the whole kernel (measured: cold compile twice as long).
    Never drops the true seed: a lane that needs more stream than a tier's buffer (``tiers``,
    in 32-bit words, increasing, multiples of 4, at most 224) is re-run in the next tier, and
    past the last with the full generator. Returns sorted int64 seeds.
    """
    _check_range(start, stop)
    levels = np.asarray(tiers, dtype=np.int64)
    if (
        levels.ndim != 1
        or levels.size < 1
        or np.any(levels % 4)
        or np.any(np.diff(levels) <= 0)
        or levels[0] < 4
        or levels[-1] > FULL_KEY_WORDS
    ):
        raise ValueError(f"tiers must increase, be multiples of 4 in [4, {FULL_KEY_WORDS}], got {tiers}")
    if lanes < 1 or chunk < 1:
        raise ValueError("lanes and chunk must be positive")
    workers = (os.cpu_count() or 1) if threads is None else int(threads)
    if workers < 1:
        raise ValueError("threads must be positive")
    args = evidence.kernel_args()

    def span(first: int) -> np.ndarray:
        last = min(first + chunk, stop)
        found, count = _search_span(first, last, lanes, levels, 4, args)
        if count > found.shape[0]:
            # Rare (loose tolerances in tests): run the crowded span again with room for all.
            found, count = _search_span(first, last, lanes, levels, count, args)
        return found[:count]

    starts = range(start, stop, chunk)
    if workers == 1 or len(starts) == 1:
        parts = [span(first) for first in starts]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(span, starts))
    found = np.sort(np.concatenate(parts)).astype(np.int64) if parts else np.empty(0, dtype=np.int64)
    logger.debug("seeds [%d, %d): %d candidates (%d threads)", start, stop, found.size, workers)
    return found


def _check_range(start: int, stop: int) -> None:
    if not 0 <= start <= stop <= 2**32:
        raise ValueError(f"need 0 <= start <= stop <= 2**32, got [{start}, {stop})")


# --------------------------------------------------------------------------------------------
# torch: the same check on tensors, for GPUs
# --------------------------------------------------------------------------------------------


def search_block_torch(
    start: int,
    stop: int,
    evidence: Evidence,
    device: str | torch.device = "cpu",
    *,
    block_size: int = 1 << 22,
    tiers: tuple[int, ...] = (64, FULL_KEY_WORDS),
    compile: bool = False,
) -> np.ndarray:
    """Seeds in ``[start, stop)`` that pass the fast check, computed with torch on ``device``.

    uint32 arithmetic is emulated in int64 tensors (``1812433253 * x < 2**63`` for ``x < 2**32``,
    so no product overflows). Lanes are checked in lockstep with torch's own ``log`` under the
    same safety margins as the CPU prefilter; lanes that might pass (rare) are replayed exactly
    by the numba path on the CPU, as are lanes that overflow the last tier. Peak device memory
    is about ``block_size * (12 * tiers[0] + 64)`` bytes (~3.3 GiB for 2**22 lanes and 64
    words; later tiers see only the few percent of lanes that overflow). ``compile=True`` fuses
    each group of 4 integer steps into one kernel with ``torch.compile`` (three small graphs).
    """
    _check_range(start, stop)
    levels = tuple(int(w) for w in tiers)
    if not levels or any(w % 4 or not 4 <= w <= FULL_KEY_WORDS for w in levels) or list(levels) != sorted(set(levels)):
        raise ValueError(f"tiers must increase, be multiples of 4 in [4, {FULL_KEY_WORDS}], got {tiers}")
    if block_size < 1:
        raise ValueError("block_size must be positive")
    device = torch.device(device)
    args = evidence.kernel_args()
    passed: list[np.ndarray] = []
    for first in range(start, stop, block_size):
        seeds = torch.arange(first, min(first + block_size, stop), dtype=torch.int64, device=device)
        unsure: list[torch.Tensor] = []
        for words in levels:
            if seeds.numel() == 0:
                break
            maybe, seeds = _torch_tier(seeds, evidence, words, compile)
            unsure.append(maybe)
        # Lanes that might pass, and any past the last tier: the exact CPU replay decides.
        leftovers = torch.cat([*unsure, seeds]).cpu().numpy().astype(np.int64)
        if leftovers.size:
            passed.append(leftovers[check_seeds_exact(leftovers, args)])
    found = np.sort(np.concatenate(passed)).astype(np.int64) if passed else np.empty(0, dtype=np.int64)
    logger.debug("seeds [%d, %d) on %s: %d candidates", start, stop, device, found.size)
    return found


# The integer phase runs in groups of 4 steps (every step count here is a multiple of 4): small
# functions that torch.compile fuses into one kernel each, with the step index as a tensor so
# that one compiled graph serves every group.
_GROUP = 4


def _torch_advance(state: torch.Tensor, first_index: torch.Tensor) -> torch.Tensor:
    """4 steps of init_genrand's recurrence on uint32 values held in int64 (no overflow:
    ``1812433253 * x < 2**63``); returns the last key."""
    for j in range(_GROUP):
        state = ((state ^ (state >> 30)) * _INIT_MULT + (first_index + j)) & _MASK32
    return state


def _torch_keys(state: torch.Tensor, first_index: torch.Tensor) -> torch.Tensor:
    """The same 4 steps, returning all 4 keys, shape (4, lanes)."""
    keys = []
    for j in range(_GROUP):
        state = ((state ^ (state >> 30)) * _INIT_MULT + (first_index + j)) & _MASK32
        keys.append(state)
    return torch.stack(keys)


def _torch_pair_uniforms(key_i: torch.Tensor, key_i1: torch.Tensor, key_i397: torch.Tensor) -> torch.Tensor:
    """4 words (i .. i+3 < 227, from the original key) -> their 2 polar uniforms ``2u - 1``."""
    y = (key_i & _UPPER_MASK) | (key_i1 & _LOWER_MASK)
    w = key_i397 ^ (y >> 1) ^ ((y & 1) * _MATRIX_A)
    w = w ^ (w >> 11)
    w = w ^ ((w << 7) & _TEMPER_B)
    w = w ^ ((w << 15) & _TEMPER_C)
    w = w ^ (w >> 18)
    mantissa = (w[0::2] >> 5) * 67108864 + (w[1::2] >> 6)  # < 2**53: exact in float64
    return 2.0 * (mantissa.to(torch.float64) / 9007199254740992.0) - 1.0


_COMPILED: dict[str, object] = {}


def _integer_ops(compile: bool) -> tuple:
    """The three integer-phase functions, compiled once per process when asked."""
    functions = (_torch_advance, _torch_keys, _torch_pair_uniforms)
    if not compile:
        return functions
    if not _COMPILED:
        for function in functions:
            _COMPILED[function.__name__] = torch.compile(function, dynamic=True)
    return tuple(_COMPILED[function.__name__] for function in functions)


def _torch_uniforms(seeds: torch.Tensor, words: int, compile: bool = False) -> torch.Tensor:
    """The first ``words // 2`` polar uniforms ``2u - 1`` of each seed, shape (words // 2, lanes)."""
    advance, keys, pair_uniforms = _integer_ops(compile)
    lanes, device = seeds.numel(), seeds.device

    def index(i: int) -> torch.Tensor:
        return torch.tensor(i, dtype=torch.int64, device=device)

    # key[0 .. words], kept (as int64 uint32 values) for the twist of words 0 .. words-1.
    key_low = torch.empty((words + 1, lanes), dtype=torch.int64, device=device)
    key_low[0] = seeds
    for i in range(1, words + 1, _GROUP):
        key_low[i : i + _GROUP] = keys(key_low[i - 1], index(i))
    state = key_low[words]
    for i in range(words + 1, _M, _GROUP):
        state = advance(state, index(i))
    xs = torch.empty((words // 2, lanes), dtype=torch.float64, device=device)
    for i in range(0, words, _GROUP):
        high = keys(state, index(_M + i))
        state = high[-1]
        xs[i // 2 : i // 2 + 2] = pair_uniforms(key_low[i : i + _GROUP], key_low[i + 1 : i + 1 + _GROUP], high)
    return xs


def _torch_tier(
    seeds: torch.Tensor, evidence: Evidence, words: int, compile: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check ``seeds`` with a ``words`` buffer: returns (seeds that might pass, seeds that overflow)."""
    device = seeds.device
    lanes = seeds.numel()
    xs = _torch_uniforms(seeds, words, compile)
    attempts = words // 4
    x1_all, x2_all = xs[0::2], xs[1::2]
    r2 = x1_all * x1_all + x2_all * x2_all
    valid = (r2 < 1.0) & (r2 != 0.0)
    scale = torch.sqrt(-2.0 * torch.log(r2) / r2)
    del r2
    # next_valid[t] = first valid attempt >= t, with the sentinel ``attempts`` past the buffer.
    next_valid = torch.full((attempts + 1, lanes), attempts, dtype=torch.int32, device=device)
    for t in range(attempts - 1, -1, -1):
        next_valid[t] = torch.where(valid[t], t, next_valid[t + 1])
    del valid
    flat_x, flat_nv, flat_f = xs.reshape(-1), next_valid.reshape(-1), scale.reshape(-1)

    counts, _low, _high, k, n, upper, dom, _check_rows, dlow, dhigh = evidence.kernel_args()
    rows = counts.shape[0]
    lane = torch.arange(lanes, device=device)
    position = torch.zeros(lanes, dtype=torch.int64, device=device)
    cached = torch.zeros(lanes, dtype=torch.float64, device=device)
    maybe: list[torch.Tensor] = []
    overflowed: list[torch.Tensor] = []
    margin = _APPROX_MARGIN
    for row in range(n):
        if lane.numel() == 0:
            break
        mags = []
        for j in range(k):
            if (row * k + j) & 1:
                mags.append(cached.abs())
                continue
            t = flat_nv[position.clamp(max=attempts) * lanes + lane].to(torch.int64)
            safe = t.clamp(max=attempts - 1)
            x1 = flat_x[2 * safe * lanes + lane]
            x2 = flat_x[(2 * safe + 1) * lanes + lane]
            f = flat_f[safe * lanes + lane]
            mags.append((f * x2).abs())
            cached = f * x1
            position = t + 1
        magnitudes = torch.stack(mags, dim=1)
        total = _torch_numpy_sum(magnitudes)
        lam0 = magnitudes[:, 0] / total
        lam1 = magnitudes[:, 1] / total
        top = magnitudes.max(dim=1).values / total
        pair = lam0 + lam1
        accepted = (top <= upper - margin) & (pair >= dom + margin)
        unsure = ~accepted & (top <= upper + margin) & (pair >= dom - margin)
        if row >= rows:
            match = torch.ones_like(accepted)
        elif counts[row] == 2:
            lo0, hi0, lo1, hi1 = (
                dlow[row, 0] - margin,
                dhigh[row, 0] + margin,
                dlow[row, 1] - margin,
                dhigh[row, 1] + margin,
            )
            match = ((lam0 >= lo0) & (lam0 <= hi0) & (lam1 >= lo1) & (lam1 <= hi1)) | (
                (lam0 >= lo1) & (lam0 <= hi1) & (lam1 >= lo0) & (lam1 <= hi0)
            )
        else:
            match = (pair >= dlow[row, 0] - margin) & (pair <= dhigh[row, 0] + margin)
        overflow = position > attempts
        rejected = accepted & ~match & ~overflow
        exact = ((accepted & match) | unsure) & ~overflow
        maybe.append(seeds[lane[exact]])
        overflowed.append(seeds[lane[overflow]])
        keep = ~(overflow | rejected | exact)
        lane, position, cached = lane[keep], position[keep], cached[keep]
    maybe.append(seeds[lane])  # undecided after the whole first draw
    return torch.cat(maybe), torch.cat(overflowed) if overflowed else seeds[:0]


def _torch_numpy_sum(values: torch.Tensor) -> torch.Tensor:
    """Row sums of a (lanes, k) tensor in numpy's order (see :func:`_numpy_sum`)."""
    k = values.shape[1]
    if k < 8:
        total = torch.zeros_like(values[:, 0])
        for i in range(k):
            total = total + values[:, i]
        return total
    blocks = k - k % 8
    r = values[:, :8].clone()
    for i in range(8, blocks, 8):
        r = r + values[:, i : i + 8]
    total = ((r[:, 0] + r[:, 1]) + (r[:, 2] + r[:, 3])) + ((r[:, 4] + r[:, 5]) + (r[:, 6] + r[:, 7]))
    for i in range(blocks, k):
        total = total + values[:, i]
    return total
