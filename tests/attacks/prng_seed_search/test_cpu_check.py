"""The numba fast check (search_block, check_seeds_exact) against numpy's own RandomState."""

from __future__ import annotations

import numpy as np
import pytest

from instahide_bench.attacks.prng_seed_search.cpu_check import check_seeds_exact, search_block
from instahide_bench.attacks.prng_seed_search.evidence import Evidence
from instahide_bench.attacks.prng_seed_search.reference import first_accepted_row
from tests.attacks.prng_seed_search.fast_check_cases import (
    DOM,
    UPPER,
    K,
    N,
    loose_evidence,
    loose_reference,
    make_labels,
    shape_evidence,
    shape_reference,
)


@pytest.mark.parametrize("tiers", [(48, 112, 224), (8, 16)])
def test_search_block_agrees_with_numpy_reference(tiers: tuple[int, ...]) -> None:
    # Tiers (8, 16) force most lanes through the overflow path and the full generator.
    evidence = loose_evidence()
    start, stop = 10_000, 11_500 if tiers == (8, 16) else 13_000
    expected = list(loose_reference(start, stop))
    assert 20 < len(expected) < (stop - start) // 2
    assert search_block(start, stop, evidence, tiers=tiers).tolist() == expected
    assert search_block(start, stop, evidence, tiers=tiers, threads=1, chunk=700).tolist() == expected
    assert np.flatnonzero(check_seeds_exact(np.arange(start, stop), evidence.kernel_args())).tolist() == [
        seed - start for seed in expected
    ]


@pytest.mark.parametrize(("k", "dom"), [(5, None), (9, 0.3), (4, 0.3)])
def test_other_shapes_agree_with_numpy_reference(k: int, dom: float | None) -> None:
    start, stop = 20_000, 21_000
    expected = list(shape_reference(k, dom, start, stop))
    assert 5 < len(expected) < stop - start
    assert search_block(start, stop, shape_evidence(k, dom)).tolist() == expected
    assert search_block(0, 500, shape_evidence(k, dom, tight=True)).tolist() == [77]


@pytest.mark.parametrize("kind", ["row0_rejected", "rows01_rejected", "retries", "past_64_words", "past_128_words"])
def test_true_seed_found_in_narrow_range(kind: str, interesting_seeds: dict[str, int]) -> None:
    seed = interesting_seeds[kind]
    evidence = Evidence.from_labels(make_labels(seed), N, K, UPPER, DOM)
    assert search_block(max(0, seed - 700), seed + 700, evidence).tolist() == [seed]


@pytest.mark.parametrize("seed", [0xDEADBEEF, 2**32 - 1])
def test_true_seed_found_at_high_seeds(seed: int) -> None:
    evidence = Evidence.from_labels(make_labels(seed, same_class_rows=(0, 1)), N, K, UPPER, DOM)
    assert search_block(seed - 3000, min(seed + 3000, 2**32), evidence, chunk=1000).tolist() == [seed]


def test_one_valued_label_rows_are_matched() -> None:
    seed = 31337
    row, _ = first_accepted_row(seed, N, K, UPPER, DOM)
    labels = make_labels(seed, same_class_rows=tuple(range(N)))
    evidence = Evidence.from_labels(labels, N, K, UPPER, DOM)
    assert evidence.counts[row] == 1
    assert search_block(seed - 100, seed + 100, evidence).tolist() == [seed]


def test_search_block_rejects_bad_ranges() -> None:
    with pytest.raises(ValueError):
        search_block(5, 4, Evidence.from_labels(make_labels(1), N, K, UPPER, DOM))
