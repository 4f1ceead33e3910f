"""The authors' training augmentation (random crop with 4 pixels of padding, horizontal flip), on uint8.

Applied to the private images before they are mixed, as in the authors' training code (their
data loader augments each image, then the batch is mixed). Working on uint8 keeps the padding
black, as torchvision's ``RandomCrop(32, padding=4)`` pads the picture before normalisation.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.errors import ConfigError

Augmentation = Literal["crop-flip", "crop", "none"]
AUGMENTATIONS: tuple[str, ...] = ("crop-flip", "crop", "none")
PADDING = 4


def augment_images(images: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Randomly cropped (and flipped, for ``crop-flip``) copies of uint8 N x H x W x C images.

    Parameters
    ----------
    images : numpy.ndarray
        uint8 NHWC.
    kind : str
        ``crop-flip`` (CIFAR-style), ``crop`` (digits: a flip changes their meaning) or ``none``.
    rng : numpy.random.Generator
        Source of the offsets and flips, so an epoch's augmentation is reproducible.
    """
    if kind not in AUGMENTATIONS:
        raise ConfigError(f"unknown augmentation {kind!r}; known: {', '.join(AUGMENTATIONS)}")
    if kind == "none" or len(images) == 0:
        return images
    n, height, width = images.shape[:3]
    padded = np.pad(images, ((0, 0), (PADDING, PADDING), (PADDING, PADDING), (0, 0)))
    dy: np.ndarray = rng.integers(0, 2 * PADDING + 1, size=(n,))
    dx: np.ndarray = rng.integers(0, 2 * PADDING + 1, size=(n,))
    flip: np.ndarray | None = rng.random((n,)) < 0.5 if kind == "crop-flip" else None
    # One slab copy per offset (81 of them) instead of a gather per pixel: 5x faster per epoch.
    out = np.empty_like(images)
    offset = dy * (2 * PADDING + 1) + dx
    for code in np.unique(offset):
        chosen = np.flatnonzero(offset == code)
        top, left = divmod(int(code), 2 * PADDING + 1)
        out[chosen] = padded[chosen, top : top + height, left : left + width]
    if flip is not None and flip.any():
        out[flip] = out[flip][:, :, ::-1]
    return out


def augment_set(images: ImageSet, kind: str, rng: np.random.Generator) -> ImageSet:
    """:func:`augment_images` on an image set (labels, ids and class names kept)."""
    if kind == "none":
        return images
    return ImageSet(
        augment_images(images.images, kind, rng), images.labels, images.class_names, images.origin, images.ids
    )


__all__ = ["AUGMENTATIONS", "Augmentation", "augment_images", "augment_set"]
