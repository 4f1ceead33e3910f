"""numpy's MT19937 stream for blocks of seeds, in numba: the integer phase of the fast check.

This module exists to compute the stream in one place, exactly as numpy's legacy
``RandomState(seed)`` does (init_genrand, the twist, the tempering, ``legacy_double``, the polar
method's uniforms), for a block of seeds at a time with every step vectorised over the seeds
(phase 1 of the check in :mod:`.cpu_check`). numba types uint32 arithmetic as uint64; the
intrinsics here emit 32-bit IR, so LLVM multiplies 16 seeds per AVX-512 instruction
(``vpmulld``, which ``scripts/bench_seed_kernel.py`` counts). :func:`_fill_uniforms` fills a
block's buffers, with :func:`_approx_polar_scale` as a vectorisable log; :func:`_mt_words` is
the scalar full generator for the rare seeds that need more than ``FULL_KEY_WORDS`` words.

It is the lowest module of the fast check, so it also holds :func:`_jit` (the numba decorator
of every kernel in the package) and the workspaces that :mod:`.cpu_check` walks. numba stamps a
cached function with its own source file only: after editing this module, delete the numba
cache files (``__pycache__/*.nbi``, ``*.nbc``) of the modules that call into it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

if TYPE_CHECKING:
    from numba.core.dispatcher import Dispatcher

__all__ = ["FULL_KEY_WORDS"]

# MT19937 constants (Matsumoto & Nishimura; numpy's mt19937.c uses the same values).
_N = 624
_M = 397
_INIT_MULT = 1812433253
_MATRIX_A = 0x9908B0DF
_UPPER_MASK = 0x80000000
_LOWER_MASK = 0x7FFFFFFF
_TEMPER_B = 0x9D2C5680
_TEMPER_C = 0xEFC60000

#: Words of the stream computable from the initial key alone (word i needs key[i + 397]),
#: rounded down to whole polar attempts (4 words each).
FULL_KEY_WORDS = 224

_F = TypeVar("_F", bound=Callable[..., Any])


@overload
def _jit(function: _F, /) -> Dispatcher[_F]: ...
@overload
def _jit(*, nogil: bool = ..., inline: Literal["always"] = ...) -> Callable[[_F], Dispatcher[_F]]: ...
def _jit(function: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """numba's ``njit`` with the settings of every kernel here, as ``@_jit`` or ``@_jit(**options)``.

    Cached on disk; numpy's float semantics (no ZeroDivisionError branch, which would stop LLVM
    from vectorising); fastmath off, so float64 results are numpy's bit for bit.
    """
    decorate = njit(cache=True, error_model="numpy", **options)
    return decorate if function is None else decorate(function)


# numba types uint32 arithmetic as uint64, which makes LLVM vectorise the lane loops 8 wide with
# 64-bit multiplies. These intrinsics emit the 32-bit IR directly (16 lanes per AVX-512 op).
# (numba's intrinsic protocol passes a typing context first, unused here.)
# Typing: an intrinsic is defined as (typing context, argument types) -> (signature, codegen) but
# called from jit code with the arguments alone, returning a value; no static type links the two.
# So each one is declared with the type jit code sees, just above its definition, which then
# carries a narrow ``type: ignore[no-redef]``.

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)


def _c32(value: int) -> ir.Constant:
    return ir.Constant(_I32, value)


def _temper_ir(builder: ir.IRBuilder, w: ir.Value) -> ir.Value:
    w = builder.xor(w, builder.lshr(w, _c32(11)))
    w = builder.xor(w, builder.and_(builder.shl(w, _c32(7)), _c32(_TEMPER_B)))
    w = builder.xor(w, builder.and_(builder.shl(w, _c32(15)), _c32(_TEMPER_C)))
    return builder.xor(w, builder.lshr(w, _c32(18)))


_next_key: Callable[[np.uint32, np.uint32], np.uint32]  # as jit code calls it


@intrinsic  # type: ignore[no-redef]  # the definition takes numba's typing context first
def _next_key(typingctx, x, index):
    """init_genrand's recurrence: key[i] = 1812433253 * (key[i-1] ^ (key[i-1] >> 30)) + i (mod 2**32)."""

    def codegen(context, builder, signature, args):
        value, position = args
        mixed = builder.xor(value, builder.lshr(value, _c32(30)))
        return builder.add(builder.mul(mixed, _c32(_INIT_MULT)), position)

    return types.uint32(types.uint32, types.uint32), codegen


_twist_temper: Callable[[np.uint32, np.uint32, np.uint32], np.uint32]  # as jit code calls it


@intrinsic  # type: ignore[no-redef]  # the definition takes numba's typing context first
def _twist_temper(typingctx, key_i, key_i1, key_i397):
    """Word i (< 227) of the first generation, from the ORIGINAL key[i], key[i+1], key[i+397]."""

    def codegen(context, builder, signature, args):
        k_i, k_i1, k_i397 = args
        y = builder.or_(builder.and_(k_i, _c32(_UPPER_MASK)), builder.and_(k_i1, _c32(_LOWER_MASK)))
        odd = builder.mul(builder.and_(y, _c32(1)), _c32(_MATRIX_A))
        w = builder.xor(builder.xor(k_i397, builder.lshr(y, _c32(1))), odd)
        return _temper_ir(builder, w)

    return types.uint32(types.uint32, types.uint32, types.uint32), codegen


_temper: Callable[[np.uint32], np.uint32]  # as jit code calls it


@intrinsic  # type: ignore[no-redef]  # the definition takes numba's typing context first
def _temper(typingctx, word):
    """MT19937's output tempering."""

    def codegen(context, builder, signature, args):
        return _temper_ir(builder, args[0])

    return types.uint32(types.uint32), codegen


_mantissa53: Callable[[np.uint32, np.uint32], np.int64]  # as jit code calls it


@intrinsic  # type: ignore[no-redef]  # the definition takes numba's typing context first
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
def _mt_words(seed: int | np.int64, count: int) -> np.ndarray:
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


_float_bits: Callable[[float], np.int64]  # as jit code calls it


@intrinsic  # type: ignore[no-redef]  # the definition takes numba's typing context first
def _float_bits(typingctx, value):
    """The IEEE-754 bits of a float64, as int64."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], _I64)

    return types.int64(types.float64), codegen


_bits_float: Callable[[np.int64], float]  # as jit code calls it


@intrinsic  # type: ignore[no-redef]  # the definition takes numba's typing context first
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
