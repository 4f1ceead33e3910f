"""Blind grouping: the rows sharing an image are recovered as sparse vectors of the row space."""

from __future__ import annotations

import numpy as np

from instahide_bench.attacks.mixup_sign_recovery.components import highpass, sparse_components


def sparse_mixing(rows: int, images: int, slots: int, rng: np.random.Generator) -> np.ndarray:
    """rows x images coefficients, ``slots`` distinct images a row, weights adding up to 1."""
    matrix = np.zeros((rows, images))
    for row in range(rows):
        chosen = rng.choice(images, size=slots, replace=False)
        weights = np.abs(rng.standard_normal(slots))
        matrix[row, chosen] = weights / weights.sum()
    return matrix


def test_noise_free_mixtures_give_back_the_mixing_matrix() -> None:
    rng = np.random.default_rng(3)
    mixing = sparse_mixing(400, 20, 3, rng)
    images = rng.standard_normal((20, 8, 8, 3))
    mixtures = np.tensordot(mixing, images, axes=1)
    codes = sparse_components(highpass(mixtures, 0.0), 20, mixing.sum(axis=1), support_size=90, seed=0)
    # same columns up to order: match each estimated column with the true one it correlates with best
    unit = lambda m: m / np.linalg.norm(m, axis=0)  # noqa: E731
    match = np.argmax(unit(codes).T @ unit(mixing), axis=1)
    assert sorted(match.tolist()) == list(range(20))
    np.testing.assert_allclose(codes, mixing[:, match], atol=1e-4)


def test_highpass_is_linear_and_removes_constants() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 1, 8, 8, 3))
    np.testing.assert_allclose(
        highpass(0.3 * a + 0.7 * b, 1.0), 0.3 * highpass(a, 1.0) + 0.7 * highpass(b, 1.0), atol=1e-12
    )
    np.testing.assert_allclose(highpass(np.full((1, 8, 8, 3), 0.4), 1.0), 0.0, atol=1e-12)
