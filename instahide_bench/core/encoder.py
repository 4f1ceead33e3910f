"""What every encoder is: a typed config dataclass and one public method, ``encode``.

Encoders register by name in :data:`ENCODERS`; a third-party package adds one through the
entry-point group ``instahide_bench.encoders``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from instahide_bench.core.challenge import EncodedChallenge
from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.registry import Registry


class Encoder(ABC):
    """Turns private (and public) images into a challenge: encryptions, labels and a key."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    Config: ClassVar[type]

    def __init__(self, config: Any | None = None) -> None:
        self.config = config if config is not None else self.Config()
        validate = getattr(self.config, "validate", None)
        if callable(validate):
            validate()

    def required_public(self) -> int:
        """How many public images ``encode`` needs (0 for inside-dataset encoders)."""
        return 0

    def required_private(self) -> int:
        """How many private images ``encode`` needs."""
        return int(self.config.n)

    @abstractmethod
    def encode(self, private: ImageSet, public: ImageSet | None = None, *, seed: int | None = None) -> EncodedChallenge:
        """Encrypt ``private`` (mixing in ``public`` where the scheme uses it)."""


ENCODERS: Registry[type[Encoder]] = Registry("encoder", "instahide_bench.encoders")
