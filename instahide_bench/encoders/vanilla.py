"""The ``vanilla`` encoder: the release is the private set itself, no encoding at all.

The reference point of a membership table: a model trained on the private images as they are
is what every privacy claim is measured against (DC, a random subset and InstaHide release
less, or something else, and should leak less). Each release row is its private image (scored
against it, and named in ``key/init_index.npy`` as the image it copies, like a random subset
of every image).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from instahide_bench.core.config import param
from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.encoder import ENCODERS
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.pixels import PIXEL_SPACES
from instahide_bench.encoders.release import Release, ReleaseEncoder


@dataclass(frozen=True)
class VanillaConfig:
    """Settings of ``vanilla`` (all public: written to challenge.json)."""

    n: int = param(200, "private images, all released")
    pixels: str = param("[-1,1]", "pixel space: " + ", ".join(PIXEL_SPACES))

    def validate(self) -> None:
        if self.n < 1:
            raise ConfigError(f"need n >= 1, got {self.n}")
        if self.pixels not in PIXEL_SPACES:
            raise ConfigError(f"unknown pixels {self.pixels!r}; known: {', '.join(PIXEL_SPACES)}")


@ENCODERS.register("vanilla")
class VanillaEncoder(ReleaseEncoder):
    """Releases every private image unchanged (class by class), with its one-hot label."""

    name = "vanilla"
    version = "1.0"
    Config = VanillaConfig
    config: VanillaConfig

    def _release(self, private: ImageSet, rng: np.random.Generator) -> Release:
        order = np.argsort(private.labels, kind="stable").astype(np.int64)
        images = self.pixel_space().from_uint8(private.images[order])
        return Release(images, private.labels[order], order, order.copy())


__all__ = ["VanillaConfig", "VanillaEncoder"]
