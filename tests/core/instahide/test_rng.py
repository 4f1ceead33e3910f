"""The two RNG kinds: the legacy pair is the 2020 challenge's; the secure one keeps no state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from instahide_bench.core.instahide.rng import LegacySeededRNG, SecureRNG, fresh_seed, make_rng


def test_legacy_rng_replays_numpy_and_torch() -> None:
    rng = LegacySeededRNG(42)
    np.testing.assert_array_equal(rng.normal((2, 3)), np.random.RandomState(42).normal(0, 1, size=(2, 3)))
    np.testing.assert_array_equal(
        rng.randperm(10), torch.randperm(10, generator=torch.Generator().manual_seed(42)).numpy()
    )


def test_secure_draws_look_right() -> None:
    rng = SecureRNG()
    z = rng.normal((20000,))
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05
    perm = rng.randperm(50)
    assert sorted(perm.tolist()) == list(range(50))
    mask = rng.sign_mask((4, 3, 32, 32))
    assert set(np.unique(mask).tolist()) == {-1, 1}
    assert abs(mask.mean()) < 0.1
    assert not hasattr(rng, "seed")


def test_seed_bits_bound_the_seed() -> None:
    assert all(fresh_seed(4) < 16 for _ in range(50))
    with pytest.raises(ValueError):
        fresh_seed(33)


def test_make_rng_checks_its_arguments() -> None:
    with pytest.raises(ValueError):
        make_rng("legacy-seeded", None)
    with pytest.raises(ValueError):
        make_rng("secure", 3)
    with pytest.raises(ValueError):
        LegacySeededRNG(2**32)
