"""Fusion: rows that show the same image are averaged, rows of other groups never mixed in."""

from __future__ import annotations

import numpy as np

from instahide_bench.attacks.learned_inversion.fusion import fuse_neighbours


def _noisy_copies(images: int, copies: int, noise: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0, 1, (images, 3, 32, 32)).astype(np.float32)
    image_of_row = np.repeat(np.arange(images), copies)
    rows = truth[image_of_row] + rng.normal(0, noise, (images * copies, 3, 32, 32)).astype(np.float32)
    return truth, image_of_row, rows


def test_copies_of_one_image_are_averaged_towards_it() -> None:
    truth, image_of_row, rows = _noisy_copies(images=6, copies=5, noise=0.3)
    group = np.zeros(len(rows), np.int64)
    fused, confidence = fuse_neighbours(rows, group, np.ones(len(rows)), neighbours=4, temperature=0.5)
    before = np.mean((rows - truth[image_of_row]) ** 2)
    after = np.mean((fused - truth[image_of_row]) ** 2)
    assert after < 0.4 * before  # five copies: the noise variance drops by about 5x
    assert confidence.shape == (len(rows),) and (confidence > 0).all()
    twice, _ = fuse_neighbours(rows, group, np.ones(len(rows)), neighbours=4, temperature=0.5, rounds=2)
    assert np.mean((twice - truth[image_of_row]) ** 2) < 0.4 * before  # a second round averages raw rows again


def test_no_neighbours_or_singleton_groups_leave_the_predictions_alone() -> None:
    _, _, rows = _noisy_copies(images=3, copies=2, noise=0.1)
    same, _ = fuse_neighbours(rows, np.zeros(len(rows), np.int64), np.ones(len(rows)), neighbours=0)
    np.testing.assert_array_equal(same, rows)
    alone, _ = fuse_neighbours(rows, np.arange(len(rows)), np.ones(len(rows)), neighbours=3)
    np.testing.assert_array_equal(alone, rows)


def test_groups_are_never_mixed() -> None:
    _, _, rows = _noisy_copies(images=2, copies=4, noise=0.05)
    group = np.repeat([0, 1], 4)
    fused, _ = fuse_neighbours(rows, group, np.ones(len(rows)), neighbours=7, temperature=10.0)
    # with a wide kernel each row becomes (nearly) its own group's mean, and never moves to the other's
    means = np.stack([rows[group == value].mean(axis=0) for value in (0, 1)])
    distance = ((fused[:, None] - means[None]) ** 2).mean(axis=(2, 3, 4))
    np.testing.assert_array_equal(distance.argmin(axis=1), group)
    assert (distance[np.arange(len(rows)), group] < 1e-4).all()
