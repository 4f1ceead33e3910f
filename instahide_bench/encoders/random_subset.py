"""The ``random-subset`` encoder: m real private images per class, released as they are.

The naive baseline of Carlini, Feldman and Nasr ("No Free Lunch in 'Privacy for Free'"): any
privacy claim for a condensed set must beat releasing the same number of real images. Each
release row is scored against the image it copies (so the ``identity`` attack scores
Max_SSIM 1), and ``key/init_index.npy`` names that image too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from instahide_bench.core.config import param
from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.encoder import ENCODERS
from instahide_bench.core.pixels import PIXEL_SPACES
from instahide_bench.encoders.release import (
    Release,
    ReleaseEncoder,
    check_release_settings,
    class_members,
    pick_per_class,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RandomSubsetConfig:
    """Settings of ``random-subset`` (all public: written to challenge.json)."""

    n: int = param(200, "private images the subset is drawn from")
    images_per_class: int = param(10, "m: real images released per class")
    pixels: str = param("[-1,1]", "pixel space: " + ", ".join(PIXEL_SPACES))

    def validate(self) -> None:
        check_release_settings(self.n, self.images_per_class, self.pixels)


@ENCODERS.register("random-subset")
class RandomSubsetEncoder(ReleaseEncoder):
    """Releases ``images_per_class`` private images of every class, picked uniformly without replacement."""

    name = "random-subset"
    version = "1.0"
    Config = RandomSubsetConfig
    config: RandomSubsetConfig

    def _release(self, private: ImageSet, rng: np.random.Generator) -> Release:
        m = self.config.images_per_class
        members = class_members(private.labels, len(private.class_names), m, private.class_names)
        chosen = pick_per_class(members, m, rng)
        images = self.pixel_space().from_uint8(private.images[chosen])
        logger.info("random subset: %d images (%d per class) of %d", len(chosen), m, len(private))
        return Release(images, private.labels[chosen], chosen, chosen.copy())


__all__ = ["RandomSubsetConfig", "RandomSubsetEncoder"]
