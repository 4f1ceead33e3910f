"""The InstaHide scheme: coefficient draws, RNG kinds, the per-epoch draw plan and the mixing.

Encoders write challenges with it; attacks simulate and replay it. Both import it from here,
so the mixing has one implementation.
"""

from instahide_bench.core.instahide.rng import RNG_KINDS, EncoderRNG, LegacySeededRNG, SecureRNG, fresh_seed, make_rng
from instahide_bench.core.instahide.scheme import (
    DRAW_ORDERS,
    DrawOrder,
    EpochPlan,
    InstaHideConfig,
    draw_order_named,
    encode,
    encode_epoch_batches,
    mix,
    mixed_labels,
    plan_epochs,
    required_public,
    training_config,
)

__all__ = [
    "DRAW_ORDERS",
    "RNG_KINDS",
    "DrawOrder",
    "EncoderRNG",
    "EpochPlan",
    "InstaHideConfig",
    "LegacySeededRNG",
    "SecureRNG",
    "draw_order_named",
    "encode",
    "encode_epoch_batches",
    "fresh_seed",
    "make_rng",
    "mix",
    "mixed_labels",
    "plan_epochs",
    "required_public",
    "training_config",
]
