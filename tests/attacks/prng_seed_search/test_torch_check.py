"""The torch fast check (search_block_torch, on the CPU here) against numpy's own RandomState."""

from __future__ import annotations

import pytest

from instahide_bench.attacks.prng_seed_search.evidence import Evidence
from instahide_bench.attacks.prng_seed_search.torch_check import search_block_torch
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
def test_torch_agrees_with_numpy_reference(tiers: tuple[int, ...]) -> None:
    # Tiers (8, 16) send most lanes to the exact CPU replay as overflows.
    start, stop = 10_000, 11_500 if tiers == (8, 16) else 13_000
    expected = list(loose_reference(start, stop))
    assert 20 < len(expected) < (stop - start) // 2
    assert search_block_torch(start, stop, loose_evidence(), block_size=1024, tiers=tiers).tolist() == expected


@pytest.mark.parametrize(("k", "dom"), [(5, None), (9, 0.3), (4, 0.3)])
def test_other_shapes_agree_with_numpy_reference(k: int, dom: float | None) -> None:
    start, stop = 20_000, 21_000
    expected = list(shape_reference(k, dom, start, stop))
    assert 5 < len(expected) < stop - start
    assert search_block_torch(start, stop, shape_evidence(k, dom), block_size=1000).tolist() == expected


@pytest.mark.parametrize("kind", ["row0_rejected", "rows01_rejected", "retries", "past_64_words", "past_128_words"])
def test_true_seed_found_in_narrow_range(kind: str, interesting_seeds: dict[str, int]) -> None:
    seed = interesting_seeds[kind]
    evidence = Evidence.from_labels(make_labels(seed), N, K, UPPER, DOM)
    assert search_block_torch(max(0, seed - 700), seed + 700, evidence, block_size=512).tolist() == [seed]


@pytest.mark.parametrize("seed", [0xDEADBEEF, 2**32 - 1])
def test_true_seed_found_at_high_seeds(seed: int) -> None:
    evidence = Evidence.from_labels(make_labels(seed, same_class_rows=(0, 1)), N, K, UPPER, DOM)
    assert search_block_torch(seed - 3000, min(seed + 3000, 2**32), evidence, block_size=2048).tolist() == [seed]
