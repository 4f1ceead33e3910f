"""fixed_set_epochs: a fixed release trained on every epoch, reshuffled, augmented with black padding."""

from __future__ import annotations

import numpy as np

from instahide_bench.core.pixels import get_pixel_space
from instahide_bench.core.training import TrainConfig, TrainingBatch
from instahide_bench.core.training.epochs import fixed_set_epochs


def _rows(count: int) -> TrainingBatch:
    rng = np.random.default_rng(0)
    inputs = rng.uniform(-1, 1, (count, 32, 32, 3)).astype(np.float32)
    targets = np.eye(4, dtype=np.float32)[rng.integers(0, 4, count)]
    return TrainingBatch(inputs, targets, np.arange(count))


def test_every_row_once_per_epoch_in_a_new_order_with_its_target() -> None:
    rows = _rows(10)
    source = fixed_set_epochs(rows, get_pixel_space("[-1,1]"), TrainConfig(batch_size=4, augment="none"))
    orders = []
    for epoch in range(2):
        batches = list(source(epoch))
        assert [len(b) for b in batches] == [4, 4, 2]
        seen = np.concatenate([b.primary for b in batches])
        assert sorted(seen.tolist()) == list(range(10))
        for batch in batches:
            np.testing.assert_array_equal(batch.inputs, rows.inputs[batch.primary])
            np.testing.assert_array_equal(batch.targets, rows.targets[batch.primary])
        orders.append(seen)
    assert not np.array_equal(orders[0], orders[1])
    np.testing.assert_array_equal(np.concatenate([b.primary for b in source(1)]), orders[1])  # same epoch, same order


def test_crops_pad_with_black_in_the_pixel_space() -> None:
    space = get_pixel_space("cifar10-normalised")
    rows = _rows(64)
    source = fixed_set_epochs(rows, space, TrainConfig(batch_size=64, augment="crop"))
    [batch] = list(source(0))
    black = space.from_unit(np.zeros((1, 1, 1, 3)))[0, 0, 0]
    shifted = [i for i, row in enumerate(batch.primary) if not np.allclose(batch.inputs[i], rows.inputs[row])]
    assert len(shifted) > 32
    edges = np.concatenate([batch.inputs[shifted, 0, :, :], batch.inputs[shifted, -1, :, :]]).reshape(-1, 3)
    assert np.any(np.all(np.isclose(edges, black, atol=1e-5), axis=1))
