"""The benchmark's metric (docs/specification.md §4): the one definition of SSIM and L2 used everywhere.

* A decryption is read in the challenge's pixel space (uint8 submissions as ``v/255`` mapped
  into it, i.e. ``v/127.5 - 1`` for [-1, 1]) and clipped to the space's valid box.
* SSIM is ``skimage.metrics.structural_similarity`` on images mapped to [0, 1] with
  ``data_range=1, channel_axis=-1`` and the library defaults (7x7 uniform window, K1 0.01,
  K2 0.03, sample covariance, mean over the valid region, averaged over channels).
* L2 is the mean squared pixel difference in the challenge's own pixel space.

:func:`ssim_reference` (skimage itself) and :func:`l2` are the definitions; :func:`compare`
computes the same numbers (to ~1e-15, see the tests) in one compiled pass per row, fast
enough for 10^5-row challenges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from instahide_bench.core import _ssim_kernels
from instahide_bench.core.pixels import PixelSpace, get_pixel_space, to_pixel_values

WINDOW = _ssim_kernels.WINDOW
K1 = 0.01
K2 = 0.03
DATA_RANGE = 1.0
UNIT_PIXELS = get_pixel_space("[0,1]")


def to_unit_images(values: np.ndarray, pixels: PixelSpace) -> np.ndarray:
    """Clip to the valid box of ``pixels`` and map to [0, 1] (float64): what SSIM compares."""
    return pixels.to_unit(pixels.clip(values))


def l2(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per image, the mean squared difference (float64) of two N x H x W x C batches."""
    difference = np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    per_image: np.ndarray = np.square(difference, out=difference).reshape(difference.shape[0], -1).mean(axis=1)
    return per_image


def ssim_reference(x_unit: np.ndarray, y_unit: np.ndarray) -> float:
    """SSIM of two H x W x C images in [0, 1], by skimage itself: the metric's definition."""
    from skimage.metrics import structural_similarity

    return float(
        structural_similarity(  # type: ignore[no-untyped-call]  # scikit-image ships no annotations for it
            np.asarray(x_unit, dtype=np.float64),
            np.asarray(y_unit, dtype=np.float64),
            data_range=DATA_RANGE,
            channel_axis=-1,
        )
    )


def _as_image_batch(images: np.ndarray, what: str) -> np.ndarray:
    if images.ndim != 4 or min(images.shape[1:3]) < WINDOW:
        raise ValueError(f"{what} must be N x H x W x C with H, W >= {WINDOW}, got shape {images.shape}")
    return images


@dataclass(frozen=True)
class References:
    """Images that many candidates are compared with (the private images), prepared once.

    Holds them channel-first in the pixel space (for L2) and in [0, 1] with their windowed
    means and variances (for SSIM): those do not depend on the candidate, so a scorer that
    compares each of E rows with two of n private images computes them n times, not 2E times.
    """

    pixels: PixelSpace
    values: np.ndarray
    planes: np.ndarray
    means: np.ndarray
    variances: np.ndarray

    @classmethod
    def prepare(cls, images: np.ndarray, pixels: PixelSpace) -> References:
        """From N x H x W x C images in the pixel space ``pixels``."""
        images = _as_image_batch(np.asarray(images), "reference images")
        values = np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float64)
        planes = np.ascontiguousarray(to_unit_images(images, pixels).transpose(0, 3, 1, 2))
        return cls(pixels, values, planes, *_ssim_kernels.reference_moments(planes))

    def __len__(self) -> int:
        return int(self.planes.shape[0])


@dataclass(frozen=True)
class Comparison:
    """``ssim[r, s]`` and ``l2[r, s]``: candidate row r against reference ``index[r, s]``."""

    ssim: np.ndarray
    l2: np.ndarray


def compare(candidates: np.ndarray, references: References, index: np.ndarray) -> Comparison:
    """SSIM and L2 of candidate rows (values of ``references.pixels``, float or uint8) against references.

    Equal to :func:`ssim_reference` on :func:`to_unit_images` and to :func:`l2` on the clipped
    values (to ~1e-15), in one pass per row and without temporaries the size of the batch.
    """
    pixels = references.pixels
    candidates = np.ascontiguousarray(to_pixel_values(_as_image_batch(np.asarray(candidates), "candidates"), pixels))
    index = np.ascontiguousarray(index, dtype=np.int64)
    if index.ndim != 2 or index.shape[0] != candidates.shape[0]:
        raise ValueError(f"index must have shape ({candidates.shape[0]}, slots), got {index.shape}")
    if candidates.shape[1:] != references.values.shape[2:] + references.values.shape[1:2]:
        raise ValueError(f"candidates of shape {candidates.shape[1:]} do not match the references")
    if index.size and (index.min() < 0 or index.max() >= len(references)):
        raise ValueError(f"index values must lie in [0, {len(references)})")
    ssim_values = np.empty(index.shape, dtype=np.float64)
    l2_values = np.empty(index.shape, dtype=np.float64)
    _ssim_kernels.compare_rows(
        candidates,
        pixels.low.astype(np.float32),
        pixels.high.astype(np.float32),
        np.asarray(pixels.scale, dtype=np.float64),
        np.asarray(pixels.offset, dtype=np.float64),
        references.values,
        references.planes,
        references.means,
        references.variances,
        index,
        (K1 * DATA_RANGE) ** 2,
        (K2 * DATA_RANGE) ** 2,
        ssim_values,
        l2_values,
    )
    return Comparison(ssim_values, l2_values)


def ssim(x_unit: np.ndarray, y_unit: np.ndarray) -> np.ndarray:
    """Per image, SSIM(x[i], y[i]) of two N x H x W x C batches in [0, 1] (the fast path)."""
    references = References.prepare(y_unit, UNIT_PIXELS)
    return compare(x_unit, references, np.arange(len(references))[:, None]).ssim[:, 0]


__all__ = [
    "DATA_RANGE",
    "K1",
    "K2",
    "WINDOW",
    "Comparison",
    "References",
    "compare",
    "l2",
    "ssim",
    "ssim_reference",
    "to_pixel_values",
    "to_unit_images",
]
