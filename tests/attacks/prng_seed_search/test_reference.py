"""The numpy reference of the fast check, and the exact confirmation of a candidate seed."""

from __future__ import annotations

import numpy as np

from instahide_bench.attacks.prng_seed_search.cpu_check import search_block
from instahide_bench.attacks.prng_seed_search.evidence import Evidence
from instahide_bench.attacks.prng_seed_search.reference import confirm_seed, first_accepted_row
from tests.attacks.prng_seed_search.fast_check_cases import DOM, UPPER, K, N, make_labels, stream_profile


def test_stream_profile_matches_numpy() -> None:
    for seed in (0, 1, 12345, 2**32 - 1):
        normals, _, _ = stream_profile(seed)
        assert np.array_equal(normals, np.random.RandomState(seed).normal(0, 1, size=(N, K)).ravel())


def test_first_accepted_row_matches_label_row() -> None:
    seed = 77
    row, lam = first_accepted_row(seed, N, K, UPPER, DOM)
    labels = make_labels(seed)
    nonzero = np.sort(labels[row][labels[row] != 0])
    parts = lam[:2].astype(np.float32)
    expected = np.sort(parts) if nonzero.size == 2 else np.array([parts[0] + parts[1]], dtype=np.float32)
    assert np.array_equal(nonzero, expected)


def test_confirm_seed_rejects_near_misses() -> None:
    seed = 555_555
    labels = make_labels(seed, epochs=3, same_class_rows=(3,))
    assert confirm_seed(seed, labels, N, K, UPPER, DOM)
    assert not confirm_seed(seed + 1, labels, N, K, UPPER, DOM)
    # A wrong seed that passes a loose fast check is still refused.
    loose = Evidence.from_labels(labels, N, K, UPPER, DOM, check_rows=1, tolerance_ulps=1 << 22)
    impostors = [s for s in search_block(0, 20_000, loose) if s != seed]
    assert impostors and not any(confirm_seed(s, labels, N, K, UPPER, DOM) for s in impostors[:5])
    # One float32 ulp off in a later epoch is enough to refuse the true seed.
    tampered = labels.copy()
    row = 2 * N + 17
    column = np.flatnonzero(tampered[row])[0]
    tampered[row, column] = np.nextafter(tampered[row, column], np.float32(1))
    assert not confirm_seed(seed, tampered, N, K, UPPER, DOM)
