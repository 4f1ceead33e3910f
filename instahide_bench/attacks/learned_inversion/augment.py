"""Colour variants of the auxiliary images, so that a network trained on a few photographs sees many colours.

The embedded default is cut from eight colour photographs (a strong red cast on average) and
its public patches are greyscale; a challenge's images and public patches (CIFAR-10, ImageNet)
are neither. A network trained on that simulation learns the wrong colour prior: colour in
``|e|`` then reads as "private" and red as "likely". Recolouring breaks that prior at no cost
in data: each auxiliary private image comes in ``variants`` copies with shuffled channels and
random channel gains, and every public patch gets random channel gains (a grey patch so
becomes a tinted one). The targets are the recoloured images, so the network learns to undo
InstaHide rather than to paint a palette.

Measured on CIFAR-10 challenges it did not help (Max_SSIM 0.273 -> 0.256 at T = 1; see
docs/attacks/learned-inversion.md), so the attack's ``aux_recolour`` is off by default.
"""

from __future__ import annotations

import numpy as np

from instahide_bench.core.data import ImageSet

#: Standard deviation of the log channel gains (exp(N(0, s)) per channel).
PRIVATE_GAIN_SD = 0.15
PUBLIC_GAIN_SD = 0.25


def _gains(rng: np.random.Generator, count: int, sd: float) -> np.ndarray:
    return np.exp(rng.normal(0.0, sd, size=(count, 1, 1, 3)))


def _to_uint8(images: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(images), 0, 255).astype(np.uint8)


def recolour_private(images: ImageSet, variants: int, rng: np.random.Generator) -> ImageSet:
    """The images followed by ``variants - 1`` recoloured copies of each (channel order, then gains).

    Copies keep their image's label (the photograph) and get ids past the originals', so each
    copy is a distinct image of the simulation.
    """
    if variants <= 1:
        return images
    count = len(images)
    copies = [images.images]
    for _ in range(variants - 1):
        order = np.stack([rng.permutation(3) for _ in range(count)])
        shuffled = np.take_along_axis(images.images, order[:, None, None, :], axis=3)
        copies.append(_to_uint8(shuffled * _gains(rng, count, PRIVATE_GAIN_SD)))
    ids = np.arange(count * variants, dtype=np.int64)
    return ImageSet(
        np.concatenate(copies),
        np.tile(images.labels, variants),
        images.class_names,
        f"{images.origin} (x{variants} colour variants)",
        ids,
    )


def tint_public(patches: ImageSet, rng: np.random.Generator) -> ImageSet:
    """Every patch scaled by random channel gains (greyscale patches become tinted ones)."""
    tinted = _to_uint8(patches.images * _gains(rng, len(patches), PUBLIC_GAIN_SD))
    return ImageSet(tinted, patches.labels, patches.class_names, f"{patches.origin} (tinted)", patches.ids)
