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

Reference
---------
Plugin classes and their registries:

* :class:`Attack`, :data:`ATTACKS`: the attack base class and the name -> class registry.
* :class:`AttackContext`: device, working directory, seed and progress lent to ``Attack.run``.
* :class:`AttackResult`: what ``Attack.run`` returns (the decryption and optional extras).
* :class:`MembershipAttack`: the base of membership-inference attacks (``run`` fills
  ``AttackResult.membership_scores``: one float per candidate, higher = member).
* :class:`Encoder`, :data:`ENCODERS`: the encoder base class and its registry.
* :func:`param`: a config dataclass field with a help text.

Challenges and data:

* :class:`PublicChallenge`: an attack's input (encryptions, labels, metadata; no key).
* :class:`MembershipCandidates`: ``PublicChallenge.membership``, a membership challenge's
  candidate images and labels.
* :class:`ChallengeMeta`: challenge.json.
* :class:`ChallengeKey`: the ground truth (scorers and encoders only).
* :class:`EncodedChallenge`: an encoder's output.
* :class:`ImageSet`: uint8 images with labels, the input of an encoder.
* :class:`InstaHideConfig`: the InstaHide scheme's public parameters.

Pixels:

* :class:`PixelSpace`, :data:`PIXEL_SPACES`, :func:`get_pixel_space`: the value range a
  challenge lives in, and the built-in ones by name.
* :data:`IMAGE_SHAPE`: (32, 32, 3), the shape of every image (NHWC).
* :func:`abs_rescaled`: |e| stretched to the pixel box, the cheapest decryption and a fallback.

Errors (shown to users as one line by the CLI):

* :class:`InstaHideBenchError`: the base class.
* :class:`ConfigError`: an invalid setting.
* :class:`InputFileError`: a missing or malformed file.
* :class:`ResourceLimitError`: a time or memory limit was hit.
"""

from instahide_bench.attacks.common.rescale import abs_rescaled
from instahide_bench.core.attack import ATTACKS, Attack, AttackContext, AttackResult, MembershipAttack
from instahide_bench.core.challenge import ChallengeKey, ChallengeMeta, EncodedChallenge, PublicChallenge
from instahide_bench.core.config import Endpoint, param
from instahide_bench.core.data import ImageSet
from instahide_bench.core.encoder import ENCODERS, Encoder
from instahide_bench.core.errors import ConfigError, InputFileError, InstaHideBenchError, ResourceLimitError
from instahide_bench.core.images import IMAGE_SHAPE
from instahide_bench.core.instahide import InstaHideConfig
from instahide_bench.core.membership import MembershipCandidates
from instahide_bench.core.pixels import PIXEL_SPACES, PixelSpace, get_pixel_space
from instahide_bench.core.training import TrainingBatch

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
    "Endpoint",
    "ImageSet",
    "InputFileError",
    "InstaHideBenchError",
    "InstaHideConfig",
    "MembershipAttack",
    "MembershipCandidates",
    "PixelSpace",
    "PublicChallenge",
    "ResourceLimitError",
    "TrainingBatch",
    "abs_rescaled",
    "get_pixel_space",
    "param",
]
