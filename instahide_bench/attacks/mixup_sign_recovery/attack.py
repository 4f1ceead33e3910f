"""``mixup-sign-recovery``: sign recovery, label-guided grouping and least-squares demixing.

docs/specification.md §6, "Mixup without the mask": once the signs are known the mixtures are linear in the
private images, so grouping rows by shared image and solving least squares recovers them.

1. signs (:mod:`.signs`): none to recover without a mask, exact by ``|e|`` in a non-negative
   range, estimated otherwise;
2. blind components (:mod:`.components`): the rows sharing an image are a sparse vector of the
   mixtures' leading subspace;
3. classes and first grouping from the labels (:mod:`.labels`, :mod:`.grouping`);
4. alternate least squares and class-compatible re-assignment (:mod:`.alternate`);
5. repair duplicated images (:mod:`.reseed`); with a signed range and ``sign_rounds``,
   synchronise the images' signs across rows, re-sign the mixtures softly and repeat 4
   (:mod:`.sign_sync`).

Each row is decrypted as its heaviest recovered image: the metric scores a row against every
private image mixed into it (docs/metric.md), so no slot order needs to be guessed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from instahide_bench.attacks.common.demix import predict_mixtures, public_noise_weights
from instahide_bench.attacks.common.labels import LabelStructure, estimate_class_sizes, parse_labels
from instahide_bench.attacks.common.sign_sync import noise_variance, posterior_mixtures, synchronise_image_signs
from instahide_bench.attacks.common.signs import SignRecovery, prior_signs, recover_signs
from instahide_bench.attacks.mixup_sign_recovery.alternate import Model, RefineSettings, alternate, start_model
from instahide_bench.attacks.mixup_sign_recovery.components import highpass, sparse_components
from instahide_bench.attacks.mixup_sign_recovery.grouping import component_classes, initial_assignment
from instahide_bench.attacks.mixup_sign_recovery.reseed import reseed, slot_counts, weakest_per_class
from instahide_bench.core.attack import ATTACKS, Attack, AttackContext, AttackResult
from instahide_bench.core.challenge import PublicChallenge
from instahide_bench.core.config import param
from instahide_bench.core.errors import ConfigError


@dataclass(frozen=True)
class MixupSignRecoveryConfig:
    """Parameters of ``mixup-sign-recovery`` (challenge facts come from challenge.json when unset)."""

    num_private: int | None = param(None, "private images n; None reads challenge.json (100 for an original release)")
    feature_sigma: float = param(
        0.7, "high-pass sigma (pixels) of the features rows are grouped on when public images add noise; 0 = raw"
    )
    support_factor: float = param(
        1.5, "support of a component, in multiples of the average rows per image (sharpening step)"
    )
    refine_rounds: int = param(8, "most rounds of least squares + re-assignment")
    reseed_rounds: int = param(
        4, "most times images starved of rows (duplicates) are restarted by splitting their class's busiest image"
    )
    reseed_share: float = param(
        0.6, "an image filling fewer than this share of the average slots per image is re-started"
    )
    sign_rounds: int = param(
        0,
        "signed ranges with a mask: rounds of image-sign synchronisation and soft re-signing "
        "(pays off only with an accurate grouping, see the docs)",
    )
    slot_sweeps: int = param(2, "coordinate-descent sweeps per round for rows with more than two private slots")

    def validate(self) -> None:
        if self.num_private is not None and self.num_private < 2:
            raise ConfigError(f"num_private must be at least 2, got {self.num_private}")
        if self.feature_sigma < 0 or self.support_factor <= 0:
            raise ConfigError("feature_sigma must be >= 0 and support_factor > 0")
        if min(self.refine_rounds, self.sign_rounds, self.reseed_rounds) < 0 or self.slot_sweeps < 1:
            raise ConfigError("refine_rounds, reseed_rounds and sign_rounds must be >= 0, slot_sweeps >= 1")


@dataclass(frozen=True)
class ChallengeFacts:
    """The public encoder parameters the attack relies on."""

    num_private: int
    private_slots: int
    upper: float
    masked: bool

    @classmethod
    def read(cls, challenge: PublicChallenge, config: MixupSignRecoveryConfig) -> ChallengeFacts:
        params = challenge.meta.params  # a bare original-release directory gets the release's published ones
        missing = [name for name in ("k", "private_slots", "mask") if params.get(name) is None]
        if missing:
            raise ConfigError(f"challenge.json lacks {', '.join(missing)}; this attack needs them")
        inside = params.get("mode") == "inside"
        num_private = config.num_private or params.get("n")
        if num_private is None:
            raise ConfigError("challenge.json does not give n; set num_private")
        return cls(
            num_private=int(num_private),
            private_slots=int(params["k"] if inside else params["private_slots"]),
            upper=float(params.get("upper") or 1.0),
            masked=bool(params["mask"]),
        )


@dataclass
class Recovery:
    """What the attack worked out: the model, how the signs were obtained, diagnostics."""

    facts: ChallengeFacts
    structure: LabelStructure
    signs: SignRecovery
    model: Model
    image_class: np.ndarray
    class_sizes: np.ndarray
    reseeded: int
    timings: dict[str, float]


def recover(challenge: PublicChallenge, config: MixupSignRecoveryConfig, context: AttackContext) -> Recovery:
    """Run the whole pipeline on the public challenge (module docstring, steps 1 to 5)."""
    clock = time.perf_counter()
    facts = ChallengeFacts.read(challenge, config)
    structure = parse_labels(challenge.labels, facts.private_slots)
    signs = recover_signs(challenge.encryption, challenge.pixels, facts.masked)
    public_weight = structure.public_weight
    sigma = config.feature_sigma if np.any(public_weight > 0) or not signs.exact else 0.0
    row_weight = public_noise_weights(public_weight)
    rows_per_image = structure.num_rows * facts.private_slots / facts.num_private
    settings = RefineSettings(sigma, facts.upper, config.refine_rounds, config.slot_sweeps)
    context.logger.info(
        "signs: %s; %d rows, n=%d, %d private slots",
        signs.method,
        structure.num_rows,
        facts.num_private,
        facts.private_slots,
    )

    features = highpass(signs.mixtures, sigma)
    codes = sparse_components(
        features,
        facts.num_private,
        structure.private_weight,
        round(config.support_factor * rows_per_image),
        context.seed,
    )
    class_sizes = estimate_class_sizes(structure, facts.num_private)
    image_class = component_classes(codes, structure, class_sizes)
    model = start_model(
        signs.mixtures, initial_assignment(codes, structure, image_class), facts.num_private, public_weight, row_weight
    )
    timings = {"grouping": time.perf_counter() - clock}

    refine = partial(
        alternate, structure=structure, image_class=image_class, public_weight=public_weight, row_weight=row_weight
    )
    model = refine(
        signs.mixtures,
        features,
        model=model,
        settings=settings,
        progress=lambda rounds: context.progress(rounds, desc="refine", unit="round"),
    )
    reseeded = 0
    for _ in range(config.reseed_rounds):
        weak = weakest_per_class(
            slot_counts(model, facts.num_private), image_class, rows_per_image, config.reseed_share
        )
        if not weak:
            break
        reseeded += len(weak)
        model = reseed(signs.mixtures, model, structure, image_class, public_weight, weak, sigma)
        model = refine(signs.mixtures, features, model=model, settings=settings)
    timings["refinement"] = time.perf_counter() - clock - sum(timings.values())

    if not signs.exact and facts.private_slots == 2 and config.sign_rounds:
        quick = replace(settings, max_rounds=2)
        for _ in context.progress(range(config.sign_rounds), desc="sign synchronisation", unit="round"):
            signs, model = resign(challenge, model, public_weight)
            model = start_model(signs.mixtures, model.assignment, facts.num_private, public_weight, row_weight)
            model = refine(signs.mixtures, highpass(signs.mixtures, sigma), model=model, settings=quick)
        timings["signs"] = time.perf_counter() - clock - sum(timings.values())

    timings["total"] = time.perf_counter() - clock
    return Recovery(facts, structure, signs, model, image_class, class_sizes, reseeded, timings)


def resign(challenge: PublicChallenge, model: Model, public_weight: np.ndarray) -> tuple[SignRecovery, Model]:
    """One round of :mod:`.sign_sync`: synchronise the images' signs, then re-sign the rows softly."""
    magnitude = np.abs(challenge.encryption.reshape(challenge.num_rows, -1)).astype(np.float64)
    predicted = predict_mixtures(model.assignment, model.images, model.public_mean, public_weight)
    variance = noise_variance(magnitude, predicted, public_weight)
    public_mean = np.zeros(magnitude.shape[1]) if model.public_mean is None else model.public_mean.reshape(-1)
    images = synchronise_image_signs(
        magnitude,
        model.assignment,
        model.images,
        np.outer(public_weight, public_mean),
        variance,
        prior_signs(challenge.pixels),
    )
    flipped = np.where((images * model.images).reshape(images.shape[0], -1).sum(axis=0) < 0, -1.0, 1.0)
    public_mean = public_mean * flipped  # the public mean shares each pixel's global flip
    model = Model(model.assignment, images, public_mean.reshape(images.shape[1:]), list(model.changed))
    predicted = predict_mixtures(model.assignment, images, model.public_mean, public_weight)
    mixtures = posterior_mixtures(magnitude, predicted, variance).astype(np.float32)
    return SignRecovery(mixtures.reshape(challenge.encryption.shape), "model"), model


