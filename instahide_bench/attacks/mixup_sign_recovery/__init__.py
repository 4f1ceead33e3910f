"""``mixup-sign-recovery`` (docs/specification.md §6): sign recovery, label-guided grouping, least-squares demixing.

Modules, one job each: :mod:`.components` (blind sparse grouping), :mod:`.grouping` (classes
and first assignment), :mod:`.refine` (class-compatible re-assignment), :mod:`.alternate` (the
refinement loop), :mod:`.reseed` (duplicate repair), :mod:`.attack` (the registered attack).
What it shares with other attacks (label parsing, sign recovery, least-squares demixing,
image-sign synchronisation) lives in :mod:`instahide_bench.attacks.common`.
"""

from instahide_bench.attacks.mixup_sign_recovery.attack import MixupSignRecoveryAttack, MixupSignRecoveryConfig

__all__ = ["MixupSignRecoveryAttack", "MixupSignRecoveryConfig"]
