"""Image-sign synchronisation: given the right grouping, it recovers most signs a [-1, 1] mask hid."""

from __future__ import annotations

import numpy as np

from instahide_bench.attacks.common.demix import Assignment, public_noise_weights
from instahide_bench.attacks.common.labels import parse_labels
from instahide_bench.attacks.common.sign_sync import grid_neighbours, synchronise
from instahide_bench.attacks.common.signs import recover_signs
from instahide_bench.attacks.mixup_sign_recovery.alternate import start_model
from instahide_bench.attacks.mixup_sign_recovery.attack import resign
from tests.conftest import tiny_encoded


def test_synchronisation_beats_the_prior_with_the_true_grouping() -> None:
    encoded = tiny_encoded("challenge-2020", seed=5, n=16, T=25)
    challenge, key = encoded.public_view(), encoded.key
    public_weight = parse_labels(challenge.labels, 2).public_weight
    weights = public_noise_weights(public_weight)
    grouping = Assignment(key.private_index[:, :2].copy(), key.coefficients[:, :2].copy())  # given, not found
    signs = recover_signs(challenge.encryption, challenge.pixels, masked=True)
    model = start_model(signs.mixtures, grouping, 16, public_weight, weights)
    prior_accuracy = (np.sign(model.images) == np.sign(key.private)).mean()
    for _ in range(3):
        signs, model = resign(challenge, model, public_weight)
        model = start_model(signs.mixtures, grouping, 16, public_weight, weights)
    accuracy = (np.sign(model.images) == np.sign(key.private)).mean()
    assert signs.method == "model"
    assert prior_accuracy < 0.75 and accuracy > 0.88


def test_synchronise_follows_pairwise_evidence() -> None:
    # three images at one pixel, true signs (+, -, +): rows (0,1) disagree, (1,2) disagree, (0,2) agree
    assignment = Assignment(np.array([[0, 1], [1, 2], [0, 2]]), np.full((3, 2), 0.5))
    evidence = np.array([[-2.0], [-2.0], [3.0]])
    signs = synchronise(evidence, assignment, start=np.ones((3, 1)))
    assert signs[:, 0].tolist() in ([1.0, -1.0, 1.0], [-1.0, 1.0, -1.0])


def test_grid_neighbours_link_rows_columns_and_channels() -> None:
    pairs = grid_neighbours((2, 2, 2))
    assert len(pairs) == 4 + 4 + 4 and {0, 1} <= {int(i) for i in pairs.ravel()}
