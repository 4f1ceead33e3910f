"""|e| stretched to the pixel box: the cheapest decryption there is, and a fallback for attacks."""

from __future__ import annotations

import numpy as np

from instahide_bench.core.pixels import PixelSpace


def abs_rescaled(encryption: np.ndarray, pixels: PixelSpace) -> np.ndarray:
    """|e| with each row's values stretched linearly onto the pixel space's valid box.

    |e| removes the sign mask exactly when every mixture is non-negative; elsewhere it is the
    cheapest guess there is. Stretching each row to span the box undoes the shrinking effect of
    mixing (coefficients sum to one), which is all a per-row affine map can do.

    Parameters
    ----------
    encryption : np.ndarray
        Encryptions, E x 32 x 32 x 3 in the challenge's pixel space.
    pixels : PixelSpace
        The challenge's pixel space, whose valid box the rows are stretched onto.

    Returns
    -------
    np.ndarray
        float32 array of the same shape, in ``pixels``.
    """
    magnitude = np.abs(encryption.astype(np.float32, copy=False))
    low = magnitude.min(axis=(1, 2, 3), keepdims=True)
    span = magnitude.max(axis=(1, 2, 3), keepdims=True) - low
    unit = (magnitude - low) / np.where(span > 0, span, 1.0)
    return pixels.from_unit(unit)
