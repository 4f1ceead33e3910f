"""The metric's SSIM written in torch, differentiable, for attacks that train against it.

Same definition as :mod:`.metric` (7x7 uniform window, K1/K2/data range from there, sample
covariance, mean over the valid region and the channels); the tests check that it agrees with
:func:`.metric.ssim` to float precision. Scoring never uses it: it exists so that a learned
step (carlini-graph's correction, say) optimises exactly what the benchmark measures.
"""

from __future__ import annotations

import torch

from instahide_bench.core.metric import DATA_RANGE, K1, K2, WINDOW


def ssim_torch(x_unit: torch.Tensor, y_unit: torch.Tensor) -> torch.Tensor:
    """Per image, SSIM of two N x C x H x W batches in [0, 1] (a tensor of N, differentiable)."""
    if x_unit.shape != y_unit.shape or x_unit.dim() != 4:
        raise ValueError(
            f"ssim_torch needs two N x C x H x W batches of one shape, got {tuple(x_unit.shape)} "
            f"and {tuple(y_unit.shape)}"
        )
    channels = x_unit.shape[1]
    kernel = torch.full((channels, 1, WINDOW, WINDOW), 1.0 / WINDOW**2, dtype=x_unit.dtype, device=x_unit.device)

    def mean(values: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.conv2d(values, kernel, groups=channels)

    sample = WINDOW**2 / (WINDOW**2 - 1)  # skimage's unbiased (sample) covariance
    mean_x, mean_y = mean(x_unit), mean(y_unit)
    var_x = sample * (mean(x_unit * x_unit) - mean_x**2)
    var_y = sample * (mean(y_unit * y_unit) - mean_y**2)
    cov = sample * (mean(x_unit * y_unit) - mean_x * mean_y)
    c1, c2 = (K1 * DATA_RANGE) ** 2, (K2 * DATA_RANGE) ** 2
    value = ((2 * mean_x * mean_y + c1) * (2 * cov + c2)) / ((mean_x**2 + mean_y**2 + c1) * (var_x + var_y + c2))
    return value.mean(dim=(1, 2, 3))


__all__ = ["ssim_torch"]
