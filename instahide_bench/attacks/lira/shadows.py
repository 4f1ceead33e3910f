"""LiRA's shadow models: the whole release pipeline, run by the attacker on data it chose.

A shadow is what the defender did, with the attacker's data: ``n`` "private" images (the
challenge's public ``n``) drawn from a pool, released by the challenge's own encoder with the
challenge's public parameters (challenge.json's ``encoder`` and ``params``, looked up in the
encoder registry: vanilla, a random subset, dataset condensation, InstaHide alike), and a model
trained on that release with the same recipe as the target model. The attacker knows exactly
which pool images each shadow's release was made from, so it can observe how a model treats an
image it was (IN) or was not (OUT) made from.

Pools: online, the candidates plus auxiliary labelled images (enough for ``2 n`` in all); offline,
auxiliary images only (the candidates are never inside a shadow). Shadows come in pairs drawn
from one shuffle of the pool, class by class: the first takes the front of each class, the
second the back, so with a pool of ``2 n`` they are complements and every pool image is IN for
exactly half of the shadows. Each pair's draw depends only on the seed and the pair's number:
asking for more shadows later keeps (and, with ``--resume``, reuses) the earlier ones.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from instahide_bench.attacks.common.release_model import labelled_images
from instahide_bench.core.config import apply_overrides, field_types
from instahide_bench.core.data import ImageSet, parse_source
from instahide_bench.core.encoder import ENCODERS, Encoder
from instahide_bench.core.errors import ConfigError, InstaHideBenchError
from instahide_bench.core.pixels import PixelSpace
from instahide_bench.core.training import TrainingBatch

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShadowPool:
    """The images shadows draw their private sets from.

    Attributes
    ----------
    images : ImageSet
        uint8 pool images with their labels.
    candidate : numpy.ndarray
        int64, per pool image: the candidate it is (its index in the challenge's candidates), -1 for
        an auxiliary image.
    """

    images: ImageSet
    candidate: np.ndarray

    def __len__(self) -> int:
        return len(self.images)


def to_uint8(values: np.ndarray, pixels: PixelSpace) -> np.ndarray:
    """Images in ``pixels`` back to 8-bit (exact for images that came from 8-bit ones)."""
    return np.clip(np.rint(pixels.to_unit(values) * 255.0), 0, 255).astype(np.uint8)


def load_auxiliary(spec: str, class_names: tuple[str, ...], exclude: np.ndarray) -> ImageSet:
    """Every image of the source ``spec`` except those equal to one of ``exclude`` (uint8 images).

    Raises
    ------
    ConfigError
        When the source cannot list its images or its classes are not the challenge's.
    """
    pool = labelled_images(spec, class_names, "lira aux")
    excluded = {image.tobytes() for image in exclude}
    keep = np.array([image.tobytes() not in excluded for image in pool.images], dtype=bool)
    if not keep.all():
        logger.info("lira aux: dropped %d images identical to candidates", int((~keep).sum()))
    return pool.subset(np.flatnonzero(keep))


def build_pool(candidates: ImageSet | None, auxiliary: ImageSet, size: int, rng: np.random.Generator) -> ShadowPool:
    """``candidates`` (all of them, online; None offline) topped up with auxiliary images to ``size``.

    Fewer auxiliary images than needed is allowed (logged): the pool is then smaller than
    ``size``, and each image is inside fewer than half of the shadows.
    """
    have = 0 if candidates is None else len(candidates)
    wanted = max(size - have, 0)
    if wanted > len(auxiliary):
        logger.warning("lira: the auxiliary source holds %d usable images, %d were wanted", len(auxiliary), wanted)
        wanted = len(auxiliary)
    chosen = auxiliary.subset(np.sort(rng.choice(len(auxiliary), wanted, replace=False)))
    if candidates is None:
        return ShadowPool(chosen, np.full(len(chosen), -1, dtype=np.int64))
    images = ImageSet(
        np.concatenate([candidates.images, chosen.images]),
        np.concatenate([candidates.labels, chosen.labels]),
        candidates.class_names,
        f"candidates + {auxiliary.origin}",
    )
    index = np.concatenate([np.arange(len(candidates)), np.full(len(chosen), -1)]).astype(np.int64)
    return ShadowPool(images, index)


def class_quotas(labels: np.ndarray, num_classes: int, size: int) -> np.ndarray:
    """Images of each class in a shadow of ``size``: proportional to the pool, rounded to add up exactly."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    share = counts * size / counts.sum()
    quota = np.floor(share).astype(np.int64)
    order = np.argsort(-(share - quota), kind="stable")
    quota[order[: size - int(quota.sum())]] += 1
    return np.minimum(quota, counts.astype(np.int64))


def pair_members(
    labels: np.ndarray, num_classes: int, size: int, seed: int, pair: int
) -> tuple[np.ndarray, np.ndarray]:
    """Positions in the pool of the two shadows of pair ``pair``, from one per-class shuffle.

    The first takes the front of each class (quotas proportional to the pool), the second its
    quotas of what the first left, from the back: with a pool of ``2 size`` they are complements,
    with a larger one disjoint.
    """
    rng = np.random.default_rng([seed, pair])
    shuffled = [rng.permutation(np.flatnonzero(labels == c)) for c in range(num_classes)]
    front_quota = class_quotas(labels, num_classes, size)
    rest = np.concatenate([rows[front_quota[c] :] for c, rows in enumerate(shuffled)])
    # a pool under 2 size cannot give disjoint shadows: the second then overlaps the first
    back_quota = class_quotas(labels[rest], num_classes, size) if len(rest) >= size else front_quota
    front = [rows[: front_quota[c]] for c, rows in enumerate(shuffled)]
    back = [rows[len(rows) - back_quota[c] :] if back_quota[c] else rows[:0] for c, rows in enumerate(shuffled)]
    return np.sort(np.concatenate(front)), np.sort(np.concatenate(back))


def shadow_members(labels: np.ndarray, num_classes: int, size: int, seed: int, shadow: int) -> np.ndarray:
    """Positions in the pool of shadow ``shadow``'s private set (``size`` of them)."""
    if size >= len(labels):
        raise ConfigError(f"a shadow pool of {len(labels)} images is too small for shadows of {size} private images")
    front, back = pair_members(labels, num_classes, size, seed, shadow // 2)
    members = front if shadow % 2 == 0 else back
    if len(members) != size:
        raise ConfigError(f"the shadow pool cannot give {size} images in the pool's class proportions")
    return members


def challenge_encoder(encoder: str, params: dict[str, Any]) -> Encoder:
    """The challenge's encoder, configured with its public parameters from challenge.json.

    Raises
    ------
    ConfigError
        When the encoder is not registered here or the parameters do not configure it.
    """
    try:
        cls = ENCODERS.get(encoder)
    except ConfigError as exc:
        raise ConfigError(f"lira re-runs the challenge's encoder {encoder!r} in its shadows: {exc}") from None
    known = field_types(cls.Config)
    public = {key: value for key, value in params.items() if key in known and value is not None}
    return cls(apply_overrides(cls.Config(), public))


def shadow_release(
    encoder: Encoder, private: ImageSet, public: ImageSet | None, seed: int
) -> tuple[TrainingBatch, PixelSpace]:
    """The release ``encoder`` makes of ``private``, as training rows, and its pixel space.

    An encoder whose randomness takes no seed (a secure RNG) draws its own: the shadow is then
    not reproducible, which the stage cache makes harmless for ``--resume``.
    """
    try:
        encoded = encoder.encode(private, public, seed=seed)
    except InstaHideBenchError as seeded:
        try:
            encoded = encoder.encode(private, public, seed=None)
        except InstaHideBenchError:
            raise seeded from None
        logger.info("lira: encoder %s takes no seed; its shadow releases are not reproducible", encoder.name)
    rows = TrainingBatch(
        np.asarray(encoded.encryption, dtype=np.float32),
        np.asarray(encoded.labels, dtype=np.float32),
        np.arange(len(encoded.encryption), dtype=np.int64),
    )
    return rows, encoded.pixels


def public_images(encoder: Encoder, spec: str, seed: int) -> ImageSet | None:
    """The public pool a cross-dataset encoder mixes in (None when it needs none)."""
    needed = int(encoder.required_public())
    if not needed:
        return None
    logger.info("lira: loading %d public images from %s for the shadows' encoder", needed, spec)
    return parse_source(spec, "public").load(needed, seed)


__all__ = [
    "ShadowPool",
    "build_pool",
    "challenge_encoder",
    "class_quotas",
    "load_auxiliary",
    "pair_members",
    "public_images",
    "shadow_members",
    "shadow_release",
    "to_uint8",
]
