"""LiRA's shadow pools and splits, and the challenge's encoder rebuilt from its public parameters."""

from __future__ import annotations

import numpy as np
import pytest

from instahide_bench.attacks.lira.shadows import (
    challenge_encoder,
    class_quotas,
    load_auxiliary,
    pair_members,
    shadow_members,
    shadow_release,
    to_uint8,
)
from instahide_bench.core.data import ImageSet, parse_source
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.pixels import get_pixel_space
from instahide_bench.encoders import ENCODERS


def test_quotas_follow_the_pool_and_add_up() -> None:
    labels = np.array([0] * 7 + [1] * 5 + [2] * 2)
    quota = class_quotas(labels, 3, 7)
    assert quota.sum() == 7 and quota.tolist() == [4, 2, 1]


def test_pairs_are_complements_of_a_pool_twice_their_size_and_disjoint_in_a_larger_one() -> None:
    labels = np.random.default_rng(1).integers(0, 4, 40)
    front, back = pair_members(labels, 4, 20, seed=5, pair=0)
    assert len(front) == len(back) == 20 and np.union1d(front, back).tolist() == list(range(40))
    counts = np.zeros(40, int)
    for shadow in range(8):
        counts[shadow_members(labels, 4, 20, 5, shadow)] += 1
    assert counts.tolist() == [4] * 40  # every pool image inside exactly half of the shadows
    front, back = pair_members(np.random.default_rng(2).integers(0, 4, 61), 4, 20, seed=5, pair=3)
    assert len(np.intersect1d(front, back)) == 0
    again = pair_members(np.random.default_rng(2).integers(0, 4, 61), 4, 20, seed=5, pair=3)
    assert np.array_equal(again[0], front)  # a pair depends on the seed and its number only
    with pytest.raises(ConfigError, match="too small"):
        shadow_members(labels, 4, 40, 5, 0)


def test_auxiliary_images_skip_the_candidates_and_need_the_challenge_classes() -> None:
    embedded = parse_source("embedded", "private").load_all()
    aux = load_auxiliary("embedded", embedded.class_names, embedded.images[:5])
    assert len(aux) == len(embedded) - 5
    with pytest.raises(ConfigError, match="classes"):
        load_auxiliary("embedded", ("cat", "dog"), embedded.images[:0])


def test_the_encoder_comes_back_from_challenge_json_and_releases_a_shadow() -> None:
    embedded = parse_source("embedded", "private").load_all()
    private = embedded.choose(40, seed=0)
    encoder = ENCODERS.get("random-subset")(ENCODERS.get("random-subset").Config(n=40, images_per_class=1))
    encoded = encoder.encode(private, seed=3)
    rebuilt = challenge_encoder(encoded.encoder, encoded.params)
    assert rebuilt.config == encoder.config
    rows, pixels = shadow_release(rebuilt, private, None, seed=3)
    np.testing.assert_array_equal(rows.inputs, encoded.encryption)  # same seed, same release
    assert pixels.name == encoded.pixels.name
    assert np.array_equal(to_uint8(encoded.encryption, pixels), private.images[encoded.key.init_index])
    with pytest.raises(ConfigError, match="re-runs the challenge's encoder"):
        challenge_encoder("no-such-encoder", {})


def test_round_trip_to_uint8_in_every_pixel_space() -> None:
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype(np.uint8)
    for name in ("[-1,1]", "[0,1]", "cifar10-normalised"):
        space = get_pixel_space(name)
        assert np.array_equal(to_uint8(space.from_uint8(images), space), images)
    assert isinstance(ImageSet(images, np.zeros(4), ("a",), "t"), ImageSet)
