"""Stage 6: the per-pixel colour correction (residual 3 -> 10 -> 3 MLP)."""

from __future__ import annotations

import numpy as np

from instahide_bench.attacks.carlini.colour import ColourCorrection, fit_colour
from instahide_bench.benchmark.challenge import EncodedChallenge
from instahide_bench.benchmark.pixels import get_pixel_space

PIXELS = get_pixel_space("[-1,1]")


def test_starts_as_the_identity(small_encoded: EncodedChallenge) -> None:
    images = small_encoded.key.private[:4]
    correction = fit_colour(images, images * 0.5, steps=0)
    np.testing.assert_array_equal(correction.output_weight, 0.0)
    np.testing.assert_allclose(correction.apply(images, PIXELS), images, atol=1e-7)


def test_learns_an_affine_colour_distortion(small_encoded: EncodedChallenge) -> None:
    truth = small_encoded.key.private[:6]
    recovered = 0.8 * truth + 0.1  # what a biased reconstruction might give: shrunk contrast, lifted level
    before = ((recovered - truth) ** 2).mean()
    correction = ColourCorrection.from_arrays(fit_colour(recovered, truth, seed=0).to_arrays())
    corrected = correction.apply(recovered, PIXELS)
    after = ((corrected - truth) ** 2).mean()
    assert corrected.shape == truth.shape
    assert after < 0.01 * before  # measured MSE 0.025 -> 1.4e-6 (no correction: ratio 1)
    # the same correction generalises to other images distorted the same way (measured 0.030 -> 1.9e-6)
    others = small_encoded.key.private[6:12]
    distorted = 0.8 * others + 0.1
    assert ((correction.apply(distorted, PIXELS) - others) ** 2).mean() < 0.01 * ((distorted - others) ** 2).mean()


def test_output_stays_in_the_pixel_box() -> None:
    correction = ColourCorrection(np.zeros((10, 3), np.float32), np.zeros(10, np.float32),
                                  np.zeros((3, 10), np.float32), np.full(3, 0.5, np.float32))
    shifted = correction.apply(np.full((1, 2, 2, 3), 0.8, np.float32), PIXELS)
    np.testing.assert_allclose(shifted, 1.0)  # 0.8 + 0.5, clipped
