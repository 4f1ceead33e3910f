"""Training on simulated rows: images held out whole, a few steps lower the loss, the cache round trip."""

from __future__ import annotations

import numpy as np
import torch

from instahide_bench.attacks.common.simulate import simulate_from_sources
from instahide_bench.attacks.learned_inversion.features import dominant_images, row_inputs
from instahide_bench.attacks.learned_inversion.training import (
    TrainedInversion,
    TrainSettings,
    heldout_split,
    predict,
    train_inversion,
)
from instahide_bench.core.challenge import EncodedChallenge


def test_heldout_rows_are_whole_images() -> None:
    image_of_row = np.repeat(np.arange(20), 3)
    held = heldout_split(image_of_row, 0.2, seed=0)
    assert held.sum() == 12  # 4 images x 3 rows
    assert not set(image_of_row[held]) & set(image_of_row[~held])
    assert not heldout_split(image_of_row, 0.0, seed=0).any()


def test_training_runs_round_trips_and_predicts(tiny_set: EncodedChallenge) -> None:
    params = tiny_set.public_view().meta.params
    simulation = simulate_from_sources(params, "embedded", "embedded", 10, 3, seed=1)
    inputs = row_inputs(simulation.encryption, simulation.labels, 2, with_classes=False)
    dominant = dominant_images(simulation.private_index, simulation.coefficients)
    targets = np.clip((simulation.private[dominant] + 1) / 2, 0, 1).transpose(0, 3, 1, 2)
    before = torch.random.get_rng_state()
    settings = TrainSettings(width=4, steps=10, batch=8, heldout=0.2)
    trained = train_inversion(inputs, targets, dominant, settings, seed=0)
    assert torch.equal(before, torch.random.get_rng_state())
    assert 0 < trained.heldout_ssim < 1 and trained.seconds > 0
    again = TrainedInversion.from_arrays(trained.to_arrays())
    assert (again.side_size, again.width, again.scale) == (trained.side_size, trained.width, trained.scale)
    challenge = row_inputs(tiny_set.encryption, tiny_set.labels, 2, with_classes=False)
    first, second = predict(trained, challenge), predict(again, challenge)
    np.testing.assert_array_equal(first, second)
    assert first.shape == (len(tiny_set.encryption), 3, 32, 32) and first.min() >= 0 and first.max() <= 1
    same = train_inversion(inputs, targets, dominant, settings, seed=0)
    assert all(np.array_equal(same.state[name], trained.state[name]) for name in trained.state)  # seeded
