"""Epoch sources: what the loop trains on, for an encoder and for the no-encoding baseline.

Both apply the recipe's augmentation to the private images first (the authors augment, then
mix) and draw every random choice of epoch ``e`` from ``(seed, e)``: a resumed run repeats
exactly the epochs it missed (for encoders with seeded randomness).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.pixels import PixelSpace
from instahide_bench.core.training.augment import augment_images, augment_set
from instahide_bench.core.training.batches import TrainingBatch, clean_epoch, one_hot
from instahide_bench.core.training.loop import EpochSource, TrainConfig, epoch_seed

if TYPE_CHECKING:
    from instahide_bench.core.encoder import Encoder

# Independent random streams of one epoch.
_AUGMENT, _ORDER, _ENCODER, _TEST_ENCODER, _INFERENCE_VIEW = 1, 2, 3, 4, 6


def batches_per_epoch(rows: int, batch_size: int) -> int:
    return math.ceil(rows / batch_size)


def clean_epochs(private: ImageSet, pixels: PixelSpace, config: TrainConfig) -> EpochSource:
    """The baseline: augmented clean images, one-hot targets, a fresh order every epoch."""

    def epoch(number: int) -> Iterator[TrainingBatch]:
        augmented = augment_set(
            private, config.augment, np.random.default_rng(epoch_seed(config.seed, number, _AUGMENT))
        )
        order_rng = np.random.default_rng(epoch_seed(config.seed, number, _ORDER))
        return clean_epoch(augmented, pixels, batch_size=config.batch_size, rng=order_rng)

    return epoch


def encoder_epochs(encoder: Encoder, private: ImageSet, public: ImageSet | None, config: TrainConfig) -> EpochSource:
    """Every epoch re-encodes the augmented private set with fresh keys (the encoder's ``training_epoch``)."""

    def epoch(number: int) -> Iterator[TrainingBatch]:
        augmented = augment_set(
            private, config.augment, np.random.default_rng(epoch_seed(config.seed, number, _AUGMENT))
        )
        seed = epoch_seed(config.seed, number, _ENCODER)
        return encoder.training_epoch(augmented, public, seed=seed, batch_size=config.batch_size)

    return epoch


def encoder_test_epochs(encoder: Encoder, test: ImageSet, public: ImageSet | None, config: TrainConfig) -> EpochSource:
    """The authors' inference mode: encoding ``k`` of the (unaugmented) test images, fresh keys each time."""

    def epoch(number: int) -> Iterator[TrainingBatch]:
        seed = epoch_seed(config.seed, number, _TEST_ENCODER)
        return encoder.training_epoch(test, public, seed=seed, batch_size=config.batch_size)

    return epoch


def inference_view_epochs(encoder: Encoder, images: ImageSet, pixels: PixelSpace, config: TrainConfig) -> EpochSource:
    """Each image alone as a model trained on ``encoder`` sees it (under a fresh random mask per call).

    Epoch ``k`` of the test set gives the k-th of the averaged views (``inference = "masked"``);
    of the training images, the views that recalibrate BatchNorm's statistics. One-hot targets.
    """
    num_classes = len(images.class_names)

    def epoch(number: int) -> Iterator[TrainingBatch]:
        rng = np.random.default_rng(epoch_seed(config.seed, number, _INFERENCE_VIEW))
        for start in range(0, len(images), config.batch_size):
            rows = np.arange(start, min(start + config.batch_size, len(images)))
            view = encoder.inference_view(pixels.from_uint8(images.images[rows]), rng)
            yield TrainingBatch(np.ascontiguousarray(view, np.float32), one_hot(images.labels[rows], num_classes), rows)

    return epoch


def fixed_set_epochs(rows: TrainingBatch, pixels: PixelSpace, config: TrainConfig) -> EpochSource:
    """A fixed set of float rows (a published release, e.g. encryptions with their soft labels) trained
    on every epoch: augmented and reshuffled like clean images, never re-encoded.

    The augmentation works on [0, 1] values (``pixels.to_unit``) so that the crop pads with
    black, as it does for uint8 images; the rows go back to ``pixels`` afterwards.
    """

    def epoch(number: int) -> Iterator[TrainingBatch]:
        inputs = rows.inputs
        if config.augment != "none":
            rng = np.random.default_rng(epoch_seed(config.seed, number, _AUGMENT))
            inputs = pixels.from_unit(augment_images(pixels.to_unit(inputs), config.augment, rng))
        order = np.random.default_rng(epoch_seed(config.seed, number, _ORDER)).permutation(len(rows))
        for start in range(0, len(order), config.batch_size):
            chosen = order[start : start + config.batch_size]
            yield TrainingBatch(
                np.ascontiguousarray(inputs[chosen], dtype=np.float32), rows.targets[chosen], rows.primary[chosen]
            )

    return epoch


__all__ = [
    "batches_per_epoch",
    "clean_epochs",
    "encoder_epochs",
    "encoder_test_epochs",
    "fixed_set_epochs",
    "inference_view_epochs",
]
