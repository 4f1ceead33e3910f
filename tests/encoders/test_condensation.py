"""The ``dataset-condensation`` encoder (distribution matching): it lowers what it optimises, and its key."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from instahide_bench.core.config import apply_overrides
from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.errors import ConfigError
from instahide_bench.encoders import DatasetCondensationConfig, DatasetCondensationEncoder, get_preset
from instahide_bench.encoders.condensation import embedding_distance, random_convnet, siamese_augment
from tests.encoders.conftest import TINY_N

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: A tiny DM problem: 1 synthetic image per class, small random ConvNets.
TINY_DM = {"n": TINY_N, "images_per_class": 1, "real_batch": 8, "width": 8, "depth": 2, "device": "cpu"}


def _encoder(**overrides: object) -> DatasetCondensationEncoder:
    return DatasetCondensationEncoder(apply_overrides(DatasetCondensationConfig(), {**TINY_DM, **overrides}))


def _nchw(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)


def _distance(images: np.ndarray, labels: np.ndarray, private: np.ndarray, private_labels: np.ndarray) -> float:
    """DM's objective under 8 random ConvNets that condensation never saw, with every private image."""
    generator = torch.Generator().manual_seed(99)
    nets = [random_convnet(TINY_DM["width"], TINY_DM["depth"], generator, torch.device("cpu")) for _ in range(8)]
    return embedding_distance(
        _nchw(images), torch.from_numpy(labels), _nchw(private), torch.from_numpy(private_labels), nets
    )


def test_condensation_lowers_the_embedding_mean_distance(tiny_private: ImageSet) -> None:
    encoded = _encoder(iterations=30).encode(tiny_private, seed=3)
    key = encoded.key
    assert key.init_index is not None and (key.init_index >= 0).all()
    labels = encoded.labels.argmax(axis=1)
    before = _distance(key.private[key.init_index], labels, key.private, key.private_labels)
    after = _distance(encoded.encryption, labels, key.private, key.private_labels)
    assert after < 0.8 * before, (before, after)
    # the start was the recorded real images, and the release moved away from them but stays in the pixel box
    assert not np.allclose(encoded.encryption, key.private[key.init_index])
    assert encoded.encryption.min() >= -1 and encoded.encryption.max() <= 1
    np.testing.assert_array_equal(key.private_index[:, 0], key.init_index)
    np.testing.assert_array_equal(key.private_labels[key.init_index], labels)


def test_zero_iterations_release_the_initial_images(tiny_private: ImageSet) -> None:
    encoded = _encoder(iterations=0, images_per_class=2).encode(tiny_private, seed=4)
    np.testing.assert_array_equal(encoded.encryption, encoded.key.private[encoded.key.init_index])


def test_noise_rows_have_no_init_image_and_are_scored_against_their_nearest(tiny_private: ImageSet) -> None:
    encoded = _encoder(init="noise", iterations=2).encode(tiny_private, seed=5)
    key = encoded.key
    assert key.init_index is not None and (key.init_index == -1).all()
    labels = encoded.labels.argmax(axis=1)
    for row, image in enumerate(encoded.encryption):
        same_class = np.flatnonzero(key.private_labels == labels[row])
        distances = ((key.private[same_class] - image) ** 2).reshape(len(same_class), -1).mean(axis=1)
        assert key.private_index[row, 0] == same_class[distances.argmin()]


def test_a_seed_repeats_the_release(tiny_private: ImageSet) -> None:
    first, again, other = (_encoder(iterations=3).encode(tiny_private, seed=s) for s in (7, 7, 8))
    np.testing.assert_array_equal(first.encryption, again.encryption)
    assert not np.array_equal(first.encryption, other.encryption)


def test_the_augmentation_is_the_same_on_both_batches() -> None:
    images = torch.rand((5, 3, 32, 32), generator=torch.Generator().manual_seed(0))
    for seed in range(6):
        real, synthetic = siamese_augment(images, images[:2].clone(), torch.Generator().manual_seed(seed))
        assert torch.equal(real[:2], synthetic)


@pytest.mark.parametrize(
    "overrides",
    [{"init": "zeros"}, {"iterations": -1}, {"real_batch": 0}, {"lr": 0.0}, {"momentum": 1.0}, {"depth": 6}],
)
def test_bad_settings_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        _encoder(**overrides)


def test_presets() -> None:
    assert get_preset("dc-real").build().config.init == "real"
    assert get_preset("dc-noise").build().config.init == "noise"
    assert get_preset("dc-real").encoder == "dataset-condensation"
