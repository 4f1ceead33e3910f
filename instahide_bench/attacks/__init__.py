"""Pluggable attacks on the public part of a challenge.

Built-in attacks are registered in :data:`ATTACKS` by name; the heavy ones lazily (their
module is imported the first time the name is used), so that listing attacks or running one
never imports the others. Third-party attacks arrive through the entry-point group
``instahide_bench.attacks``.
"""

from instahide_bench.attacks import baselines  # noqa: F401  (registers zero, abs-rescale, identity)
from instahide_bench.core.attack import ATTACKS, Attack, AttackContext, AttackResult, MembershipAttack

ATTACKS.add_lazy("carlini-graph", "instahide_bench.attacks.carlini.attack:CarliniGraphAttack")
ATTACKS.add_lazy("gradient-inversion", "instahide_bench.attacks.gradient_inversion.attack:GradientInversionAttack")
ATTACKS.add_lazy("loss-threshold", "instahide_bench.attacks.loss_threshold.attack:LossThresholdAttack")
ATTACKS.add_lazy("learned-inversion", "instahide_bench.attacks.learned_inversion.attack:LearnedInversionAttack")
ATTACKS.add_lazy("lira", "instahide_bench.attacks.lira.attack:LiraAttack")
ATTACKS.add_lazy("mixup-sign-recovery", "instahide_bench.attacks.mixup_sign_recovery.attack:MixupSignRecoveryAttack")
ATTACKS.add_lazy("prng-seed-search", "instahide_bench.attacks.prng_seed_search.attack:PrngSeedSearchAttack")

__all__ = ["ATTACKS", "Attack", "AttackContext", "AttackResult", "MembershipAttack"]
