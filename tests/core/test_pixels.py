"""Pixel spaces: the 8-bit lookup path gives exactly the values of the float64 formula."""

from __future__ import annotations

import numpy as np
import pytest

from instahide_bench.core.pixels import PIXEL_SPACES, get_pixel_space


@pytest.mark.parametrize("name", sorted(PIXEL_SPACES))
def test_uint8_images_map_to_the_same_float32_values_as_the_formula(name: str) -> None:
    space = get_pixel_space(name)
    images = np.random.default_rng(0).integers(0, 256, size=(5, 32, 32, 3), dtype=np.uint8)
    images[0].reshape(-1)[:768] = np.tile(np.arange(256), 3)  # every value in every channel
    formula = space.from_unit(images.astype(np.float64) / 255.0)
    looked_up = space.from_uint8(images)
    assert looked_up.dtype == np.float32 and looked_up.shape == images.shape
    assert np.array_equal(looked_up, formula)
    assert np.array_equal(space.from_uint8(images.astype(np.float64)), formula)  # the non-uint8 path
