"""Small legacy-seeded challenges for the prng-seed-search tests (embedded photographs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from instahide_bench.benchmark.generate import build_challenge
from instahide_bench.core.challenge import EncodedChallenge, write_challenge

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
