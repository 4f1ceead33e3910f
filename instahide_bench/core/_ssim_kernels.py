"""Compiled kernels behind :mod:`.metric`: skimage's SSIM and the L2 distance, one image at a time.

``skimage.metrics.structural_similarity`` filters with a 7x7 uniform window in 'reflect' mode
and then drops a border of (7-1)//2 pixels before averaging, so only windows that lie fully
inside the image count. That is a 'valid' box filter, which these kernels compute directly
(float64 sums, no padding).

Why numba and not numpy/torch: a vectorised numpy version is memory-bound (each of ~40
elementwise passes streams the whole batch), and torch's CPU ``avg_pool2d`` is slow on
float64. One fused loop per image (clip, map to [0, 1], filter, SSIM, L2) touches each pixel
a few times while it is in cache, and needs no temporaries the size of a batch.

The kernels are single-threaded and release the GIL (``nogil``): callers may use threads or
fork freely, which numba's parallel backends do not all allow. ``error_model="numpy"`` keeps
divisions free of Python's zero check (which blocks SIMD); the denominators are >= C1*C2 > 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from numba import njit

if TYPE_CHECKING:
    from numba.core.dispatcher import Dispatcher

_F = TypeVar("_F", bound=Callable[..., object])

WINDOW = 7
_WINDOW_PIXELS = WINDOW * WINDOW
_COV_NORM = _WINDOW_PIXELS / (_WINDOW_PIXELS - 1)  # skimage's default: sample covariance
# Reassociation lets LLVM vectorise the sums; NaN/inf semantics are kept (no 'nnan'/'ninf').
_FASTMATH = {"reassoc", "contract", "arcp", "nsz"}


def _jit(function: _F) -> Dispatcher[_F]:
    """``njit`` with this module's options (cached, nogil, numpy error model, the fastmath flags above).

    Spelled out as keywords, not ``**options``, so that numba's stubs type the compiled kernels.
    """
    return njit(function, cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)


@_jit
def _window_means(plane: np.ndarray, columns: np.ndarray, out: np.ndarray) -> None:
    """``out[i, j]`` = mean of ``plane[i:i+7, j:j+7]`` ('valid' box filter; ``columns`` is scratch)."""
    h, w = out.shape
    width = plane.shape[1]
    for i in range(h):
        for j in range(width):
            total = 0.0
            for k in range(WINDOW):
                total += plane[i + k, j]
            columns[i, j] = total
    scale = 1.0 / _WINDOW_PIXELS
    for i in range(h):
        for j in range(w):
            total = 0.0
            for k in range(WINDOW):
                total += columns[i, j + k]
            out[i, j] = total * scale


@_jit
def _plane_moments(
    planes: np.ndarray, means: np.ndarray, variances: np.ndarray, squares: np.ndarray, columns: np.ndarray
) -> None:
    """Windowed means and sample variances of each channel plane (C x H x W)."""
    for c in range(planes.shape[0]):
        plane = planes[c]
        for i in range(plane.shape[0]):
            for j in range(plane.shape[1]):
                squares[i, j] = plane[i, j] * plane[i, j]
        _window_means(plane, columns, means[c])
        _window_means(squares, columns, variances[c])
        mean, variance = means[c], variances[c]
        for i in range(mean.shape[0]):
            for j in range(mean.shape[1]):
                variance[i, j] = _COV_NORM * (variance[i, j] - mean[i, j] * mean[i, j])


@_jit
def reference_moments(planes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Windowed means and variances of N x C x H x W images (float64, already in [0, 1])."""
    count, channels, height, width = planes.shape
    h, w = height - WINDOW + 1, width - WINDOW + 1
    means = np.empty((count, channels, h, w))
    variances = np.empty((count, channels, h, w))
    squares = np.empty((height, width))
    columns = np.empty((h, width))
    for n in range(count):
        _plane_moments(planes[n], means[n], variances[n], squares, columns)
    return means, variances


@_jit
def compare_rows(
    candidates: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    scale: np.ndarray,
    offset: np.ndarray,
    ref_values: np.ndarray,
    ref_planes: np.ndarray,
    ref_means: np.ndarray,
    ref_variances: np.ndarray,
    index: np.ndarray,
    c1: float,
    c2: float,
    ssim_out: np.ndarray,
    l2_out: np.ndarray,
) -> None:
    """SSIM and L2 of each candidate row against the references ``index[r, s]``.

    ``candidates`` are float32 N x H x W x C values of a pixel space; each is clipped to
    [low, high] in float32 and mapped to [0, 1] as ``float64(v) * scale + offset``, exactly
    what ``PixelSpace.clip`` and ``PixelSpace.to_unit`` do. SSIM compares the [0, 1] images
    with the reference planes; L2 compares the clipped values with ``ref_values`` (the
    references in the pixel space). The candidate's own windowed moments are computed once
    per row and shared by all the references it is compared with.
    """
    rows, height, width, channels = candidates.shape
    h, w = height - WINDOW + 1, width - WINDOW + 1
    values = np.empty((channels, height, width))
    planes = np.empty((channels, height, width))
    means = np.empty((channels, h, w))
    variances = np.empty((channels, h, w))
    squares = np.empty((height, width))
    columns = np.empty((h, width))
    products = np.empty((height, width))
    cross = np.empty((h, w))
    ssim_norm = 1.0 / (channels * h * w)
    l2_norm = 1.0 / (channels * height * width)
    for r in range(rows):
        for i in range(height):
            for j in range(width):
                for c in range(channels):
                    v = min(max(candidates[r, i, j, c], low[c]), high[c])
                    value = np.float64(v)
                    values[c, i, j] = value
                    planes[c, i, j] = value * scale[c] + offset[c]
        _plane_moments(planes, means, variances, squares, columns)
        for s in range(index.shape[1]):
            q = index[r, s]
            ssim_total = 0.0
            l2_total = 0.0
            for c in range(channels):
                x, y, xv, yv = planes[c], ref_planes[q, c], values[c], ref_values[q, c]
                for i in range(height):
                    for j in range(width):
                        products[i, j] = x[i, j] * y[i, j]
                        difference = xv[i, j] - yv[i, j]
                        l2_total += difference * difference
                _window_means(products, columns, cross)
                ux, vx, uy, vy = means[c], variances[c], ref_means[q, c], ref_variances[q, c]
                for i in range(h):
                    for j in range(w):
                        mx, my = ux[i, j], uy[i, j]
                        vxy = _COV_NORM * (cross[i, j] - mx * my)
                        numerator = (2.0 * mx * my + c1) * (2.0 * vxy + c2)
                        denominator = (mx * mx + my * my + c1) * (vx[i, j] + vy[i, j] + c2)
                        ssim_total += numerator / denominator
            ssim_out[r, s] = ssim_total * ssim_norm
            l2_out[r, s] = l2_total * l2_norm
