"""numpy's MT19937 stream in numba: raw words, the vectorised uniforms, and the approximate scale."""

from __future__ import annotations

import numpy as np

from instahide_bench.attacks.prng_seed_search.mt19937 import (
    _approx_polar_scale,
    _fill_uniforms,
    _mt_words,
    _workspace,
)
from tests.attacks.prng_seed_search.fast_check_cases import K


def numpy_words(seed: int, count: int) -> np.ndarray:
    return np.random.RandomState(seed)._bit_generator.random_raw(count)


def test_full_generator_matches_numpy() -> None:
    # 1500 words: past the first twist of the 624-word state.
    for seed in (0, 1, 5489, 2**32 - 1):
        assert np.array_equal(_mt_words(seed, 1500), numpy_words(seed, 1500))


def test_vectorised_phase_matches_numpy() -> None:
    seeds = np.array([0, 1, 12345, 2**31, 2**32 - 1, *range(7000, 7059)], dtype=np.uint32)
    words = 64
    fill, _ = _workspace(seeds.size, words, K)
    fill[0][:] = seeds
    _fill_uniforms(fill)
    xs, next_valid, scale = fill[4], fill[5], fill[6]
    attempts = scale.shape[0]
    for lane, seed in enumerate(seeds):
        raw = numpy_words(int(seed), words)
        doubles = ((raw[0::2] >> 5) * 67108864 + (raw[1::2] >> 6)) / 9007199254740992.0  # legacy_double
        assert np.array_equal(xs[:, lane], 2.0 * doubles - 1.0)
        r2 = xs[0::2, lane] ** 2 + xs[1::2, lane] ** 2
        valid = (r2 < 1.0) & (r2 != 0.0)
        later = [next((u for u in range(t, attempts) if valid[u]), attempts) for t in range(attempts + 1)]
        assert next_valid[:, lane].tolist() == later
        exact = np.sqrt(-2.0 * np.log(r2[valid]) / r2[valid])
        assert np.max(np.abs(scale[valid, lane] / exact - 1)) < 2e-12


def test_approximate_scale_is_within_the_prefilter_margin() -> None:
    # The approximate walk's safety rests on this bound (margin 1e-9 on lam: _APPROX_MARGIN).
    rng = np.random.default_rng(3)
    r2 = np.concatenate(
        [
            rng.random(20_000),
            2.0 ** -rng.uniform(0, 104, 2_000),
            1 - 2.0 ** -rng.uniform(1, 52, 2_000),
            np.sqrt(0.5) * (1 + rng.uniform(-1e-9, 1e-9, 200)),
        ]
    )
    r2 = r2[(r2 > 0) & (r2 < 1)]
    approx = np.array([_approx_polar_scale(value) for value in r2])
    exact = np.sqrt(-2.0 * np.log(r2) / r2)
    assert np.max(np.abs(approx / exact - 1)) < 2e-12
