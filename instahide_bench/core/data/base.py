"""The in-memory image set every data source produces.

All sources deliver 8-bit RGB images of 32x32 pixels (NHWC, uint8) with integer class labels;
the encoder maps them to its pixel space. Keeping sources in uint8 makes them exact,
compact and independent of any pixel-space choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from instahide_bench.core.errors import ConfigError
from instahide_bench.core.images import IMAGE_SHAPE


@dataclass(frozen=True)
class ImageSet:
    """N images (uint8, N x 32 x 32 x 3) with labels (int64, N) and class names.

    ``origin`` describes where the images came from (source kind and options, no secrets);
    ``ids`` identifies each image inside its source (e.g. row index in a CIFAR batch file or
    crop index), so that a challenge's key can say exactly which images were used.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    origin: str
    ids: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        images = np.asarray(self.images)
        labels = np.asarray(self.labels)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != IMAGE_SHAPE:
            raise ValueError(f"ImageSet images must be uint8 Nx32x32x3, got {images.dtype} {images.shape}")
        if labels.shape != (images.shape[0],):
            raise ValueError(f"ImageSet labels must have shape ({images.shape[0]},), got {labels.shape}")
        labels = labels.astype(np.int64, copy=False)
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.class_names)):
            raise ValueError(f"ImageSet labels must lie in [0, {len(self.class_names)})")
        ids = np.arange(images.shape[0], dtype=np.int64) if self.ids is None else np.asarray(self.ids, dtype=np.int64)
        if ids.shape != (images.shape[0],):
            raise ValueError(f"ImageSet ids must have shape ({images.shape[0]},), got {ids.shape}")
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "class_names", tuple(self.class_names))
        object.__setattr__(self, "ids", ids)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, indices: np.ndarray) -> ImageSet:
        """The images at ``indices`` (in that order), keeping class names and ids."""
        indices = np.asarray(indices, dtype=np.int64)
        return ImageSet(self.images[indices], self.labels[indices], self.class_names, self.origin, self.ids[indices])

    def choose(self, count: int, seed: int) -> ImageSet:
        """``count`` distinct images picked deterministically from ``seed`` (all of them, shuffled, if equal)."""
        if count > len(self):
            raise ConfigError(f"asked for {count} images but the source {self.origin} holds only {len(self)}")
        rng = np.random.default_rng(seed)
        return self.subset(np.sort(rng.choice(len(self), size=count, replace=False)))
