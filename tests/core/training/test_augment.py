"""The authors' augmentation on uint8: shifted crops with black padding, optional mirror, reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from instahide_bench.core.errors import ConfigError
from instahide_bench.core.training.augment import PADDING, augment_images


def _ramp(n: int = 64) -> np.ndarray:
    image = np.tile(np.arange(32, dtype=np.uint8)[None, :, None] * 8, (32, 1, 3)) + 1
    return np.repeat(image[None], n, axis=0)


def test_crops_are_shifts_of_the_image_with_black_padding() -> None:
    images = _ramp()
    out = augment_images(images, "crop", np.random.default_rng(0))
    assert out.shape == images.shape and out.dtype == np.uint8
    for row in out:
        inside = row[row > 0]
        assert inside.size  # never all padding
        # every kept pixel is a pixel of the ramp (shifted by at most PADDING columns)
        assert set(np.unique(inside)) <= set(np.unique(images))
    shifted = [not np.array_equal(row, images[0]) for row in out]
    assert any(shifted) and (out == 0).any()
    assert ((out == 0).sum(axis=(1, 2, 3)) <= 3 * 32 * 32 - 3 * (32 - PADDING) ** 2).all()


def test_flip_mirrors_some_rows_and_is_reproducible() -> None:
    images = _ramp()
    out = augment_images(images, "crop-flip", np.random.default_rng(1))
    decreasing = [np.all(np.diff(row[16, 4:28, 0].astype(int)) <= 0) for row in out]
    assert any(decreasing) and not all(decreasing)
    assert np.array_equal(out, augment_images(images, "crop-flip", np.random.default_rng(1)))


def test_none_is_identity_and_unknown_is_refused() -> None:
    images = _ramp(2)
    assert augment_images(images, "none", np.random.default_rng(0)) is images
    with pytest.raises(ConfigError, match="crop-flip"):
        augment_images(images, "rotate", np.random.default_rng(0))


def test_each_row_is_its_own_padded_crop() -> None:
    """Against the definition, pixel by pixel: row i is padded[i, dy:dy+32, dx:dx+32], mirrored when drawn so."""
    images = np.random.default_rng(3).integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    out = augment_images(images, "crop-flip", np.random.default_rng(4))
    rng = np.random.default_rng(4)  # the same draws, in the documented order: offsets, then flips
    dy, dx = rng.integers(0, 2 * PADDING + 1, 40), rng.integers(0, 2 * PADDING + 1, 40)
    flip = rng.random(40) < 0.5
    padded = np.pad(images, ((0, 0), (PADDING, PADDING), (PADDING, PADDING), (0, 0)))
    for i in range(40):
        crop = padded[i, dy[i] : dy[i] + 32, dx[i] : dx[i] + 32]
        np.testing.assert_array_equal(out[i], crop[:, ::-1] if flip[i] else crop)
