"""The plugin API: the one module a third-party attack or encoder imports.

Everything here is stable across minor versions; the modules it re-exports from
(:mod:`instahide_bench.core` and :mod:`instahide_bench.attacks.common`) are internals whose
layout may change. A minimal attack::

    from dataclasses import dataclass
    from instahide_bench.api import ATTACKS, Attack, AttackContext, AttackResult, PublicChallenge, param

    @dataclass(frozen=True)
    class MyConfig:
        strength: float = param(1.0, "how hard to try")

    @ATTACKS.register("my-attack")
    class MyAttack(Attack):
        name = "my-attack"
        Config = MyConfig

        def run(self, challenge: PublicChallenge, context: AttackContext) -> AttackResult:
            ...

and, in the plugin's pyproject.toml, an entry point in the group ``instahide_bench.attacks``
(``instahide_bench.encoders`` for encoders) so that the CLI finds it without an import.
"""

from instahide_bench.attacks.common.rescale import abs_rescaled
from instahide_bench.core.attack import ATTACKS, Attack, AttackContext, AttackResult
from instahide_bench.core.challenge import ChallengeKey, ChallengeMeta, EncodedChallenge, PublicChallenge
from instahide_bench.core.config import param
from instahide_bench.core.data import ImageSet
from instahide_bench.core.encoder import ENCODERS, Encoder
from instahide_bench.core.errors import ConfigError, InputFileError, InstaHideBenchError, ResourceLimitError
from instahide_bench.core.images import IMAGE_SHAPE
from instahide_bench.core.instahide import InstaHideConfig
from instahide_bench.core.pixels import PIXEL_SPACES, PixelSpace, get_pixel_space

__all__ = [
    "ATTACKS",
    "ENCODERS",
    "IMAGE_SHAPE",
    "PIXEL_SPACES",
    "Attack",
    "AttackContext",
    "AttackResult",
    "ChallengeKey",
    "ChallengeMeta",
    "ConfigError",
    "EncodedChallenge",
    "Encoder",
    "ImageSet",
    "InputFileError",
    "InstaHideBenchError",
    "InstaHideConfig",
    "PixelSpace",
    "PublicChallenge",
    "ResourceLimitError",
    "abs_rescaled",
    "get_pixel_space",
    "param",
]
