"""Small legacy-seeded challenges for the prng-seed-search tests (embedded photographs), and seeds
that exercise the fast check's hard paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from instahide_bench.attacks.prng_seed_search.reference import first_accepted_row
from instahide_bench.benchmark.generate import build_challenge
from instahide_bench.core.challenge import EncodedChallenge, write_challenge
from tests.attacks.prng_seed_search.fast_check_cases import DOM, UPPER, K, N, decision_pair, stream_profile

#: A seed whose first four first-draw rows are rejected (the check must skip them).
SEED = 2_020_001_020
#: n=20 private images, T=10 epochs, a 100-image public pool: 200 rows, every public repeats.
SMALL = {"n": 20, "T": 10, "pool_size": 100}


def small_challenge(seed: int = SEED, **overrides: object) -> EncodedChallenge:
    encoded, _ = build_challenge("challenge-2020", overrides={**SMALL, **overrides}, seed=seed)
    return encoded


@pytest.fixture(scope="session")
def small_2020() -> EncodedChallenge:
    return small_challenge()


@pytest.fixture(scope="session")
def small_2020_dir(small_2020: EncodedChallenge, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("prng") / "small-2020"
    write_challenge(path, small_2020)
    return path


@pytest.fixture(scope="session")
def secure_encoded() -> EncodedChallenge:
    """The same shape with OS randomness: no seed exists."""
    encoded, _ = build_challenge("instahide-cross", overrides={"n": 20, "T": 10})
    return encoded


@pytest.fixture(scope="session")
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
