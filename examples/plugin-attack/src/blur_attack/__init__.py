"""An example attack: |e| of each row, blurred, stretched to the pixel range.

It only shows the plugin mechanics (config dataclass, one ``run`` method, an entry point) and
imports nothing but :mod:`instahide_bench.api`; as an attack it is barely better than the
``abs-rescale`` baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from instahide_bench.api import Attack, AttackContext, AttackResult, PublicChallenge, abs_rescaled, param


@dataclass(frozen=True)
class AbsBlurConfig:
    sigma: float = param(0.8, "Gaussian blur radius in pixels (0 disables)")


class AbsBlurAttack(Attack):
    name = "abs-blur"
    version = "0.1.0"
    Config = AbsBlurConfig
    complexity = "O(E)"
    summary = "example plugin: blurred |e|, rescaled"

    def run(self, challenge: PublicChallenge, context: AttackContext) -> AttackResult:
        rows = []
        for row in context.progress(challenge.encryption, desc="blurring", total=challenge.num_rows):
            rows.append(gaussian_filter(np.abs(row), sigma=(self.config.sigma, self.config.sigma, 0)))
        return AttackResult(abs_rescaled(np.stack(rows), challenge.pixels), info={"sigma": self.config.sigma})
