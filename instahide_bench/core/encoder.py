"""What every encoder is: a typed config dataclass and one public method, ``encode``.

Encoders register by name in :data:`ENCODERS`; a third-party package adds one through the
entry-point group ``instahide_bench.encoders``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from instahide_bench.core.challenge import EncodedChallenge
from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.pixels import PixelSpace, get_pixel_space
from instahide_bench.core.plugin import Plugin
from instahide_bench.core.registry import Registry

if TYPE_CHECKING:
    from instahide_bench.core.training.batches import TrainingBatch


class Encoder(Plugin):
    """Turns private (and public) images into a challenge: encryptions, labels and a key.

    As for attacks, the configuration is a frozen dataclass (listed, overridden with
    ``--set`` and written to challenge.json, so every field must be public) and the
    constructor calls its ``validate()`` method when it has one.

    Parameters
    ----------
    config : Config instance, optional
        The encoder's settings; ``Config()`` (all defaults) when omitted.

    Attributes
    ----------
    name : str
        The registered name.
    version : str
        Bumped when output for the same input changes; recorded in challenge.json.
    Config : type
        The config dataclass; build its fields with :func:`~instahide_bench.core.config.param`.
    config
        The validated config instance.

    Raises
    ------
    ConfigError
        From ``Config.validate()`` when a setting is invalid.
    """

    def required_public(self) -> int:
        """How many public images ``encode`` needs (0 for inside-dataset encoders)."""
        return 0

    def required_private(self) -> int:
        """How many private images ``encode`` needs (the config's ``n`` unless overridden)."""
        return int(self.config.n)

    @abstractmethod
    def encode(self, private: ImageSet, public: ImageSet | None = None, *, seed: int | None = None) -> EncodedChallenge:
        """Encrypt ``private``, mixing in ``public`` where the scheme uses it.

        Parameters
        ----------
        private : ImageSet
            At least :meth:`required_private` images; these are what attacks try to recover.
        public : ImageSet, optional
            At least :meth:`required_public` images (cross-dataset schemes only).
        seed : int, optional
            The seed of an encoder with seeded randomness (a reproducible challenge). None lets
            the encoder draw its own; an encoder whose randomness has no seed may refuse one.

        Returns
        -------
        EncodedChallenge
            Encryptions, labels, public parameters and the key, not yet written to disk.
        """

    # ------------------------------------------------------------ training on the encodings
    # Optional: an encoder that implements training_epoch (or, for a fixed release,
    # training_release) can be scored for utility (``instahide-bench utility``); the others
    # refuse with a clear message.

    def training_pixels(self) -> PixelSpace:
        """The pixel space training inputs live in (clean test images are mapped to it too)."""
        return get_pixel_space(str(getattr(self.config, "pixels", "[-1,1]")))

    def inference_view(self, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """How a single image (float, in :meth:`training_pixels`) looks to a model trained on this encoder.

        Used at test time (``TrainConfig.inference = "masked"``): an encoder that flips signs at
        random returns the image under a fresh random mask, one that does not returns it as it is.
        A model trained on sign-masked encodings never sees an image with all its signs kept, so
        it is tested on masked images, as a deployed client would encode its queries.
        """
        return images

    @property
    def masks_signs(self) -> bool:
        """Whether the encoder multiplies its outputs by a random sign mask (InstaHide's)."""
        return False

    def training_public(self, n: int) -> int:
        """How many public images :meth:`training_epoch` needs for ``n`` private images (0 inside-dataset)."""
        return 0

    def training_epoch(
        self, private: ImageSet, public: ImageSet | None = None, *, seed: int | None = None, batch_size: int = 128
    ) -> Iterator[TrainingBatch]:
        """One epoch of encodings of ``private`` (each image once, fresh keys) with soft labels, in batches.

        This is how a model is trained on the encoder's output, as InstaHide is used: the
        training loop augments the private images, asks for one epoch, trains on it, and asks
        again for the next epoch with another ``seed``.

        Parameters
        ----------
        private : ImageSet
            The (augmented) private training images; any number of them.
        public : ImageSet, optional
            At least :meth:`training_public` images (cross-dataset schemes only).
        seed : int, optional
            Seeds an encoder with seeded randomness (a resumed run then repeats the epoch);
            an encoder whose randomness has no seed ignores it.
        batch_size : int
            Rows per yielded batch.

        Yields
        ------
        TrainingBatch
        """
        raise ConfigError(f"encoder {self.name!r} cannot encode for training (it has no training_epoch)")

    def training_release(
        self, private: ImageSet, public: ImageSet | None = None, *, seed: int | None = None
    ) -> TrainingBatch | None:
        """The one fixed release made from ``private``, for encoders whose output is a data set, not encryptions.

        Dataset condensation and a random subset release a small labelled set once; a model is
        trained on that same set every epoch (augmented and reshuffled like clean images), not
        on fresh encodings. Such an encoder returns the release here, made from all of
        ``private`` (its config's ``n`` is ignored); the default None means the encoder is
        trained on through :meth:`training_epoch` instead.

        Parameters
        ----------
        private : ImageSet
            The private training images the release is made from (unaugmented).
        public : ImageSet, optional
            Unused by the built-in release encoders.
        seed : int, optional
            Seeds the release's randomness, so that a resumed training run rebuilds the same release.

        Returns
        -------
        TrainingBatch or None
            The release rows (inputs in :meth:`training_pixels`), their one-hot targets, and the
            position in ``private`` of each row's initialising image (-1 for none).
        """
        return None


ENCODERS: Registry[type[Encoder]] = Registry("encoder", "instahide_bench.encoders")
