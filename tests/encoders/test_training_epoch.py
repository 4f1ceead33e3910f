"""Training encodings (``Encoder.training_epoch``): the scheme's constraints hold, targets sum as specified.

Each private image gets its own class here, so a row's soft target IS its private coefficients.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.encoder import Encoder
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.instahide import encode
from instahide_bench.encoders import get_preset

N = 40


def _private(n: int = N, value: int | None = None) -> ImageSet:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    if value is not None:
        images[:] = value
    return ImageSet(images, np.arange(n), tuple(f"c{i}" for i in range(n)), "test")


def _public(count: int) -> ImageSet:
    images = np.random.default_rng(1).integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)
    return ImageSet(images, np.zeros(count, np.int64), ("public",), "test-public")


def _epoch(encoder: Encoder, private: ImageSet, seed: int | None = None, batch_size: int = 16) -> tuple:
    public = _public(encoder.training_public(len(private))) if encoder.training_public(len(private)) else None
    batches = list(encoder.training_epoch(private, public, seed=seed, batch_size=batch_size))
    assert [len(b) for b in batches[:-1]] == [batch_size] * (len(batches) - 1)
    inputs = np.concatenate([b.inputs for b in batches])
    targets = np.concatenate([b.targets for b in batches])
    primary = np.concatenate([b.primary for b in batches])
    return inputs, targets, primary


def test_inside_targets_are_k_bounded_coefficients_summing_to_one() -> None:
    encoder = get_preset("instahide-inside").build()
    inputs, targets, primary = _epoch(encoder, _private())
    assert inputs.shape == (N, 32, 32, 3) and inputs.dtype == np.float32
    assert sorted(primary.tolist()) == list(range(N))  # every image encrypted once per epoch
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, atol=1e-6)
    # k = 4 slots, each an independent permutation of the set (as the authors mix), so an image
    # may fill two slots of a row; rows of 4 distinct images show each coefficient <= upper
    distinct = (targets > 0).sum(axis=1)
    assert (distinct <= 4).all() and (distinct == 4).mean() > 0.5
    assert targets[distinct == 4].max() <= 0.65 + 1e-6
    assert (targets[np.arange(N), primary] > 0).all()  # the row's own image is in it


def test_cross_targets_keep_only_the_private_weights_not_renormalised() -> None:
    encoder = get_preset("instahide-cross").build()
    assert encoder.training_public(N) == N * 4  # fresh patches: k - 2 per row
    _, targets, _ = _epoch(encoder, _private())
    sums = targets.sum(axis=1)
    assert (sums >= 0.3 - 1e-6).all() and (sums < 1 - 1e-6).all()  # dom <= private weight < 1
    distinct = (targets > 0).sum(axis=1)
    assert (distinct <= 2).all() and targets[distinct == 2].max() <= 0.65 + 1e-6


@pytest.mark.parametrize(("preset", "signed"), [("instahide-inside", True), ("mixup", False)])
def test_the_sign_mask_is_plus_or_minus_one_per_pixel(preset: str, signed: bool) -> None:
    """Constant images in [0, 1]: the mixture is the constant, so the encoding is +-constant exactly."""
    encoder = get_preset(preset).build({"pixels": "[0,1]"})
    inputs, _, _ = _epoch(encoder, _private(value=200))
    np.testing.assert_allclose(np.abs(inputs), 200 / 255, rtol=1e-5)
    negative = (inputs < 0).mean()
    if signed:
        assert 0.45 < negative < 0.55
    else:
        assert negative == 0


def test_an_epoch_is_the_challenge_encoding_with_t_equal_one() -> None:
    """One mixing implementation: a seeded training epoch equals ``encode`` of the same draw (T = 1)."""
    encoder = get_preset("instahide-inside").build({"rng": "legacy-seeded"})
    config = dataclasses.replace(encoder.config, T=1, n=N)
    private = _private()
    inputs, targets, primary = _epoch(encoder, private, seed=123, batch_size=7)
    challenge = encode(config, private, None, seed=123, encoder="instahide", encoder_version="test")
    np.testing.assert_array_equal(primary, challenge.key.private_index[:, 0])
    np.testing.assert_allclose(inputs, challenge.encryption, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(targets, challenge.labels)


def test_fresh_keys_every_epoch_and_seeded_epochs_repeat() -> None:
    encoder = get_preset("instahide-inside").build({"rng": "legacy-seeded"})
    first, _, _ = _epoch(encoder, _private(), seed=1)
    again, _, _ = _epoch(encoder, _private(), seed=1)
    other, _, _ = _epoch(encoder, _private(), seed=2)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    secure = get_preset("instahide-inside").build()
    a, _, _ = _epoch(secure, _private(), seed=1)
    b, _, _ = _epoch(secure, _private(), seed=1)
    assert not np.allclose(a, b)  # OS entropy: the seed is ignored


def test_too_few_public_images_is_a_clear_error() -> None:
    encoder = get_preset("instahide-cross").build()
    with pytest.raises(ConfigError, match="public images"):
        list(encoder.training_epoch(_private(), _public(10)))
