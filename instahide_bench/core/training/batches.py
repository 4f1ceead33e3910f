"""What training consumes: batches of inputs with soft targets, and the clean (unencoded) epoch.

An encoder that supports training (:meth:`instahide_bench.core.encoder.Encoder.training_epoch`)
yields :class:`TrainingBatch` objects; :func:`clean_epoch` yields the same for the no-encoding
baseline, so the training loop never knows which one it is fed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.pixels import PixelSpace


@dataclass(frozen=True)
class TrainingBatch:
    """Rows of one epoch, ready for a model.

    Attributes
    ----------
    inputs : numpy.ndarray
        float32 N x 32 x 32 x 3 (NHWC), in the encoder's pixel space.
    targets : numpy.ndarray
        float32 N x C soft labels (rows need not sum to 1: cross-dataset targets keep only
        the private slots' weights).
    primary : numpy.ndarray
        int64 N: the position in the private set of each row's first-slot image (the image
        the row encrypts), so that predictions on encodings can be attributed to an image.
    """

    inputs: np.ndarray
    targets: np.ndarray
    primary: np.ndarray

    def __len__(self) -> int:
        return int(self.inputs.shape[0])


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """float32 one-hot rows."""
    out = np.zeros((len(labels), num_classes), dtype=np.float32)
    out[np.arange(len(labels)), labels] = 1.0
    return out


def clean_epoch(
    images: ImageSet, pixels: PixelSpace, *, batch_size: int, rng: np.random.Generator
) -> Iterator[TrainingBatch]:
    """One epoch of unencoded images with one-hot targets, in an order drawn from ``rng``.

    The baseline's input: the same pixel space and batch size as the encoded run, no mixing.
    """
    order = rng.permutation(len(images))
    num_classes = len(images.class_names)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        yield TrainingBatch(pixels.from_uint8(images.images[rows]), one_hot(images.labels[rows], num_classes), rows)


__all__ = ["TrainingBatch", "clean_epoch", "one_hot"]
