"""Label rows -> per-row class/weight structure, on rows built by hand."""

from __future__ import annotations

import numpy as np
import pytest

from instahide_bench.attacks.common.labels import estimate_class_sizes, parse_labels


def label_rows(rows: list[dict[int, float]], num_classes: int = 5) -> np.ndarray:
    labels = np.zeros((len(rows), num_classes), dtype=np.float32)
    for index, row in enumerate(rows):
        for cls, weight in row.items():
            labels[index, cls] += weight
    return labels


def test_cross_rows_give_classes_heaviest_first_and_public_weight() -> None:
    labels = label_rows([{1: 0.2, 3: 0.35}, {4: 0.5}, {0: 0.65, 2: 0.05}])
    structure = parse_labels(labels, private_slots=2)
    assert structure.classes.tolist() == [[3, 1], [4, -1], [0, 2]]
    np.testing.assert_allclose(structure.weights, [[0.35, 0.2], [0.5, 0.0], [0.65, 0.05]], atol=1e-7)
    np.testing.assert_allclose(structure.public_weight, [0.45, 0.5, 0.3], atol=1e-6)
    assert structure.collided.tolist() == [False, True, False]
    assert structure.distinct_classes.tolist() == [2, 1, 2]


def test_inside_rows_have_no_public_weight_and_collisions_are_flagged() -> None:
    labels = label_rows([{0: 0.1, 1: 0.2, 2: 0.3, 3: 0.4}, {0: 0.6, 4: 0.4}])  # row 1: two classes, four slots
    structure = parse_labels(labels, private_slots=4)
    assert structure.public_weight.tolist() == [0.0, 0.0]
    assert structure.collided.tolist() == [False, True]
    assert structure.classes[1].tolist() == [0, 4, -1, -1]
    # the spare slots of a collided row go to its heaviest class
    assert structure.slot_estimate()[1].tolist() == [3, 0, 0, 0, 1]


def test_present_matrix_marks_each_named_class() -> None:
    structure = parse_labels(label_rows([{1: 0.3, 3: 0.3}, {2: 0.4}]), private_slots=2)
    assert structure.present().astype(int).tolist() == [[0, 1, 0, 1, 0], [0, 0, 1, 0, 0]]


def test_class_sizes_follow_slot_appearances() -> None:
    # class 0 fills 6 of the 8 slots (a one-class row fills both), so it holds 3 of the 4 images
    rows = [{0: 0.3, 1: 0.2}, {0: 0.4}, {0: 0.5}, {0: 0.2, 1: 0.3}]
    sizes = estimate_class_sizes(parse_labels(label_rows(rows, 2), private_slots=2), num_private=4)
    assert sizes.tolist() == [3, 1]


def test_class_sizes_add_up_and_keep_every_named_class() -> None:
    rows = [{0: 0.5}] * 40 + [{0: 0.3, 1: 0.3}]
    sizes = estimate_class_sizes(parse_labels(label_rows(rows, 3), private_slots=2), num_private=10)
    assert sizes.sum() == 10 and sizes[1] >= 1 and sizes[2] == 0


def test_more_classes_than_slots_is_an_error() -> None:
    with pytest.raises(ValueError, match="row 0 names 3 classes"):
        parse_labels(label_rows([{0: 0.2, 1: 0.2, 2: 0.2}]), private_slots=2)
