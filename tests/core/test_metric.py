"""The metric: the fast path agrees with skimage and with the plain L2 definition, on real photographs."""

from __future__ import annotations

import numpy as np
import pytest

from instahide_bench.core import metric
from instahide_bench.core.pixels import PIXEL_SPACES, get_pixel_space
from tests.core.scoring_support import photo_crops

SPACES = sorted(PIXEL_SPACES)


def _photo_pairs(space_name: str, count: int = 24, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference photos, index pairs, and candidates that are hard cases: noisy, out of range, flat, exact."""
    pixels = get_pixel_space(space_name)
    crops, _ = photo_crops(count, seed)
    references = pixels.from_uint8(crops)
    rng = np.random.default_rng(seed)
    index = rng.integers(0, count, (count, 2))
    candidates = references[index[:, 0]] * 0.7 + rng.normal(0, 0.6, references.shape).astype(np.float32)
    candidates[0] = references[index[0, 0]]  # exact recovery
    candidates[1] = 0.0  # flat image
    candidates[2] = references[index[2, 1]] * 5.0  # far outside the valid box: clipped
    return references, index, candidates.astype(np.float32)


@pytest.mark.parametrize("space_name", SPACES)
def test_compare_agrees_with_skimage_and_plain_l2(space_name: str) -> None:
    pixels = get_pixel_space(space_name)
    references, index, candidates = _photo_pairs(space_name)
    result = metric.compare(candidates, metric.References.prepare(references, pixels), index)

    unit, reference_unit = metric.to_unit_images(candidates, pixels), metric.to_unit_images(references, pixels)
    expected_ssim = np.array(
        [[metric.ssim_reference(unit[r], reference_unit[q]) for q in row] for r, row in enumerate(index)]
    )
    clipped = pixels.clip(candidates)
    expected_l2 = np.stack([metric.l2(clipped, references[index[:, s]]) for s in range(2)], axis=1)
    np.testing.assert_allclose(result.ssim, expected_ssim, rtol=0, atol=1e-6)
    np.testing.assert_allclose(result.l2, expected_l2, rtol=0, atol=1e-6)
    assert abs(result.ssim[0, 0] - 1.0) < 1e-12 and result.l2[0, 0] == 0.0
    assert np.ptp(expected_ssim) > 0.5, "the cases should span a wide range of SSIM"


def test_ssim_of_unit_batches_matches_skimage_per_image() -> None:
    crops, _ = photo_crops(12, 5)
    x = crops / 255.0
    y = np.roll(x, 1, axis=0) * 0.5 + x * 0.5
    expected = [metric.ssim_reference(a, b) for a, b in zip(x, y)]
    np.testing.assert_allclose(metric.ssim(x, y), expected, rtol=0, atol=1e-6)


def test_ssim_is_symmetric_and_one_only_for_equal_images() -> None:
    crops, _ = photo_crops(6, 8)
    x, y = crops / 255.0, crops[::-1] / 255.0
    np.testing.assert_allclose(metric.ssim(x, y), metric.ssim(y, x), atol=1e-12)
    np.testing.assert_allclose(metric.ssim(x, x), 1.0, atol=1e-12)
    assert (metric.ssim(x, y) < 0.99).all()


def test_uint8_values_are_read_as_v_over_127_5_minus_1() -> None:
    values = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1).repeat(3, axis=3)
    mapped = metric.to_pixel_values(values, get_pixel_space("[-1,1]"))
    assert mapped.dtype == np.float32
    np.testing.assert_allclose(mapped, values / 127.5 - 1, atol=1e-7)
    assert metric.to_pixel_values(values.astype(np.float64), get_pixel_space("[-1,1]")).dtype == np.float32


def test_compare_reads_uint8_candidates_like_their_float_values() -> None:
    pixels = get_pixel_space("[-1,1]")
    crops, _ = photo_crops(8, 9)
    references = metric.References.prepare(pixels.from_uint8(crops), pixels)
    index = np.stack([np.arange(8), np.arange(8)[::-1]], axis=1)
    as_uint8 = metric.compare(crops, references, index)
    as_float = metric.compare(pixels.from_uint8(crops), references, index)
    np.testing.assert_allclose(as_uint8.ssim, as_float.ssim, atol=1e-12)
    np.testing.assert_allclose(as_uint8.ssim[:, 0], 1.0, atol=1e-12)


def test_compare_rejects_bad_indices_and_shapes() -> None:
    pixels = get_pixel_space("[-1,1]")
    crops, _ = photo_crops(4, 1)
    references = metric.References.prepare(pixels.from_uint8(crops), pixels)
    with pytest.raises(ValueError, match="index values"):
        metric.compare(pixels.from_uint8(crops), references, np.full((4, 2), 4))
    with pytest.raises(ValueError, match="index must have shape"):
        metric.compare(pixels.from_uint8(crops), references, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="H, W >= 7"):
        metric.compare(np.zeros((4, 5, 5, 3), np.float32), references, np.zeros((4, 2)))
