"""The fast seed check on this machine's cores (numba): :func:`search_block`.

This module exists to run the check of :mod:`.reference` over billions of seeds: it walks the
coefficient rows of every seed, vectorised over blocks of seeds, never drops a seed, and
releases the GIL so Python threads share the cores. It also holds the exact slow path
(:func:`check_seeds_exact`) that the torch path hands its rare leftovers to.

How the check runs
------------------
The CPU kernel (:func:`search_block`) works on blocks of 256 seeds (lanes):

1. a vectorised phase, loops over lanes on uint32 arrays (32-bit IR through numba intrinsics,
   so LLVM emits ``vpmulld`` on 16 seeds per AVX-512 register): the init recurrence up to index
   ``397 + W - 1``, the twist and tempering of the first ``W`` words (word ``i < 227`` needs
   only the original ``key[i], key[i+1], key[i+397]``), the polar uniforms ``2u - 1`` (exact),
   for each polar attempt whether it is valid, and an approximate scale ``f`` (a polynomial
   log, relative error about 1e-12, where libm's log would be a scalar call): :mod:`.mt19937`;
2. a lockstep, branch-free walk over the live lanes with those approximate scales, which only
   decides what the approximation cannot get wrong (a margin of 1e-9 on every threshold and
   box): the seed is rejected at an accepted row that misses its label box;
3. the exact walk (libm log, numpy's divisions and sums, float32 boxes) for the rare lanes that
   might pass or sit near a threshold, so every compared value is numpy's, bit for bit.

A lane that needs more than ``W`` words (many rejected rows or polar retries) is never skipped:
it is re-run with a longer buffer (tiers of 64, 128 and 224 words), and past 224 words (about
1.5e-5 of wrong seeds) with the full generator. Python threads run spans of seeds on the
GIL-free kernel. :func:`.torch_check.search_block_torch` runs the same check on tensors (GPUs).

Throughput
----------
``scripts/bench_seed_kernel.py``, on this project's 2-core AMD Zen 5 machine: one core checks
about 9-10 million seeds/s (about 100 ns/seed: ~48 vectorised phase with 64 words, ~36 walk,
~15 longer tiers and bookkeeping), so 2**32 seeds take about 4 minutes on 2 dedicated cores
(measured by CPU time; on the shared machine, with a load average of 4-6 from other jobs, the
wall clock gave 6-7 M/s, 10-12 minutes).
"""

from __future__ import annotations

import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from instahide_bench.attacks.prng_seed_search.evidence import Evidence, KernelArgs
from instahide_bench.attacks.prng_seed_search.mt19937 import (
    _APPROX_MARGIN,
    FULL_KEY_WORDS,
    _fill_uniforms,
    _index_valid_attempts,
    _jit,
    _mt_words,
    _uniform_pm1,
    _workspace,
)

__all__ = ["DEFAULT_CHUNK", "DEFAULT_LANES", "DEFAULT_TIERS", "check_seeds_exact", "search_block"]

logger = logging.getLogger(__name__)

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
def _in_box(value: np.float32, low: np.float32, high: np.float32) -> np.bool_:
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
def _walk(walk: tuple, live: int, evidence: KernelArgs, approximate: bool) -> None:
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
            match: bool | np.bool_  # a bare annotation: no bytecode, so numba compiles the same
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
def _walk_approx(walk: tuple, live: int, evidence: KernelArgs) -> None:
    """:func:`_walk` in approximate mode (its own compiled function: the mode folds away)."""
    _walk(walk, live, evidence, True)


@_jit
def _walk_exact(walk: tuple, live: int, evidence: KernelArgs) -> None:
    """:func:`_walk` in exact mode."""
    _walk(walk, live, evidence, False)


@_jit(inline="always")
def _walk_block(walk: tuple, active: int, evidence: KernelArgs) -> None:
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
def _check_seed_exact(seed: int | np.int64, evidence: KernelArgs) -> bool:
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
def check_seeds_exact(seeds: np.ndarray, evidence: KernelArgs) -> np.ndarray:
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
    evidence: KernelArgs,
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
    first: int, stop: int, lanes: int, tiers: np.ndarray, capacity: int, evidence: KernelArgs
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