@ATTACKS.register("mixup-sign-recovery")
class MixupSignRecoveryAttack(Attack):
    """Recover signs, group rows by shared private image, demix by least squares."""

    name = "mixup-sign-recovery"
    version = "1.0"
    Config = MixupSignRecoveryConfig
    config: MixupSignRecoveryConfig
    complexity = "O(E·D·n) subspace + least squares, O(E·n²/C²) pair fits per round, O(D·n²) sign synchronisation"
    summary = (
        "docs/specification.md §6 Mixup attack: |e| or synchronised signs, l4 sparse components + labels "
        "for grouping, least squares"
    )

    def run(self, challenge: PublicChallenge, context: AttackContext) -> AttackResult:
        found = recover(challenge, self.config, context)
        recovered = challenge.pixels.clip(found.model.images.astype(np.float32))
        chosen, partner = select_outputs(found.model, found.structure)
        context.logger.info(
            "rows changed per refinement round: %s; %.1f s",
            [round(c, 4) for c in found.model.changed],
            found.timings["total"],
        )
        info = {
            "sign_method": found.signs.method,
            "class_sizes": found.class_sizes.tolist(),
            "changed_per_round": [round(c, 5) for c in found.model.changed],
            "images_reseeded": found.reseeded,
            "timings_seconds": {k: round(v, 2) for k, v in found.timings.items()},
        }
        return AttackResult(
            decryption=recovered[chosen],
            recovered=recovered,
            assignment=np.stack([chosen, partner], axis=1),
            message=f"signs {found.signs.method}; {found.facts.num_private} images recovered by least squares",
            info=info,
        )


def select_outputs(model: Model, structure: LabelStructure) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the image to output (the heaviest: recovered most reliably) and the next one."""
    assignment = model.assignment
    rows = np.arange(structure.num_rows)
    order = np.argsort(-assignment.coefficients, axis=1, kind="stable")
    return assignment.images[rows, order[:, 0]], assignment.images[rows, order[:, 1]]


__all__ = [
    "ChallengeFacts",
    "MixupSignRecoveryAttack",
    "MixupSignRecoveryConfig",
    "Recovery",
    "recover",
    "resign",
    "select_outputs",
]
