"""The fast seed check on tensors (torch), for GPUs: :func:`search_block_torch`.

This module exists so that a GPU can run the check of :mod:`.cpu_check`, with the same
verdicts: the integer phase (seeding, twist, tempering, polar uniforms) in int64 tensors, then a
lockstep walk with torch's own ``log`` under the CPU prefilter's safety margins. Lanes that might
pass, and lanes that need more stream than the last tier holds, are decided by the exact numba
replay on the CPU (:func:`.cpu_check.check_seeds_exact`).
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from instahide_bench.attacks.prng_seed_search.cpu_check import _check_range, check_seeds_exact
from instahide_bench.attacks.prng_seed_search.evidence import Evidence
from instahide_bench.attacks.prng_seed_search.mt19937 import (
    _APPROX_MARGIN,
    _INIT_MULT,
    _LOWER_MASK,
    _M,
    _MATRIX_A,
    _TEMPER_B,
    _TEMPER_C,
    _UPPER_MASK,
    FULL_KEY_WORDS,
)

__all__ = ["search_block_torch"]

logger = logging.getLogger(__name__)

_MASK32 = 0xFFFFFFFF  # uint32 values held in int64 tensors


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
    for attempt in range(attempts - 1, -1, -1):
        next_valid[attempt] = torch.where(valid[attempt], attempt, next_valid[attempt + 1])
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
    """Row sums of a (lanes, k) tensor in numpy's order (see :func:`.cpu_check._numpy_sum`)."""
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
