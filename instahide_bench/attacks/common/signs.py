"""Step (a): undo the sign mask, i.e. recover the sign of every mixture pixel.

The mask multiplies each pixel and channel by an independent +-1, so ``|e| = |mixture|`` and
only the signs are lost. Three cases:

* no mask (Mixup): nothing to do;
* a non-negative pixel range ([0, 1]): every mixture is non-negative, ``|e|`` is exact;
* a signed range ([-1, 1], normalised spaces): the sign must be estimated.

For the signed case the per-pixel MAP sign is, measurably, the sign of the natural-image mean
in that pixel space (see ``docs/attacks/mixup-sign-recovery.md``): the mixture distribution at a
pixel is a blend of natural images whose mean sits below mid-grey, and smoothness priors cannot
do better because ``|m|`` is always at least as smooth as ``m`` (reverse triangle inequality),
so they only ever vote for "one sign everywhere". Once rows are grouped, :mod:`.sign_sync`
does far better by synchronising the images' signs across rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from instahide_bench.core.pixels import PixelSpace

#: Mean colour of natural photographs in [0, 1]: the average of the CIFAR-10 and ImageNet
#: channel means (docs/specification.md §1), used as the prior mean of a mixture of natural images.
NATURAL_IMAGE_MEAN = (0.488, 0.469, 0.426)

SignMethod = Literal["none", "exact", "prior", "model"]


@dataclass(frozen=True)
class SignRecovery:
    """Sign-corrected mixtures (E x 32 x 32 x 3, float32) and how their signs were obtained."""

    mixtures: np.ndarray
    method: SignMethod

    @property
    def exact(self) -> bool:
        """True when the mixtures equal the true ones (no mask, or a non-negative range)."""
        return self.method in ("none", "exact")


def prior_signs(pixels: PixelSpace) -> np.ndarray:
    """Per-channel sign (shape (3,), float32) of a natural image's mean value in ``pixels``."""
    mean = pixels.from_unit(np.asarray(NATURAL_IMAGE_MEAN, dtype=np.float64)[None, :])[0]
    return np.where(mean < 0, -1.0, 1.0).astype(np.float32)


def recover_signs(encryption: np.ndarray, pixels: PixelSpace, masked: bool) -> SignRecovery:
    """Mixtures from encryptions: as they are, exactly by ``|e|``, or with prior signs."""
    encryption = np.asarray(encryption, dtype=np.float32)
    if not masked:
        return SignRecovery(encryption, "none")
    magnitude = np.abs(encryption)
    if not pixels.signed:
        return SignRecovery(magnitude, "exact")
    return SignRecovery(magnitude * prior_signs(pixels), "prior")


def sign_accuracy(estimated: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(fraction of pixels whose sign is right, the same weighted by ``|truth|``).

    The weighted figure is what matters to least squares: a wrong sign costs ``2|m|``.
    Pixels where the truth is exactly 0 count as right whatever the estimate.
    """
    estimated, truth = np.asarray(estimated), np.asarray(truth)
    right = (np.sign(estimated) == np.sign(truth)) | (truth == 0)
    weight = np.abs(truth)
    total = float(weight.sum())
    return float(right.mean()), float((weight * right).sum() / total) if total > 0 else 1.0


__all__ = ["NATURAL_IMAGE_MEAN", "SignRecovery", "prior_signs", "recover_signs", "sign_accuracy"]
