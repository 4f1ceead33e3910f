"""What a seed is checked against: a challenge's ``label.npy`` and its public encoder shape.

The attack does not trust challenge.json's ``rng`` entry (a secure challenge is searched like
any other and must come out empty), but it needs the shape of the coefficient draw: ``n``,
``k``, ``upper``, ``dom`` and the private slots. A bare original-release directory has no
parameters; :meth:`InstaHideConfig.from_public_params` then gives the 2020 challenge's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from instahide_bench.attacks.prng_seed_search.evidence import Evidence
from instahide_bench.attacks.prng_seed_search.reference import confirm_seed
from instahide_bench.core.challenge import PublicChallenge
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.instahide import InstaHideConfig


@dataclass(frozen=True)
class SeedTarget:
    """The evidence for the fast check and the labels for the exact confirmation."""

    config: InstaHideConfig
    labels: np.ndarray
    evidence: Evidence

    @classmethod
    def from_challenge(cls, challenge: PublicChallenge, check_rows: int = 2) -> SeedTarget:
        """Build the target; raises :class:`ConfigError` when the labels cannot carry the check."""
        config = InstaHideConfig.from_public_params(challenge.meta.params)
        return cls.from_labels(config, challenge.labels, check_rows)

    @classmethod
    def from_labels(cls, config: InstaHideConfig, labels: np.ndarray, check_rows: int = 2) -> SeedTarget:
        labels = np.asarray(labels, dtype=np.float32)
        if config.slots_private != 2:
            raise ConfigError(
                f"the seed check reads two-private-slot label rows; this challenge mixes "
                f"{config.slots_private} private images per row ({config.mode}-dataset)"
            )
        if labels.shape[0] % config.n:
            raise ConfigError(f"label.npy has {labels.shape[0]} rows, not a whole number of epochs of n={config.n}")
        try:
            evidence = Evidence.from_labels(
                labels, config.n, config.k, config.upper, config.effective_dom, check_rows=check_rows
            )
        except ValueError as exc:
            raise ConfigError(f"label.npy cannot carry the seed check: {exc}") from None
        if config.k == 2:
            evidence = replace(evidence, check_rows=_rows_for_two_slot_mixing(evidence.counts, check_rows))
        return cls(config, labels, evidence)

    def confirm(self, seed: int) -> bool:
        """Exact: numpy's own ``RandomState(seed)`` reproduces every label row."""
        cfg = self.config
        return confirm_seed(int(seed), self.labels, cfg.n, cfg.k, cfg.upper, cfg.effective_dom, cfg.slots_private)

    def false_positive_rate(self) -> float | None:
        """Probability that a wrong seed passes the fast check (before the exact confirmation);
        None where the analytic estimate does not apply (k = 2: no unseen coordinates)."""
        if self.config.k < 3:
            return None
        return self.evidence.false_positive_rate()


def _rows_for_two_slot_mixing(counts: np.ndarray, check_rows: int) -> int:
    """How many accepted first-draw rows the fast check must match when k = 2.

    With two slots ``lam0 + lam1 = 1``: a one-valued label row (both images of one class) pins
    only that sum, so every accepted draw matches it, and a two-valued row pins one free
    coordinate (about 21 bits where a k >= 3 row pins about 44). ``check_rows`` matches can then
    all fall on one-valued rows, and a challenge whose first rows are one-valued passes a large
    fraction of all seeds to the slow exact replay (measured on a mixup k=2 set with n = 20:
    about 6% of 2**24 seeds, a 4-minute search instead of 10 s). Comparing every accepted row
    of the first draw costs nothing (a wrong seed stops at its first mismatch).
    """
    return max(int(check_rows), len(counts))


__all__ = ["SeedTarget"]
