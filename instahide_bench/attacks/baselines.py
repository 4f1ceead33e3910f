"""Baselines that calibrate the metric's floor: what a score means when nothing was broken."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..benchmark.challenge import PublicChallenge
from ..benchmark.pixels import PixelSpace
from .base import ATTACKS, Attack, AttackContext, AttackResult


@dataclass(frozen=True)
class NoConfig:
    """These baselines take no parameters."""


def abs_rescaled(encryption: np.ndarray, pixels: PixelSpace) -> np.ndarray:
    """|e| with each row's values stretched linearly onto the pixel space's valid box.

    |e| removes the sign mask exactly when every mixture is non-negative; elsewhere it is the
    cheapest guess there is. Stretching each row to span the box undoes the shrinking effect of
    mixing (coefficients sum to one), which is all a per-row affine map can do.
    """
    magnitude = np.abs(encryption.astype(np.float32, copy=False))
    low = magnitude.min(axis=(1, 2, 3), keepdims=True)
    span = magnitude.max(axis=(1, 2, 3), keepdims=True) - low
    unit = (magnitude - low) / np.where(span > 0, span, 1.0)
    return pixels.from_unit(unit)


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
