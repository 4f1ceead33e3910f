"""Baselines that calibrate the metric's floor: what a score means when nothing was broken."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from instahide_bench.attacks.common.rescale import abs_rescaled
from instahide_bench.core.attack import ATTACKS, Attack, AttackContext, AttackResult
from instahide_bench.core.challenge import PublicChallenge


@dataclass(frozen=True)
class NoConfig:
    """These baselines take no parameters."""


@ATTACKS.register("zero")
class ZeroAttack(Attack):
    """Decrypts every row as the middle of the pixel box (a grey image)."""

    name = "zero"
    version = "1.0"
    Config = NoConfig
    complexity = "O(E)"
    summary = "baseline: a mid-grey image for every row"

    def run(self, challenge: PublicChallenge, context: AttackContext) -> AttackResult:
        grey = challenge.pixels.from_unit(np.full((1, 32, 32, 3), 0.5))
        return AttackResult(np.repeat(grey, challenge.num_rows, axis=0), message="baseline")


@ATTACKS.register("abs-rescale")
class AbsRescaleAttack(Attack):
    """Decrypts every row as its own |e|, stretched to the pixel range."""

    name = "abs-rescale"
    version = "1.0"
    Config = NoConfig
    complexity = "O(E)"
    summary = "baseline: |e| of each row mapped to the pixel range"

    def run(self, challenge: PublicChallenge, context: AttackContext) -> AttackResult:
        return AttackResult(abs_rescaled(challenge.encryption, challenge.pixels), message="baseline")


@ATTACKS.register("identity")
class IdentityAttack(Attack):
    """Decrypts every row as itself: the release is its own decryption.

    The baseline for releases that are image sets rather than encryptions (dataset
    condensation, a random subset, docs/specification.md §3.3): it scores how much a release row looks like the
    private image behind it without any attack at all (Max_SSIM 1 for a random subset).
    """

    name = "identity"
    version = "1.0"
    Config = NoConfig
    complexity = "O(E)"
    summary = "baseline: each row as its own decryption (for releases: dataset condensation, random subset)"

    def run(self, challenge: PublicChallenge, context: AttackContext) -> AttackResult:
        return AttackResult(challenge.pixels.clip(np.array(challenge.encryption, dtype=np.float32)), message="baseline")
