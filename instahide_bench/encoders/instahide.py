"""The ``instahide`` encoder: the InstaHide scheme of :mod:`instahide_bench.core.instahide` as a plugin.

One parametrised encoder covers the whole family (inside- and cross-dataset, Mixup-only when
the mask is off); the named presets in :mod:`.presets` are configurations of it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from instahide_bench.core.challenge import EncodedChallenge
from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.encoder import ENCODERS, Encoder
from instahide_bench.core.instahide import (
    InstaHideConfig,
    encode,
    encode_epoch_batches,
    required_public,
    training_config,
)
from instahide_bench.core.training.batches import TrainingBatch


@ENCODERS.register("instahide")
class InstaHideEncoder(Encoder):
    """InstaHide (inside- or cross-dataset), Mixup-only when ``mask=False``."""

    name = "instahide"
    version = "1.0"
    Config = InstaHideConfig
    config: InstaHideConfig

    def required_public(self) -> int:
        return required_public(self.config)

    def encode(self, private: ImageSet, public: ImageSet | None = None, *, seed: int | None = None) -> EncodedChallenge:
        """Encrypt the ``n`` private images ``T`` times each.

        The draw order is documented in :mod:`instahide_bench.core.instahide.scheme`.
        """
        return encode(self.config, private, public, seed=seed, encoder=self.name, encoder_version=self.version)

    def training_public(self, n: int) -> int:
        return required_public(training_config(self.config, n))

    @property
    def masks_signs(self) -> bool:
        return bool(self.config.mask)

    def inference_view(self, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The image under a fresh random sign mask (per pixel and channel), as the scheme masks encodings."""
        if not self.config.mask:
            return images
        signs = rng.integers(0, 2, size=images.shape, dtype=np.int8) * 2 - 1
        return (images * signs).astype(np.float32)

    def training_epoch(
        self, private: ImageSet, public: ImageSet | None = None, *, seed: int | None = None, batch_size: int = 128
    ) -> Iterator[TrainingBatch]:
        """One epoch (T = 1) of the scheme over every private image; the config's n and T are ignored.

        The mixing is :func:`instahide_bench.core.instahide.scheme.encode_epoch_batches`, the
        same :func:`~instahide_bench.core.instahide.scheme.mix` that writes challenges.
        """
        for inputs, targets, primary in encode_epoch_batches(
            self.config, private, public, seed=seed, batch_size=batch_size
        ):
            yield TrainingBatch(inputs, targets, primary)


__all__ = ["InstaHideConfig", "InstaHideEncoder"]
