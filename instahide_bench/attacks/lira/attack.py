"""``lira``: the likelihood-ratio membership attack of Carlini et al. (S&P 2022) against a release.

Threat model: whoever uses the release trains a model on it (the target; the release is public,
so the attacker trains it too, with the defender's recipe, as ``loss-threshold`` does). The
attacker also holds labelled images of the same distribution (``aux``) and knows the release
pipeline's public parameters. It trains shadow models, each on a release it makes itself from a
"private" set it chose (:mod:`.shadows`), and learns from them, per candidate, how confident a
model is on that image when the image was (IN) and was not (OUT) among the release's private
images. The target's confidence is then judged against those two Gaussians (:mod:`.gaussian`).

Stages (each cached under the run's work directory, so ``--resume`` skips finished ones):
``target`` (the model trained on the release, its confidences on the candidates) and one
``<variant>-shadow-NNN`` per shadow (which candidates it holds, its confidences on them).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from instahide_bench.attacks.common.cache import cached, fingerprint
from instahide_bench.attacks.common.release_model import (
    ReleaseRecipe,
    class_log_probabilities,
    held_out_accuracy,
    logit_confidence,
    release_rows,
    train_on_rows,
)
from instahide_bench.attacks.lira.gaussian import offline_scores, online_scores
from instahide_bench.attacks.lira.shadows import (
    ShadowPool,
    build_pool,
    challenge_encoder,
    load_auxiliary,
    public_images,
    shadow_members,
    shadow_release,
    to_uint8,
)
from instahide_bench.core.attack import ATTACKS, AttackContext, AttackResult, MembershipAttack
from instahide_bench.core.challenge import PublicChallenge
from instahide_bench.core.config import param
from instahide_bench.core.data import ImageSet
from instahide_bench.core.encoder import Encoder
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.training import TrainConfig

logger = logging.getLogger(__name__)

VARIANTS = ("online", "offline")
#: Queries of each candidate: the image, and the image with its mirror image.
QUERIES = ("none", "flip")
#: Shadows when ``shadows = 0``: few on a CPU (each is a full training run), Carlini et al.'s
#: fixed-variance regime; on a GPU enough for per-candidate variances to start paying off.
AUTO_SHADOWS = {"cpu": 8, "cuda": 16}


@dataclass(frozen=True)
class LiraConfig(ReleaseRecipe):
    """Settings of ``lira``: the shadows, the statistics, and the training recipe (target and shadows alike)."""

    shadows: int = param(0, "shadow models; 0: 8 on a CPU, 16 on a GPU (online: pairs, each candidate IN for half)")
    variant: str = param("online", "online (shadows IN and OUT of the candidates) or offline (OUT only)")
    fixed_variance: bool = param(True, "one pooled variance instead of one per candidate (better below ~64 shadows)")
    augmentations: str = param("flip", "queries per candidate: none (the image) or flip (also its mirror image)")
    aux: str = param(
        "embedded",
        "labelled images of the challenge's classes for the shadows (never the private set), "
        "e.g. cifar10:PATH?split=test for a CIFAR-10 challenge",
        data_source=True,
    )
    aux_public: str = param("embedded", "public images for a cross-dataset encoder's shadows", data_source=True)
    seed: int = param(0, "shadow pools, releases, training (combined with the runner's --seed)")
    threads: int = param(0, "torch CPU threads in the attack's process (0: torch's default)")

    def validate(self) -> None:
        if self.shadows < 0 or self.shadows == 1:
            raise ConfigError(f"lira needs shadows >= 2 (or 0 for the device's default), got {self.shadows}")
        if self.variant not in VARIANTS:
            raise ConfigError(f"unknown variant {self.variant!r}; use one of {', '.join(VARIANTS)}")
        if self.augmentations not in QUERIES:
            raise ConfigError(f"unknown augmentations {self.augmentations!r}; use one of {', '.join(QUERIES)}")
        self.train_config(0).validate()

    def shadow_count(self, device: torch.device) -> int:
        return self.shadows or AUTO_SHADOWS.get(device.type, AUTO_SHADOWS["cpu"])


def confidences(model: nn.Module, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """C x 2: logit-scaled confidence of the true label on each image and on its mirror image."""
    device = next(model.parameters()).device
    columns = []
    for query in (images, images[:, :, ::-1, :]):
        log_p, log_not_p = class_log_probabilities(model, np.ascontiguousarray(query), labels, device)
        columns.append(logit_confidence(log_p, log_not_p))
    return np.stack(columns, axis=1)


@dataclass(frozen=True)
class ShadowPlan:
    """Everything one shadow needs: the encoder, the pool, the recipe, and the challenge to query."""

    encoder: Encoder
    pool: ShadowPool
    public: ImageSet | None
    size: int
    num_classes: int
    seed: int
    recipe: TrainConfig
    challenge: PublicChallenge

    def train(self, index: int, count: int) -> dict[str, np.ndarray]:
        """Shadow ``index``: its private set, its release, its model; which candidates it holds, their phi."""
        members = shadow_members(self.pool.images.labels, self.num_classes, self.size, self.seed, index)
        shadow_seed = int(np.random.SeedSequence([self.seed, 2, index]).generate_state(1)[0])
        rows, pixels = shadow_release(self.encoder, self.pool.images.subset(members), self.public, shadow_seed)
        expected = self.challenge.pixels.name
        if pixels.name != expected:
            raise ConfigError(f"the shadows' encoder writes {pixels.name!r} pixels, the challenge holds {expected!r}")
        recipe = dataclasses.replace(self.recipe, seed=shadow_seed)
        model = train_on_rows(rows, pixels, recipe, label=f"lira shadow {index + 1}/{count}")
        candidates = self.challenge.membership
        assert candidates is not None
        held = np.zeros(len(candidates), dtype=bool)
        chosen = self.pool.candidate[members]
        held[chosen[chosen >= 0]] = True
        return {"phi": confidences(model, candidates.images, candidates.labels), "inside": held}


@ATTACKS.register("lira")
class LiraAttack(MembershipAttack):
    """Membership by per-candidate likelihood ratios, learned from shadow releases and models."""

    name = "lira"
    version = "1.0"
    Config = LiraConfig
    config: LiraConfig
    complexity = "O((shadows + 1) * (encode + epochs * E)) training, O(shadows * C) queries"
    summary = "membership: shadow releases and models, per-candidate Gaussians (Carlini et al. 2022 LiRA)"

    def run(self, challenge: PublicChallenge, context: AttackContext) -> AttackResult:
        """Train the target and the shadows (or reuse them), then score every candidate."""
        if challenge.membership is None:
            raise ConfigError("lira needs a membership challenge (candidates.npy)")
        config = self.config
        seed = int(np.random.SeedSequence([config.seed, context.seed]).generate_state(1)[0])
        recipe = config.train_config(seed, str(context.device))
        device = torch.device(recipe.device)
        count = config.shadow_count(device)
        meta = challenge.meta
        size = meta.num_private
        if size is None:
            raise ConfigError("lira needs the challenge's number of private images (challenge.json params.n)")
        candidates = challenge.membership
        labels = candidates.labels
        base = {
            "challenge": meta.challenge_id,
            "files": meta.files,
            "recipe": {k: v for k, v in dataclasses.asdict(recipe).items() if k != "device"},
        }

        def target_stage() -> dict[str, np.ndarray]:
            model = train_on_rows(release_rows(challenge), challenge.pixels, recipe, label="lira target")
            arrays = {"phi": confidences(model, candidates.images, labels)}
            if config.eval_data:
                utility = held_out_accuracy(model, config.eval_data, challenge)
                arrays["test_accuracy"] = np.array([utility["test_accuracy"], utility["test_images"]], np.float64)
            return arrays

        measured = {"eval_data": config.eval_data} if config.eval_data else {}
        target_key = fingerprint(stage="target", **measured, **base)
        target_arrays = cached(context, "target", target_key, target_stage)
        target = target_arrays["phi"]

        encoder = challenge_encoder(meta.encoder, meta.params)
        as_set = ImageSet(to_uint8(candidates.images, challenge.pixels), labels, tuple(meta.class_names), "candidates")
        rng = np.random.default_rng([seed, 1])
        online = config.variant == "online"
        wanted = 2 * size - (len(as_set) if online else 0)
        empty = as_set.subset(np.zeros(0, dtype=np.int64))
        auxiliary = load_auxiliary(config.aux, tuple(meta.class_names), as_set.images) if wanted > 0 else empty
        pool = build_pool(as_set if online else None, auxiliary, 2 * size, rng)
        public = public_images(encoder, config.aux_public, seed)
        logger.info(
            "lira (%s): %d shadows of %d private images from a pool of %d (%d candidates, %d auxiliary from %s)",
            config.variant,
            count,
            size,
            len(pool),
            int((pool.candidate >= 0).sum()),
            int((pool.candidate < 0).sum()),
            config.aux,
        )
        shadow_key = {
            **base,
            "variant": config.variant,
            "aux": config.aux if wanted > 0 else None,
            "aux_public": config.aux_public if public is not None else None,
            "pool": len(pool),
            "encoder": [meta.encoder, meta.encoder_version, meta.params],
        }
        plan = ShadowPlan(encoder, pool, public, size, len(meta.class_names), seed, recipe, challenge)
        phis, inside = [], []
        for index in context.progress(range(count), desc="lira shadows", total=count, unit="shadow"):
            key = fingerprint(stage="shadow", index=index, **shadow_key)
            stage = f"{config.variant}-shadow-{index:03d}"  # both variants can share a work directory
            arrays = cached(context, stage, key, functools.partial(plan.train, index, count))
            phis.append(arrays["phi"])
            inside.append(arrays["inside"])

        queries = 2 if config.augmentations == "flip" else 1
        shadow_phi = np.stack(phis, axis=1)[:, :, :queries]
        held = np.stack(inside, axis=1)
        if online:
            scores = online_scores(target[:, :queries], shadow_phi, held, config.fixed_variance)
        else:
            scores = offline_scores(target[:, :queries], shadow_phi, config.fixed_variance)
        ins = held.sum(axis=1)
        info = {
            "variant": config.variant,
            "shadows": count,
            "shadow_private": size,
            "pool": len(pool),
            "pool_candidates": int((pool.candidate >= 0).sum()),
            "in_per_candidate_min": int(ins.min()),
            "in_per_candidate_max": int(ins.max()),
            "fixed_variance": config.fixed_variance,
            "queries": queries,
            "mean_target_phi": float(target[:, 0].mean()),
            "seed": seed,
        }
        if "test_accuracy" in target_arrays:
            accuracy, images = target_arrays["test_accuracy"]
            info.update(test_accuracy=float(accuracy), test_images=int(images), test_data=config.eval_data)
        message = f"{config.variant}, {count} shadows" + (", fixed variance" if config.fixed_variance else "")
        return AttackResult(membership_scores=scores, info=info, message=message)


__all__ = ["LiraAttack", "LiraConfig"]
