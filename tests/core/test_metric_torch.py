"""The differentiable SSIM agrees with the metric's own, so training against it optimises the score."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from instahide_bench.core import metric
from instahide_bench.core.metric_torch import ssim_torch
from tests.core.scoring_support import photo_crops


def _nchw(images: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(images, dtype=torch.float64).permute(0, 3, 1, 2)


def test_agrees_with_the_metric_on_photographs() -> None:
    crops, _ = photo_crops(12, 5)
    truth = crops.astype(np.float64) / 255.0
    rng = np.random.default_rng(0)
    noisy = np.clip(truth * 0.8 + rng.normal(0, 0.15, truth.shape), 0, 1)
    candidates = np.concatenate([noisy, truth[:1], np.full_like(truth[:1], 0.5), truth[::-1][:2]])
    references = np.concatenate([truth, truth[:1], truth[:1], truth[:2]])
    expected = metric.ssim(candidates, references)
    got = ssim_torch(_nchw(candidates), _nchw(references)).numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-7)  # measured 4.8e-9 (float64 summation order)
    assert got[len(noisy)] == pytest.approx(1.0)  # an exact recovery


def test_gradient_moves_towards_the_truth() -> None:
    crops, _ = photo_crops(2, 1)
    truth = _nchw(crops / 255.0)
    start = (truth * 0.5 + 0.25).clone().requires_grad_(True)
    before = float(ssim_torch(start, truth).mean().detach())
    ssim_torch(start, truth).mean().backward()
    with torch.no_grad():
        stepped = start + 0.05 * start.grad / start.grad.abs().max()
    assert float(ssim_torch(stepped, truth).mean().detach()) > before


def test_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="N x C x H x W"):
        ssim_torch(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))
