"""The auxiliary simulation: the challenge's public parameters with its own n and T, seeded, truthful."""

from __future__ import annotations

import dataclasses

import numpy as np

from instahide_bench.attacks.common.simulate import (
    SIMULATION_POOL,
    Simulation,
    auxiliary_images,
    simulate_from_sources,
    simulation_config,
)
from instahide_bench.core.challenge import EncodedChallenge
from instahide_bench.encoders.instahide import InstaHideConfig, InstaHideEncoder
from tests.attacks.carlini.conftest import AUX_IMAGES, AUX_T, mixtures_from_key


def test_config_is_the_challenges_public_params_with_own_n_and_T(small_encoded: EncodedChallenge) -> None:
    params = small_encoded.public_view().meta.params
    config = simulation_config(params, 7, 3)
    own = {"n": 7, "T": 3, "rng": "legacy-seeded", "pool_size": 200}  # pool: the challenge's 200 (<= 1000)
    for field in dataclasses.fields(InstaHideConfig):
        expected = own.get(field.name, params.get(field.name))
        if field.name != "seed_bits":
            assert getattr(config, field.name) == expected, field.name


def test_config_follows_unusual_params_and_caps_the_pool() -> None:
    params = {
        "mode": "cross",
        "k": 5,
        "private_slots": 2,
        "upper": 0.5,
        "dom": 0.25,
        "T": 50,
        "n": 100,
        "pool_size": 5000,
        "public_reuse": "epoch",
        "pixels": "[0,1]",
        "mask": False,
        "rng": "secure",
        "seed_bits": 8,
        "num_rows": 5000,
    }  # num_rows: challenge.json extra, not an encoder field
    config = simulation_config(params, 30, 4)
    assert (config.k, config.upper, config.dom, config.pixels, config.mask) == (5, 0.5, 0.25, "[0,1]", False)
    assert (config.n, config.T, config.rng, config.pool_size) == (30, 4, "legacy-seeded", SIMULATION_POOL)
    assert simulation_config({**params, "pool_size": 10}, 30, 4).pool_size == 30  # never fewer patches than n


def test_simulation_obeys_the_challenges_coefficient_rules(
    simulations: list[Simulation], small_encoded: EncodedChallenge
) -> None:
    simulation = simulations[0]
    params = small_encoded.public_view().meta.params
    assert simulation.num_private == AUX_IMAGES and simulation.num_rows == AUX_IMAGES * AUX_T
    assert simulation.encryption.shape == (AUX_IMAGES * AUX_T, 32, 32, 3)
    assert simulation.labels.shape[1] == small_encoded.labels.shape[1]
    assert simulation.private_index.shape == simulation.coefficients.shape == (simulation.num_rows, 2)
    assert simulation.coefficients.max() <= params["upper"] + 1e-6
    assert simulation.coefficients.sum(axis=1).min() >= params["dom"] - 1e-6
    assert (simulation.encryption < 0).any()  # masked, as the challenge is
    # every image in two slots per epoch, T epochs
    assert np.bincount(simulation.private_index.ravel(), minlength=AUX_IMAGES).tolist() == [2 * AUX_T] * AUX_IMAGES


def test_same_seed_same_simulation_other_seed_other(small_encoded: EncodedChallenge) -> None:
    params = small_encoded.public_view().meta.params
    first, again, other = (simulate_from_sources(params, "embedded", "embedded", 6, 4, seed=seed) for seed in (5, 5, 6))
    for name, array in first.to_arrays().items():
        np.testing.assert_array_equal(array, again.to_arrays()[name], err_msg=name)
    assert not np.array_equal(first.encryption, other.encryption)
    assert not np.array_equal(first.private_index, other.private_index)


def test_truth_matches_the_encryption(small_encoded: EncodedChallenge) -> None:
    """The simulation's own truth (images, slots, coefficients) explains its |e| and its labels."""
    params = small_encoded.public_view().meta.params
    simulation = simulate_from_sources(params, "embedded", "embedded", 8, 5, seed=3)
    # the public half, which a Simulation does not keep: the same encoder run again, same inputs and seed
    config = simulation_config(params, 8, 5)
    encoder = InstaHideEncoder(config)
    private, public = auxiliary_images("embedded", "embedded", 8, encoder.required_public(), 3)
    key = encoder.encode(private, public, seed=3).key
    key = dataclasses.replace(
        key,
        private=simulation.private,
        private_index=np.c_[simulation.private_index, key.private_index[:, 2:]],
        coefficients=np.c_[simulation.coefficients, key.coefficients[:, 2:]],
    )
    np.testing.assert_allclose(np.abs(simulation.encryption), np.abs(mixtures_from_key(key)), atol=1e-5)
    labels = np.zeros_like(simulation.labels, dtype=np.float64)
    for slot in range(2):
        classes = simulation.private_labels[simulation.private_index[:, slot]]
        np.add.at(labels, (np.arange(simulation.num_rows), classes), simulation.coefficients[:, slot])
    np.testing.assert_allclose(simulation.labels, labels, atol=1e-6)
    for image, rows in enumerate(simulation.rows_of_image()):
        assert (simulation.private_index[rows] == image).any(axis=1).all()
        assert np.count_nonzero((simulation.private_index == image).any(axis=1)) == len(rows)
    restored = Simulation.from_arrays(simulation.to_arrays())  # what the stage cache stores
    assert all(np.array_equal(a, b) for a, b in zip(restored.to_arrays().values(), simulation.to_arrays().values()))
