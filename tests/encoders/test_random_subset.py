"""The ``random-subset`` encoder: exactly m real private images per class, as they are."""

from __future__ import annotations

import numpy as np
import pytest

from instahide_bench.core.config import apply_overrides
from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.errors import ConfigError
from instahide_bench.encoders import RandomSubsetConfig, RandomSubsetEncoder, get_preset
from tests.encoders.conftest import TINY_N


def _encoder(**overrides: object) -> RandomSubsetEncoder:
    return RandomSubsetEncoder(apply_overrides(RandomSubsetConfig(), {"n": TINY_N, **overrides}))


def test_exactly_m_private_images_of_each_class(tiny_private: ImageSet) -> None:
    m = 3
    encoded = _encoder(images_per_class=m).encode(tiny_private, seed=5)
    key, classes = encoded.key, len(tiny_private.class_names)
    chosen = key.private_index[:, 0]
    assert encoded.encryption.shape == (classes * m, 32, 32, 3) and key.private_index.shape == (classes * m, 1)
    assert len(np.unique(chosen)) == len(chosen)  # distinct images
    np.testing.assert_array_equal(encoded.labels.argmax(axis=1), np.repeat(np.arange(classes), m))
    np.testing.assert_array_equal(encoded.labels.sum(axis=1), 1.0)  # one-hot
    np.testing.assert_array_equal(key.private_labels[chosen], np.repeat(np.arange(classes), m))
    np.testing.assert_array_equal(encoded.encryption, key.private[chosen])  # the images themselves
    np.testing.assert_array_equal(key.init_index, chosen)
    assert key.seed == 5 and encoded.params["num_rows"] == classes * m and encoded.params["images_per_class"] == m


def test_the_seed_decides_the_subset(tiny_private: ImageSet) -> None:
    picks = [_encoder(images_per_class=2).encode(tiny_private, seed=seed).key.init_index for seed in (1, 1, 2)]
    np.testing.assert_array_equal(picks[0], picks[1])
    assert not np.array_equal(picks[0], picks[2])
    drawn = (
        _encoder(images_per_class=2).encode(tiny_private).key.seed
    )  # no seed given: one is drawn from the OS and recorded
    assert drawn is not None and drawn >= 0


def test_a_class_with_too_few_images_is_named(tiny_private: ImageSet) -> None:
    counts = np.bincount(tiny_private.labels)
    with pytest.raises(ConfigError, match=repr(tiny_private.class_names[int(counts.argmin())])):
        _encoder(images_per_class=int(counts.min()) + 1).encode(tiny_private, seed=0)


def test_bad_settings_and_a_wrong_n_are_refused(tiny_private: ImageSet) -> None:
    with pytest.raises(ConfigError):
        _encoder(images_per_class=0)
    with pytest.raises(ConfigError, match="pixels"):
        _encoder(pixels="[0,2]")
    with pytest.raises(ConfigError, match="n=41"):
        _encoder(n=TINY_N + 1).encode(tiny_private, seed=0)


def test_training_release_uses_the_whole_set_and_the_preset_exists(tiny_private: ImageSet) -> None:
    preset = get_preset("random-subset")
    assert preset.encoder == "random-subset"
    release = preset.build({"images_per_class": 2}).training_release(tiny_private, seed=3)
    assert release is not None and len(release) == 2 * len(tiny_private.class_names)
    np.testing.assert_array_equal(
        release.inputs, preset.build().pixel_space().from_uint8(tiny_private.images[release.primary])
    )
    np.testing.assert_array_equal(release.targets.argmax(axis=1), tiny_private.labels[release.primary])
