"""Pluggable attacks on the public part of a challenge.

Importing this package registers the built-in attacks in :data:`ATTACKS`; third-party
attacks arrive through the entry-point group ``instahide_bench.attacks``.
"""

from .base import ATTACKS, Attack, AttackContext, AttackResult
from . import baselines  # noqa: F401  (registers zero, abs-rescale)

__all__ = ["ATTACKS", "Attack", "AttackContext", "AttackResult"]
