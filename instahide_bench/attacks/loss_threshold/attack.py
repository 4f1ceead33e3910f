"""``loss-threshold``: train a model on the release, score each candidate by minus its loss.

The attack of Yeom et al. (2018), as Dong et al. and Carlini et al. use it on condensed data:
whoever trains on a release fits its rows, and images the release was made from tend to be fit
better (lower loss) than images of the same distribution that it never saw. The attacker
trains that model himself (the release is public) with the recipe ``instahide-bench utility``
uses, then computes each candidate's cross-entropy loss against its label.

Scoring: ``score = -loss = log p_y`` (the default, ``score=loss``), or LiRA's logit-scaled
confidence ``log(p_y / (1 - p_y))`` (``score=logit``). The latter is a monotone function of the
former, so with one global threshold both give the same ROC curve; it keeps more resolution
where the model is very sure and is the statistic per-example attacks (LiRA) fit Gaussians to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from instahide_bench.attacks.common.release_model import (
    ReleaseRecipe,
    class_log_probabilities,
    held_out_accuracy,
    logit_confidence,
    negative_loss,
    release_rows,
    train_on_rows,
)
from instahide_bench.core.attack import ATTACKS, AttackContext, AttackResult, MembershipAttack
from instahide_bench.core.challenge import PublicChallenge
from instahide_bench.core.config import param
from instahide_bench.core.errors import ConfigError

SCORES = ("loss", "logit")


@dataclass(frozen=True)
class LossThresholdConfig(ReleaseRecipe):
    """Settings of ``loss-threshold``: the training recipe of the model trained on the release."""

    seed: int = param(0, "model initialisation, augmentation and batch order (combined with the runner's --seed)")
    score: str = param("loss", "candidate score: loss (-cross-entropy) or logit (log p/(1-p), same ranking)")
    threads: int = param(0, "torch CPU threads in the attack's process (0: torch's default)")

    def validate(self) -> None:
        if self.score not in SCORES:
            raise ConfigError(f"unknown score {self.score!r}; use one of {', '.join(SCORES)}")
        self.train_config(0).validate()


@ATTACKS.register("loss-threshold")
class LossThresholdAttack(MembershipAttack):
    """Membership by loss: candidates the release-trained model fits better score higher."""

    name = "loss-threshold"
    version = "1.0"
    Config = LossThresholdConfig
    config: LossThresholdConfig
    complexity = "O(epochs * E + C) forward/backward passes"
    summary = "membership: train on the release, score candidates by minus their cross-entropy loss"

    def run(self, challenge: PublicChallenge, context: AttackContext) -> AttackResult:
        """Train on ``challenge``'s release, then score ``challenge.membership``'s candidates."""
        if challenge.membership is None:
            raise ConfigError("loss-threshold needs a membership challenge (candidates.npy)")
        seed = int(np.random.SeedSequence([self.config.seed, context.seed]).generate_state(1)[0])
        recipe = self.config.train_config(seed, str(context.device))
        model = train_on_rows(release_rows(challenge), challenge.pixels, recipe, label="loss-threshold")
        device = next(model.parameters()).device
        candidates = challenge.membership
        log_p, log_not_p = class_log_probabilities(model, candidates.images, candidates.labels, device)
        scores = negative_loss(log_p) if self.config.score == "loss" else logit_confidence(log_p, log_not_p)
        predicted = np.exp(log_p)
        info: dict[str, Any] = {
            "train_rows": challenge.num_rows,
            "candidates": len(candidates),
            "mean_candidate_loss": float(-log_p.mean()),
            "median_candidate_p": float(np.median(predicted)),
            "seed": seed,
        }
        if self.config.eval_data:
            info.update(held_out_accuracy(model, self.config.eval_data, challenge))
        return AttackResult(membership_scores=scores, info=info, message=f"score={self.config.score}")


__all__ = ["LossThresholdAttack", "LossThresholdConfig"]
