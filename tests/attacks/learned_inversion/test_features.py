"""Row inputs: |e| in NCHW and the label row's weights and classes; the dominant image of a row."""

from __future__ import annotations

import numpy as np

from instahide_bench.attacks.common.labels import parse_labels
from instahide_bench.attacks.learned_inversion.features import SCALARS, dominant_images, row_inputs, side_vector
from instahide_bench.core.challenge import EncodedChallenge


def test_magnitude_is_abs_e_in_nchw(tiny_set: EncodedChallenge) -> None:
    inputs = row_inputs(tiny_set.encryption, tiny_set.labels, 2)
    assert inputs.magnitude.shape == (len(tiny_set.encryption), 3, 32, 32) and inputs.magnitude.dtype == np.float32
    np.testing.assert_array_equal(inputs.magnitude.transpose(0, 2, 3, 1), np.abs(tiny_set.encryption))
    assert len(inputs) == len(tiny_set.encryption)


def test_side_vector_reads_the_label_row(tiny_set: EncodedChallenge) -> None:
    structure = parse_labels(tiny_set.labels, 2)
    side = side_vector(structure)
    classes = tiny_set.labels.shape[1]
    assert side.shape == (len(tiny_set.labels), SCALARS + 2 * classes)
    np.testing.assert_allclose(side[:, 0] + side[:, 1] + side[:, 2], 1.0, atol=1e-5)  # private + public weight
    assert (side[:, 0] >= side[:, 1]).all()
    heaviest = side[:, SCALARS : SCALARS + classes].argmax(axis=1)
    np.testing.assert_array_equal(heaviest, tiny_set.labels.argmax(axis=1))
    np.testing.assert_array_equal(side[:, 3], structure.collided)
    assert side_vector(structure, with_classes=False).shape == (len(tiny_set.labels), SCALARS)


def test_the_dominant_image_is_the_heavier_one_and_has_the_heaviest_class(tiny_set: EncodedChallenge) -> None:
    key = tiny_set.key  # the attack computes this only on its own simulation; here the key stands in
    dominant = dominant_images(key.private_index[:, :2], key.coefficients[:, :2])
    first_heavier = key.coefficients[:, 0] >= key.coefficients[:, 1]
    heavier = np.where(first_heavier, key.private_index[:, 0], key.private_index[:, 1])
    np.testing.assert_array_equal(dominant, heavier)
    np.testing.assert_array_equal(key.private_labels[dominant], tiny_set.labels.argmax(axis=1))
