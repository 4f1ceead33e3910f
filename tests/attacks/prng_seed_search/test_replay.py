"""Replaying a seed reproduces the key's choices and label.npy; version drift is reported."""

from __future__ import annotations

import numpy as np
import pytest

from instahide_bench.attacks.prng_seed_search.replay import (
    REPLAYED_LIBRARIES,
    infer_private_classes,
    mismatched_label_rows,
    replay_in_matching_order,
    replay_seed,
    version_warnings,
)
from instahide_bench.core.instahide import DRAW_ORDERS, InstaHideConfig
from tests.attacks.prng_seed_search.conftest import SEED
from tests.attacks.prng_seed_search.made_elsewhere import made_elsewhere
from tests.conftest import tiny_encoded


def test_replay_matches_the_key_on_a_tiny_challenge() -> None:
    encoded = tiny_encoded("challenge-2020", seed=SEED)
    replay = replay_seed(SEED, InstaHideConfig.from_public_params(encoded.params))
    key = encoded.key
    assert np.array_equal(replay.private, key.private_index)
    assert np.array_equal(replay.public, key.public_index)
    assert np.array_equal(replay.coefficients, key.coefficients)  # float64, bit for bit
    assert replay.mask is not None and replay.mask.shape == encoded.encryption.shape


def test_replayed_masks_undo_the_signs(small_2020) -> None:
    replay = replay_seed(SEED, InstaHideConfig.from_public_params(small_2020.params))
    key = small_2020.key
    lam = replay.coefficients.astype(np.float32)
    mixture = lam[:, 0, None, None, None] * key.private[replay.private[:, 0]]
    mixture += lam[:, 1, None, None, None] * key.private[replay.private[:, 1]]
    for slot in range(replay.public.shape[1]):
        mixture += lam[:, 2 + slot, None, None, None] * key.public[replay.public[:, slot]]
    assert np.array_equal(small_2020.encryption * replay.mask, mixture)


def test_labels_are_reproduced_bit_for_bit_only_by_the_right_seed(small_2020) -> None:
    config = InstaHideConfig.from_public_params(small_2020.params)
    right = replay_seed(SEED, config)
    assert np.array_equal(infer_private_classes(right, small_2020.labels), small_2020.key.private_labels)
    assert mismatched_label_rows(right, small_2020.labels).size == 0
    assert mismatched_label_rows(replay_seed(SEED + 1, config), small_2020.labels).size > 150


def test_version_warnings() -> None:
    assert version_warnings(dict(REPLAYED_LIBRARIES)) == []
    assert version_warnings({**REPLAYED_LIBRARIES, "torch": REPLAYED_LIBRARIES["torch"] + "+cu121"}) == []
    notes = version_warnings({"numpy": REPLAYED_LIBRARIES["numpy"], "torch": "1.7.0"})
    assert len(notes) == 1 and "torch 1.7.0" in notes[0] and "may differ" in notes[0]
    assert "does not record the numpy version" in version_warnings({"torch": REPLAYED_LIBRARIES["torch"]})[0]


@pytest.mark.parametrize("order", DRAW_ORDERS, ids=[order.name for order in DRAW_ORDERS])
def test_each_draw_order_is_recognised_on_a_challenge_made_in_it(order) -> None:
    """Challenges from an independent generator (tests/.../made_elsewhere.py), one per known order."""
    public, _ = made_elsewhere(SEED, authors_order=order.public_first, base_seed_draws=order.loader_seed_draws)
    config = InstaHideConfig.from_public_params(public.meta.params)
    replay, mismatches = replay_in_matching_order(SEED, config, public.labels)
    assert replay is not None and replay.order == order.name, mismatches
    assert mismatches[order.name] == 0
    earlier = [o.name for o in DRAW_ORDERS[: DRAW_ORDERS.index(order)]]
    assert all(mismatches[name] > public.num_rows // 2 for name in earlier), mismatches  # the others do not fit


def test_no_known_order_means_no_replay(small_2020) -> None:
    config = InstaHideConfig.from_public_params(small_2020.params)
    replay, mismatches = replay_in_matching_order(SEED + 1, config, small_2020.labels)
    assert replay is None and set(mismatches) == {order.name for order in DRAW_ORDERS}
    assert min(mismatches.values()) > 150
