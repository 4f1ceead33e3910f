"""The fast seed check against numpy's own RandomState (challenge-2020 parameters)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from instahide_bench.attacks.prng_seed_search.kernel import (
    Evidence,
    _approx_polar_scale,
    check_seeds_exact,
    confirm_seed,
    fast_check_reference,
    first_accepted_row,
    search_block,
    search_block_torch,
    synthetic_labels,
)

N, K, UPPER, DOM, CLASSES = 100, 6, 0.65, 0.3, 10


def make_labels(seed: int, epochs: int = 2, same_class_rows: tuple[int, ...] = ()) -> np.ndarray:
    return synthetic_labels(seed, N, K, UPPER, DOM, CLASSES, epochs, same_class_rows)


def stream_profile(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """numpy's legacy_gauss rebuilt from raw MT words, for epoch 0's first draw: the normals,
    and after each polar pair the words used so far and the polar retries so far."""
    words = np.random.RandomState(seed)._bit_generator.random_raw(8000)
    doubles = [
        ((int(a) >> 5) * 67108864.0 + (int(b) >> 6)) / 9007199254740992.0 for a, b in zip(words[0::2], words[1::2])
    ]
    normals, used, retried, retries, q = [], [], [], 0, 0
    while len(normals) < N * K:
        x1, x2 = 2.0 * doubles[q] - 1.0, 2.0 * doubles[q + 1] - 1.0
        q += 2
        r2 = x1 * x1 + x2 * x2
        if r2 >= 1.0 or r2 == 0.0:
            retries += 1
            continue
        f = math.sqrt(-2.0 * math.log(r2) / r2)
        normals += [f * x2, f * x1]
        used.append(2 * q)
        retried.append(retries)
    return np.array(normals), np.array(used), np.array(retried)


def decision_pair(seed: int, check_rows: int = 2) -> int:
    """Index of the polar pair that ends the true seed's check_rows-th accepted first-draw row."""
    first = np.random.RandomState(seed).normal(0, 1, size=(N, K))
    accepted = [row for row in range(N) if not _rejected(first[row])]
    return (accepted[check_rows - 1] + 1) * K // 2 - 1


def _rejected(z: np.ndarray) -> bool:
    lam = np.abs(z) / np.sum(np.abs(z))
    return bool(lam.max() > UPPER or lam[0] + lam[1] < DOM)


@pytest.fixture(scope="module")
def interesting_seeds() -> dict[str, int]:
    """Seeds whose first rows are rejected, with polar retries, or beyond the first buffer tiers
    (default tiers: 64 and 128 words) before the check can decide."""
    found: dict[str, int] = {}
    for seed in range(1, 4000):
        row, _ = first_accepted_row(seed, N, K, UPPER, DOM)
        _, used, retried = stream_profile(seed)
        last = decision_pair(seed)
        kinds = (
            ("row0_rejected", row >= 1),
            ("rows01_rejected", row >= 2),
            ("retries", retried[last] >= 3 and row >= 1),
            ("past_64_words", used[last] > 64),
            ("past_128_words", used[last] > 128),
        )
        for name, hit in kinds:
            if hit and name not in found:
                found[name] = seed
        if len(found) == len(kinds):
            return found
    raise AssertionError(f"not all kinds found: {found}")


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


@pytest.mark.parametrize("tiers", [(48, 112, 224), (8, 16)])
def test_kernels_agree_with_numpy_reference(tiers: tuple[int, ...]) -> None:
    # A loose box makes a few percent of wrong seeds pass, so both verdicts occur often; the
    # range covers seeds with rejected first rows and polar retries. Tiers (8, 16) force most
    # lanes through the overflow path and the full generator.
    evidence = Evidence.from_labels(make_labels(4242), N, K, UPPER, DOM, check_rows=1, tolerance_ulps=1 << 21)
    start, stop = 10_000, 11_500 if tiers == (8, 16) else 13_000
    expected = [seed for seed in range(start, stop) if fast_check_reference(seed, evidence)]
    assert 20 < len(expected) < (stop - start) // 2
    assert search_block(start, stop, evidence, tiers=tiers).tolist() == expected
    assert search_block(start, stop, evidence, tiers=tiers, threads=1, chunk=700).tolist() == expected
    assert search_block_torch(start, stop, evidence, block_size=1024, tiers=tiers).tolist() == expected
    assert np.flatnonzero(check_seeds_exact(np.arange(start, stop), evidence.kernel_args())).tolist() == [
        seed - start for seed in expected
    ]


