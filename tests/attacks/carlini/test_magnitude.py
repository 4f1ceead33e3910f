"""Stage 1: |e| is the size of the unmasked mixture; the Laplacian high-pass and row normalisation."""

from __future__ import annotations

import numpy as np
import torch

from instahide_bench.attacks.carlini.magnitude import laplacian_highpass, magnitude, normalise_rows
from instahide_bench.core.challenge import EncodedChallenge
from tests.attacks.carlini.conftest import mixtures_from_key


def test_magnitude_is_the_size_of_the_mixture_the_key_describes(small_encoded: EncodedChallenge) -> None:
    encryption = small_encoded.encryption
    mixtures = mixtures_from_key(small_encoded.key)
    flipped = np.sign(encryption) != np.sign(mixtures)
    assert 0.4 < flipped.mean() < 0.6  # the mask hid about half the signs: e itself is not |mixture|
    result = magnitude(encryption)
    assert result.dtype == np.float32 and result.shape == encryption.shape
    np.testing.assert_allclose(result, np.abs(mixtures), atol=1e-6)  # measured max error 1.7e-7 (float32)


def test_highpass_removes_constants_and_keeps_edges() -> None:
    np.testing.assert_allclose(laplacian_highpass(np.full((2, 32, 32, 3), 0.37, np.float32)), 0.0, atol=1e-7)
    impulse = np.zeros((1, 8, 8, 3))
    impulse[0, 3, 4, 1] = 1.0
    expected = np.zeros_like(impulse)
    expected[0, 3, 4, 1] = 1.0
    for row, col in ((2, 4), (4, 4), (3, 3), (3, 5)):
        expected[0, row, col, 1] = -0.25  # each 4-neighbour loses a quarter; other channels untouched
    np.testing.assert_allclose(laplacian_highpass(impulse), expected, atol=1e-12)


def test_highpass_agrees_on_numpy_and_torch() -> None:
    images = np.random.default_rng(0).standard_normal((3, 32, 32, 3)).astype(np.float32)
    from_torch = laplacian_highpass(torch.as_tensor(images))
    assert isinstance(from_torch, torch.Tensor)
    np.testing.assert_allclose(from_torch.numpy(), laplacian_highpass(images), atol=1e-6)


def test_normalised_rows_are_centred_unit_vectors() -> None:
    features = np.random.default_rng(1).uniform(0, 5, (4, 2, 3))
    features[2] = 1.5  # a constant row has no direction: it stays zero, not NaN
    rows = normalise_rows(features)
    assert rows.shape == (4, 6) and rows.dtype == np.float32
    np.testing.assert_allclose(rows.mean(axis=1), 0.0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), [1, 1, 0, 1], atol=1e-6)


def test_zca_kernel_whitens_correlated_smooth_noise() -> None:
    from instahide_bench.attacks.carlini.magnitude import whiten, zca_kernel

    rng = np.random.default_rng(2)
    white = rng.standard_normal((64, 32, 32, 1)).astype(np.float32)
    smooth = white + np.roll(white, 1, axis=1) + np.roll(white, 1, axis=2)  # spatially correlated
    images = np.concatenate(
        [smooth, 0.8 * smooth + 0.2 * rng.standard_normal(smooth.shape)], axis=3
    )  # and across channels
    images = np.concatenate([images, rng.standard_normal(smooth.shape)], axis=3).astype(np.float32)
    kernel = zca_kernel(images, size=5, samples=50_000)
    assert kernel.shape == (3, 3, 5, 5)

    def neighbour_and_channel_correlation(values: np.ndarray) -> tuple[float, float]:
        inner = values[:, 2:-2, 2:-2]
        spatial = np.corrcoef(inner[:, :, :-1, 0].ravel(), inner[:, :, 1:, 0].ravel())[0, 1]
        across = np.corrcoef(inner[..., 0].ravel(), inner[..., 1].ravel())[0, 1]
        return abs(spatial), abs(across)

    before = neighbour_and_channel_correlation(images)
    after = neighbour_and_channel_correlation(whiten(torch.as_tensor(images), kernel).numpy())
    assert before[0] > 0.25 and before[1] > 0.9  # 1/3 by construction (measured 0.34), and 0.97
    assert after[0] < 0.1 and after[1] < 0.4  # measured 0.008 and 0.21; a Laplacian would keep the channel one at 0.97
