"""The InstaHide scheme: coefficient draws, RNG kinds, the per-epoch draw plan and the mixing.

Encoders write challenges with it; attacks simulate and replay it. Both import it from here,
so the mixing has one implementation.
"""

from instahide_bench.core.instahide.rng import RNG_KINDS, EncoderRNG, LegacySeededRNG, SecureRNG, fresh_seed, make_rng
from instahide_bench.core.instahide.scheme import (
    EpochPlan,
    InstaHideConfig,
    encode,
    mix,
    mixed_labels,
    plan_epochs,
    required_public,
)

__all__ = [
    "RNG_KINDS",
    "EncoderRNG",
    "EpochPlan",
    "InstaHideConfig",
    "LegacySeededRNG",
    "SecureRNG",
    "encode",
    "fresh_seed",
    "make_rng",
    "mix",
    "mixed_labels",
    "plan_epochs",
    "required_public",
]
