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


def parse_classes(text: str) -> tuple[int, ...]:
    """A source's ``classes=`` option: ``0-4``, ``5,7,9`` or ``0-2,8`` -> sorted class numbers.

    Raises
    ------
    ConfigError
        When an item is not a number or an increasing range of numbers.
    """
    chosen: set[int] = set()
    for item in filter(None, (part.strip() for part in text.split(","))):
        low, dash, high = item.partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            raise ConfigError(f"classes={text!r}: {item!r} is not a class number or a range like 0-4") from None
        if first < 0 or last < first or last >= 1_000_000:
            raise ConfigError(f"classes={text!r}: {item!r} is not an increasing range of class numbers")
        chosen.update(range(first, last + 1))
    if not chosen:
        raise ConfigError("classes= names no class; give e.g. classes=0-4")
    return tuple(sorted(chosen))


def source_query(split: str, classes: tuple[int, ...] | None) -> str:
    """The ``?split=...&classes=...`` part of a canonical source spec (empty for the whole training split)."""
    options = [f"split={split}"] if split != "train" else []
    if classes is not None:
        options.append("classes=" + ",".join(map(str, classes)))
    return "?" + "&".join(options) if options else ""


@dataclass(frozen=True)
class ImageSet:
    """N images (uint8, N x 32 x 32 x 3) with labels (int64, N) and class names.

    ``ids`` identifies each image inside its source (e.g. row index in a CIFAR batch file or
    crop index), so that a challenge's key can say exactly which images were used. Arrays are
    checked and normalised on construction (labels to int64, ids to int64, names to a tuple).

    Parameters
    ----------
    images : numpy.ndarray
        uint8, N x 32 x 32 x 3 (NHWC).
    labels : numpy.ndarray
        Integer class indices, N, each in ``[0, len(class_names))``.
    class_names : sequence of str
        The name of each class.
    origin : str
        Where the images came from (source kind and options, no secrets).
    ids : numpy.ndarray, optional
        N integer ids inside the source; ``0..N-1`` when omitted.

    Raises
    ------
    ValueError
        When a shape, dtype or label range is wrong.

    Examples
    --------
    >>> import numpy as np
    >>> images = np.zeros((4, 32, 32, 3), dtype=np.uint8)
    >>> pair = ImageSet(images, np.array([0, 1, 1, 0]), ("cat", "dog"), "example").subset(np.array([2, 0]))
    >>> len(pair), pair.labels.tolist(), pair.ids.tolist()
    (2, [1, 0], [2, 0])
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    origin: str
    # None stands for 0..N-1 and is replaced in __post_init__, so the attribute is always an array.
    ids: np.ndarray = field(default=None)  # type: ignore[arg-type]

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
        """The images at ``indices`` (in that order), keeping class names and ids.

        Parameters
        ----------
        indices : numpy.ndarray
            Integer positions (repeats allowed).

        Returns
        -------
        ImageSet
        """
        indices = np.asarray(indices, dtype=np.int64)
        return ImageSet(self.images[indices], self.labels[indices], self.class_names, self.origin, self.ids[indices])

    def of_classes(self, classes: tuple[int, ...] | None) -> ImageSet:
        """The images whose label is in ``classes`` (all when None); labels and class names unchanged.

        Keeping the numbering lets a model pretrained on some classes be fine-tuned on the others
        with the same classifier layer (the pretraining proxy in docs/utility.md).
        """
        if classes is None:
            return self
        return self.subset(np.flatnonzero(np.isin(self.labels, np.asarray(classes, np.int64))))

    def choose(self, count: int, seed: int) -> ImageSet:
        """``count`` distinct images picked deterministically from ``seed``, kept in source order.

        Parameters
        ----------
        count : int
            How many images; at most ``len(self)``.
        seed : int
            Seed of the choice (``numpy.random.default_rng``); the same seed picks the same images.

        Returns
        -------
        ImageSet

        Raises
        ------
        ConfigError
            When the set holds fewer than ``count`` images.
        """
        if count > len(self):
            raise ConfigError(f"asked for {count} images but the source {self.origin} holds only {len(self)}")
        rng = np.random.default_rng(seed)
        return self.subset(np.sort(rng.choice(len(self), size=count, replace=False)))
