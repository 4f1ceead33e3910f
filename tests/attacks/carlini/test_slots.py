"""Slots from label rows, and the truth behind them for the attacker's own simulations."""

from __future__ import annotations

import numpy as np

from instahide_bench.attacks.carlini.slots import slots_from_labels, true_slot_images
from instahide_bench.attacks.common.labels import parse_labels


def test_a_class_too_light_to_show_in_the_labels_still_gets_an_image() -> None:
    """Row 1's second image has weight 7.6e-7: label.npy shows only class 2, both slots read class 2."""
    labels = np.zeros((2, 10), np.float32)
    labels[0, [1, 4]] = [0.3, 0.4]
    labels[1, 2], labels[1, 9] = 0.396, 7.6e-7
    slots = slots_from_labels(parse_labels(labels, 2))
    private_index = np.array([[0, 1], [2, 3]])
    private_labels = np.array([1, 4, 2, 9])
    truth = true_slot_images(slots, private_index, private_labels)
    assert sorted(truth[:2].tolist()) == [0, 1]
    assert sorted(truth[2:].tolist()) == [2, 3]  # each of the row's images once, the light one included
    assert truth[2 + int(np.flatnonzero(slots.cls[2:] == 2)[0])] in (2, 3)
