"""Stage 4: slot scores, capacity-matched reassignment, confidence."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from instahide_bench.attacks.carlini.assignment import (
    ClassScores,
    confidence,
    decryption_slots,
    folded_mean,
    match,
    reassign,
    score_slots,
)
from instahide_bench.attacks.carlini.attack import Facts
from instahide_bench.attacks.carlini.magnitude import magnitude
from instahide_bench.attacks.carlini.slots import Slots
from instahide_bench.core.challenge import EncodedChallenge
from tests.attacks.carlini.conftest import random_within_class, slots_right, true_reconstruction


@pytest.mark.parametrize(
    ("slots", "images", "groups", "capacity"),
    [
        (40, 5, np.repeat(np.arange(4), 10), 2),  # 4 epochs of 10 slots: two slots per image and epoch
        (40, 5, None, 8),  # one group: 2T = 8 slots per image
        (11, 3, None, 4),  # uneven: ceil(11 / 3)
    ],
)
def test_match_respects_capacities(slots: int, images: int, groups: np.ndarray | None, capacity: int) -> None:
    scores = np.random.default_rng(slots).standard_normal((slots, images))
    scores[:, 0] += 5.0  # every slot prefers image 0: only the capacity stops them
    choice = match(scores, groups)
    for group in np.unique(groups if groups is not None else [0]):
        members = np.flatnonzero(groups == group) if groups is not None else np.arange(slots)
        assert np.bincount(choice[members], minlength=images).max() <= capacity


def test_match_is_the_best_assignment_within_capacity() -> None:
    scores = np.random.default_rng(7).standard_normal((6, 3))
    best = max(
        (c for c in itertools.product(range(3), repeat=6) if max(np.bincount(c, minlength=3)) <= 2),
        key=lambda c: scores[np.arange(6), list(c)].sum(),
    )
    assert match(scores, None).tolist() == list(best)


def test_reassign_with_the_true_images_finds_most_slots(
    small_encoded: EncodedChallenge, facts: Facts, true_slots: np.ndarray
) -> None:
    key = small_encoded.key
    truth = true_reconstruction(key, facts.structure.public_weight)
    image_class = key.private_labels  # image ids are the key's here, so "right" needs no mapping
    start = random_within_class(facts, np.random.default_rng(0))
    before = slots_right(start, facts, key).mean()
    magnitudes = magnitude(small_encoded.encryption)
    scores = score_slots(magnitudes, facts.slots, start, truth, facts.structure.public_weight, image_class)
    assert sorted(int(s) for entry in scores for s in entry.slots) == list(range(len(facts.slots)))
    new = reassign(scores, facts.slots, start, facts.epoch_rows)
    after = slots_right(new, facts, key).mean()
    # measured: 0.43 right at the random start (chance), 0.90 after one reassignment with the true images
    assert before < 0.55 and after > 0.8
    # each image takes at most two slots of an epoch, as the encoder's epochs do
    epoch = facts.slots.row // facts.epoch_rows
    assert max(np.bincount(new[epoch == e]).max() for e in np.unique(epoch)) <= 2
    # from the true assignment, the scores keep nearly every slot (measured 0.965)
    kept = reassign(
        score_slots(magnitudes, facts.slots, true_slots, truth, facts.structure.public_weight, image_class),
        facts.slots,
        true_slots,
        facts.epoch_rows,
    )
    assert slots_right(kept, facts, key).mean() > 0.9


def test_folded_mean_is_the_mean_magnitude() -> None:
    mixture = torch.tensor([-1.0, -0.2, 0.0, 0.3, 2.0], dtype=torch.float64)
    std = torch.full_like(mixture, 0.5)
    noise = torch.as_tensor(np.random.default_rng(0).standard_normal((400_000, 1)))
    sampled = (mixture + std * noise).abs().mean(dim=0)
    np.testing.assert_allclose(folded_mean(mixture, std).numpy(), sampled.numpy(), atol=4e-3)
    no_noise = folded_mean(mixture, torch.full_like(mixture, 1e-6))
    np.testing.assert_allclose(no_noise.numpy(), mixture.abs().numpy(), atol=1e-5)


def test_confidence_and_the_slot_each_row_shows() -> None:
    slots = Slots(np.repeat(np.arange(2), 2), np.array([0, 1, 0, 1]), np.full(4, 0.3), 2)
    scores = [
        ClassScores(np.array([0, 2]), np.array([0, 1]), np.array([[0.9, 0.1], [0.5, 0.45]], np.float32)),
        ClassScores(np.array([1, 3]), np.array([2]), np.array([[0.3], [0.2]], np.float32)),
    ]
    margin = confidence(scores, 4)
    np.testing.assert_allclose(margin, [0.8, np.inf, 0.05, np.inf], rtol=1e-5)  # a lone candidate is certain
    assert decryption_slots(slots, np.array([0.8, 0.1, 0.05, 0.2])).tolist() == [0, 3]


def test_confidence_of_the_assigned_image_goes_negative_when_matching_overrode_it() -> None:
    scores = [
        ClassScores(np.array([0, 2]), np.array([5, 6, 7]), np.array([[0.9, 0.1, 0.3], [0.2, 0.6, 0.5]], np.float32))
    ]
    slot_image = np.array([6, -1, 7, -1])  # slot 0 was moved off its favourite (5), slot 2 holds its runner-up
    margin = confidence(scores, 4, slot_image)
    np.testing.assert_allclose(margin[[0, 2]], [0.1 - 0.9, 0.5 - 0.6], rtol=1e-5)
    assert np.isinf(margin[[1, 3]]).all()
