"""Colour variants of the simulation: what they keep, what they change, and when the attack uses them."""

from __future__ import annotations

import numpy as np

from instahide_bench.attacks import AttackContext
from instahide_bench.attacks.learned_inversion.attack import LearnedInversionAttack, LearnedInversionConfig
from instahide_bench.attacks.learned_inversion.augment import recolour_private, tint_public
from instahide_bench.core.challenge import EncodedChallenge
from instahide_bench.core.config import apply_overrides
from instahide_bench.core.data import ImageSet
from tests.attacks.learned_inversion.conftest import FAST


def _images(count: int, grey: bool = False) -> ImageSet:
    rng = np.random.default_rng(0)
    images = rng.integers(30, 220, size=(count, 32, 32, 3), dtype=np.uint8)
    if grey:
        images[..., 1] = images[..., 2] = images[..., 0]
    return ImageSet(images, np.arange(count) % 2, ("a", "b"), "test")


def test_variants_follow_the_originals_and_keep_their_labels() -> None:
    images = _images(5)
    varied = recolour_private(images, 3, np.random.default_rng(1))
    assert len(varied) == 15 and varied.ids.tolist() == list(range(15))
    np.testing.assert_array_equal(varied.images[:5], images.images)  # the first block is unchanged
    np.testing.assert_array_equal(varied.labels, np.tile(images.labels, 3))
    for block in (1, 2):
        copy = varied.images[5 * block : 5 * block + 5].astype(float)
        assert np.abs(copy - images.images).mean() > 5  # recoloured ...
        # ... but the same picture: each channel of the copy follows one channel of the original
        for i in range(5):
            best = [
                max(abs(np.corrcoef(copy[i, ..., c].ravel(), images.images[i, ..., o].ravel())[0, 1]) for o in range(3))
                for c in range(3)
            ]
            assert min(best) > 0.95


def test_one_variant_is_the_set_itself() -> None:
    images = _images(4)
    assert recolour_private(images, 1, np.random.default_rng(0)) is images


def test_tinting_gives_grey_patches_colour() -> None:
    grey = _images(20, grey=True)
    tinted = tint_public(grey, np.random.default_rng(2))
    assert tinted.images.shape == grey.images.shape and tinted.ids.tolist() == grey.ids.tolist()
    chroma = np.abs(tinted.images.astype(float) - tinted.images.mean(axis=-1, keepdims=True)).mean()
    assert chroma > 3


def test_recoloured_simulation_has_every_variant(tiny_set: EncodedChallenge) -> None:
    config = apply_overrides(LearnedInversionConfig(), {**FAST, "aux_recolour": True, "aux_variants": 3})
    simulation = LearnedInversionAttack(config)._simulate(tiny_set.public_view(), AttackContext(seed=0))
    assert len(simulation["private"]) == 3 * FAST["aux_images"] and int(simulation["originals"]) == FAST["aux_images"]
    assert len(simulation["encryption"]) == 3 * FAST["aux_images"] * FAST["aux_T"]