@pytest.mark.parametrize(("k", "dom"), [(5, None), (9, 0.3), (4, 0.3)])
def test_other_shapes_agree_with_numpy_reference(k: int, dom: float | None) -> None:
    # Odd k: a row starts with the cached second normal of a pair; k >= 8: numpy's pairwise sum.
    labels = synthetic_labels(77, N, k, UPPER, dom, CLASSES)
    evidence = Evidence.from_labels(labels, N, k, UPPER, dom, check_rows=2, tolerance_ulps=1 << 23)
    start, stop = 20_000, 21_000
    expected = [seed for seed in range(start, stop) if fast_check_reference(seed, evidence)]
    assert 5 < len(expected) < stop - start
    assert search_block(start, stop, evidence).tolist() == expected
    assert search_block_torch(start, stop, evidence, block_size=1000).tolist() == expected
    tight = Evidence.from_labels(labels, N, k, UPPER, dom)
    assert search_block(0, 500, tight).tolist() == [77]


@pytest.mark.parametrize("kind", ["row0_rejected", "rows01_rejected", "retries", "past_64_words", "past_128_words"])
def test_true_seed_found_in_narrow_range(kind: str, interesting_seeds: dict[str, int]) -> None:
    seed = interesting_seeds[kind]
    evidence = Evidence.from_labels(make_labels(seed), N, K, UPPER, DOM)
    lo, hi = max(0, seed - 700), seed + 700
    assert search_block(lo, hi, evidence).tolist() == [seed]
    assert search_block_torch(lo, hi, evidence, block_size=512).tolist() == [seed]


@pytest.mark.parametrize("seed", [0xDEADBEEF, 2**32 - 1])
def test_true_seed_found_at_high_seeds(seed: int) -> None:
    evidence = Evidence.from_labels(make_labels(seed, same_class_rows=(0, 1)), N, K, UPPER, DOM)
    lo, hi = seed - 3000, min(seed + 3000, 2**32)
    assert search_block(lo, hi, evidence, chunk=1000).tolist() == [seed]
    assert search_block_torch(lo, hi, evidence, block_size=2048).tolist() == [seed]


def test_one_valued_label_rows_are_matched() -> None:
    seed = 31337
    row, _ = first_accepted_row(seed, N, K, UPPER, DOM)
    labels = make_labels(seed, same_class_rows=tuple(range(N)))
    evidence = Evidence.from_labels(labels, N, K, UPPER, DOM)
    assert evidence.counts[row] == 1
    assert search_block(seed - 100, seed + 100, evidence).tolist() == [seed]


def test_wrong_seed_pass_rate_matches_estimate() -> None:
    # Widened boxes make the rate measurable; the estimate is the same formula as for 1 ulp.
    evidence = Evidence.from_labels(make_labels(99), N, K, UPPER, DOM, check_rows=1, tolerance_ulps=1 << 18)
    count = 1 << 18
    passed = search_block(5_000_000, 5_000_000 + count, evidence).size
    expected = evidence.false_positive_rate() * count
    assert abs(passed - expected) < 4 * math.sqrt(expected) + 0.15 * expected
    tight = Evidence.from_labels(make_labels(99), N, K, UPPER, DOM)
    assert tight.false_positive_rate() * 2**32 < 1e-3  # default check: no false candidates expected


def test_approximate_scale_is_within_the_prefilter_margin() -> None:
    # The approximate walk's safety rests on this bound (margin 1e-9 on lam, see kernel.py).
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


def test_evidence_rejects_non_label_rows() -> None:
    labels = make_labels(1)
    labels[0, :3] = 0.2
    with pytest.raises(ValueError):
        Evidence.from_labels(labels, N, K, UPPER, DOM)
    with pytest.raises(ValueError):
        search_block(5, 4, Evidence.from_labels(make_labels(1), N, K, UPPER, DOM))
