"""Sign recovery: exact where the range is non-negative, untouched without a mask, measured otherwise."""

from __future__ import annotations

import numpy as np

from instahide_bench.attacks.common.signs import prior_signs, recover_signs, sign_accuracy
from instahide_bench.core.challenge import ChallengeKey
from instahide_bench.core.pixels import get_pixel_space
from tests.conftest import tiny_encoded


def unmasked_mixtures(key: ChallengeKey) -> np.ndarray:
    """The mixtures before the mask, rebuilt from the key in the encoder's float32 order."""
    lam = key.coefficients.astype(np.float32)
    private_slots = key.private_index.shape[1]
    mixture = lam[:, 0, None, None, None] * key.private[key.private_index[:, 0]]
    for slot in range(1, lam.shape[1]):
        source = (
            key.private[key.private_index[:, slot]]
            if slot < private_slots
            else key.public[key.public_index[:, slot - private_slots]]
        )
        mixture += lam[:, slot, None, None, None] * source
    return mixture


def test_unit_range_signs_are_recovered_exactly() -> None:
    encoded = tiny_encoded("instahide-unit-range")
    assert (encoded.encryption < 0).any()  # the mask did flip signs
    recovery = recover_signs(encoded.encryption, encoded.pixels, masked=True)
    assert recovery.method == "exact" and recovery.exact
    np.testing.assert_array_equal(recovery.mixtures, unmasked_mixtures(encoded.key))
    assert sign_accuracy(recovery.mixtures, unmasked_mixtures(encoded.key)) == (1.0, 1.0)


def test_no_mask_leaves_the_mixtures_alone() -> None:
    encoded = tiny_encoded("mixup")
    recovery = recover_signs(encoded.encryption, encoded.pixels, masked=False)
    assert recovery.method == "none"
    np.testing.assert_array_equal(recovery.mixtures, encoded.encryption)


def test_signed_range_uses_the_natural_image_prior_and_beats_a_coin() -> None:
    encoded = tiny_encoded("challenge-2020", seed=7)
    recovery = recover_signs(encoded.encryption, encoded.pixels, masked=True)
    assert recovery.method == "prior" and not recovery.exact
    assert prior_signs(get_pixel_space("[-1,1]")).tolist() == [-1.0, -1.0, -1.0]
    plain, weighted = sign_accuracy(recovery.mixtures, unmasked_mixtures(encoded.key))
    assert 0.5 < plain < 0.8 and weighted > plain  # large magnitudes lean towards the prior


def test_sign_accuracy_weights_by_magnitude() -> None:
    truth = np.array([1.0, -3.0, 0.0])
    estimate = np.array([-1.0, -1.0, 5.0])
    plain, weighted = sign_accuracy(estimate, truth)
    assert plain == 2 / 3 and weighted == 3 / 4
