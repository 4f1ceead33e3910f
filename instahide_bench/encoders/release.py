"""What the release encoders share (docs/specification.md §3.3): a small labelled image set instead of encryptions.

``dataset-condensation`` and ``random-subset`` do not encrypt anything: they publish m images
per class, made from (or copied out of) the private set, with one-hot labels. Writing that
release as an ordinary challenge lets everything downstream (attacks, scorer, leaderboard,
utility) run unchanged:

* ``encryption.npy`` holds the release images (class by class, m rows each), in the pixel space;
* ``label.npy`` their one-hot labels;
* the key holds all n private images, and for each row one private slot (``private_index``
  with one column: the image the row is scored against, docs/specification.md §3.3) and ``init_index.npy``
  (the image the row was initialised from or copies, -1 for none). Coefficients are 1, there
  are no public slots and every row is "epoch" 0.

Randomness comes from one seed: the ``--seed`` given, or 63 bits drawn from the OS and
recorded in the key. It seeds a :class:`numpy.random.Generator` (which images are picked) and,
through it, any ``torch.Generator`` an encoder needs; no global random state is touched.
"""

from __future__ import annotations

import secrets
from abc import abstractmethod
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from instahide_bench.core.challenge import ChallengeKey, EncodedChallenge
from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.encoder import Encoder
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.pixels import PIXEL_SPACES, PixelSpace, get_pixel_space
from instahide_bench.core.training.batches import TrainingBatch, one_hot

#: Bits of the seed drawn from the OS when none is given (it must fit the key's int64).
SEED_BITS = 63


@dataclass(frozen=True)
class Release:
    """A release before it becomes a challenge: rows are grouped class by class.

    Attributes
    ----------
    images : numpy.ndarray
        float32, E x 32 x 32 x 3, in the encoder's pixel space (inside its valid box).
    labels : numpy.ndarray
        int64, E: the class of each row.
    scored_index : numpy.ndarray
        int64, E: the private image each row is scored against (docs/specification.md §4 with one slot).
    init_index : numpy.ndarray
        int64, E: the private image each row was initialised from or copies; -1 for none.
    """

    images: np.ndarray
    labels: np.ndarray
    scored_index: np.ndarray
    init_index: np.ndarray


def resolve_seed(seed: int | None) -> int:
    """``seed``, or a fresh one from the OS (:data:`SEED_BITS` bits) when it is None."""
    if seed is None:
        return secrets.randbits(SEED_BITS)
    if not 0 <= seed < 2**SEED_BITS:
        raise ConfigError(f"a release seed must lie in [0, 2**{SEED_BITS}), got {seed}")
    return int(seed)


def check_release_settings(n: int, images_per_class: int, pixels: str) -> None:
    """The settings every release config has: a ConfigError naming the first bad one."""
    if n < 1 or images_per_class < 1:
        raise ConfigError(f"need n >= 1 and images_per_class >= 1, got {n} and {images_per_class}")
    if pixels not in PIXEL_SPACES:
        raise ConfigError(f"unknown pixels {pixels!r}; known: {', '.join(PIXEL_SPACES)}")


def class_members(labels: np.ndarray, num_classes: int, need: int, class_names: tuple[str, ...]) -> list[np.ndarray]:
    """Per class, the positions of its images; a ConfigError naming a class with fewer than ``need``."""
    members = [np.flatnonzero(labels == c) for c in range(num_classes)]
    short = [(class_names[c], len(rows)) for c, rows in enumerate(members) if len(rows) < need]
    if short:
        listed = ", ".join(f"{name!r} has {count}" for name, count in short)
        raise ConfigError(
            f"a release of {need} images per class needs that many private images of each class: {listed}"
        )
    return members


def pick_per_class(members: list[np.ndarray], per_class: int, rng: np.random.Generator) -> np.ndarray:
    """``per_class`` distinct positions of each class, class after class (sorted within a class)."""
    chosen = [np.sort(rng.choice(rows, size=per_class, replace=False)) for rows in members]
    return np.concatenate(chosen).astype(np.int64)


class ReleaseEncoder(Encoder):
    """An encoder whose output is a labelled image set (see the module docstring).

    Subclasses implement :meth:`_release`; writing the challenge (:meth:`encode`) and the
    release a model trains on (:meth:`training_release`) are the same for all of them.
    The config must have ``n``, ``images_per_class`` and ``pixels`` fields.
    """

    def pixel_space(self) -> PixelSpace:
        return get_pixel_space(str(self.config.pixels))

    @abstractmethod
    def _release(self, private: ImageSet, rng: np.random.Generator) -> Release:
        """Make the release from ``private`` with randomness from ``rng``."""

    def public_params(self) -> dict[str, Any]:
        """challenge.json's ``params``: every setting, plus the number of rows."""
        params = asdict(self.config)
        params["num_rows"] = None  # filled in by encode(), which knows the number of classes
        return params

    def encode(self, private: ImageSet, public: ImageSet | None = None, *, seed: int | None = None) -> EncodedChallenge:
        """Release ``images_per_class`` images of each class of the ``n`` private images, as a challenge."""
        n = int(self.config.n)
        if len(private) != n:
            raise ConfigError(f"the encoder is configured for n={n} private images but got {len(private)}")
        seed = resolve_seed(seed)
        release = self._release(private, np.random.default_rng(seed))
        space = self.pixel_space()
        num_classes = len(private.class_names)
        rows = int(release.images.shape[0])
        key = ChallengeKey(
            private=space.from_uint8(private.images),
            private_labels=private.labels,
            private_index=release.scored_index[:, None].astype(np.int64),
            coefficients=np.ones((rows, 1), dtype=np.float64),
            public_index=np.full((rows, 0), -1, dtype=np.int64),
            epoch=np.zeros(rows, dtype=np.int64),
            seed=seed,
            provenance={"private_ids": private.ids.tolist(), "public_ids": []},
            init_index=release.init_index.astype(np.int64),
        )
        params = {**self.public_params(), "num_rows": rows, "num_classes": num_classes}
        return EncodedChallenge(
            encryption=release.images.astype(np.float32, copy=False),
            labels=one_hot(release.labels, num_classes),
            class_names=list(private.class_names),
            encoder=self.name,
            encoder_version=self.version,
            params=params,
            pixels=space,
            key=key,
        )

    def training_release(
        self, private: ImageSet, public: ImageSet | None = None, *, seed: int | None = None
    ) -> TrainingBatch | None:
        """The release made from all of ``private`` (``n`` is ignored), as training rows."""
        release = self._release(private, np.random.default_rng(resolve_seed(seed)))
        targets = one_hot(release.labels, len(private.class_names))
        return TrainingBatch(release.images.astype(np.float32, copy=False), targets, release.init_index)


__all__ = [
    "SEED_BITS",
    "Release",
    "ReleaseEncoder",
    "check_release_settings",
    "class_members",
    "pick_per_class",
    "resolve_seed",
]
