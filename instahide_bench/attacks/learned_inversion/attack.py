"""``learned-inversion``: learn the inverse of one encryption on a simulation, then fuse rows.

Stages (outputs cached under the run's workdir, so ``--resume`` restarts after the last finished one):

1. ``simulate``  InstaHide run by the attacker on auxiliary images with the challenge's *public*
   parameters (:mod:`instahide_bench.attacks.common.simulate`); never the challenge's key;
2. ``train``     the U-Net of :mod:`.network` fitted on it (:mod:`.training`): row -> dominant image;
3. ``predict``   every challenge row inverted on its own: a decryption for every row, so T = 1 works;
4. ``fuse``      rows that share a private image (same dominant class, alike predictions) averaged
   (:mod:`.fusion`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from instahide_bench.attacks.common.cache import cached, fingerprint
from instahide_bench.attacks.common.labels import parse_labels
from instahide_bench.attacks.common.simulate import auxiliary_images, simulate, simulation_config
from instahide_bench.attacks.learned_inversion.augment import recolour_private, tint_public
from instahide_bench.attacks.learned_inversion.features import dominant_images, row_inputs
from instahide_bench.attacks.learned_inversion.fusion import fuse_neighbours
from instahide_bench.attacks.learned_inversion.training import TrainedInversion, TrainSettings, predict, train_inversion
from instahide_bench.core.attack import ATTACKS, Attack, AttackContext, AttackResult
from instahide_bench.core.challenge import PublicChallenge
from instahide_bench.core.config import param
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.instahide import required_public

logger = logging.getLogger(__name__)

#: Public parameters that shape the simulation's rows (n, T and the RNG's kind and draw order do not).
ROW_PARAMS = ("mode", "k", "private_slots", "upper", "dom", "pool_size", "public_reuse", "pixels", "mask")


@dataclass(frozen=True)
class LearnedInversionConfig:
    """Parameters of ``learned-inversion`` (challenge facts come from challenge.json and label.npy)."""

    aux_private: str = param(
        "embedded",
        "data source of the auxiliary private images InstaHide is simulated on (never the challenge's)",
        data_source=True,
    )
    aux_public: str = param("embedded", "data source of the simulation's public patches", data_source=True)
    aux_images: int = param(300, "auxiliary private images in the simulation")
    aux_T: int = param(8, "encryptions per auxiliary image (rows = aux_images x aux_T x colour variants)")
    aux_recolour: bool = param(
        False,
        "recolour the simulation: colour variants of the private images, tinted public patches "
        "(measured on CIFAR-10 with the embedded photographs: no gain, see the docs)",
    )
    aux_variants: int = param(3, "copies of each auxiliary private image when recolouring (the first unchanged)")
    class_input: bool = param(
        True, "give the network the label classes (only when the auxiliary images have the challenge's classes)"
    )
    width: int = param(16, "channels of the U-Net's first level (then 2x and 4x)")
    steps: int = param(800, "Adam steps of training")
    batch: int = param(64, "rows per training step")
    lr: float = param(0.002, "peak learning rate (one-cycle schedule)")
    heldout: float = param(0.1, "share of the auxiliary images held out to report the simulated SSIM")
    fusion: Literal["neighbours", "none"] = param(
        "neighbours", "fuse rows that share a private image (neighbours) or show each row's own prediction (none)"
    )
    fusion_neighbours: int | None = param(None, "rows averaged into each row; None = T - 1 (estimated from E / n)")
    fusion_temperature: float = param(0.2, "similarity kernel width of the fusion (smaller trusts near rows more)")
    fusion_rounds: int = param(2, "fusion passes; later ones find neighbours through the fused images")
    num_private: int | None = param(None, "private images n (for the fusion's T); None reads challenge.json")
    threads: int = param(2, "CPU threads for torch when running on the CPU (set by the attack worker process)")

    def validate(self) -> None:
        if self.aux_images < 2 or self.aux_T < 1 or self.aux_variants < 1:
            raise ConfigError("aux_images must be at least 2, aux_T and aux_variants at least 1")
        if self.width < 1 or self.steps < 0 or self.batch < 1 or self.lr <= 0 or self.threads < 1:
            raise ConfigError("width, batch, lr and threads must be positive and steps non-negative")
        if not 0 <= self.heldout < 1:
            raise ConfigError("heldout must be in [0, 1)")
        if (self.fusion_neighbours is not None and self.fusion_neighbours < 0) or self.fusion_temperature <= 0:
            raise ConfigError("fusion_neighbours must be non-negative and fusion_temperature positive")
        if self.fusion_rounds < 1:
            raise ConfigError("fusion_rounds must be at least 1")

    def train_settings(self) -> TrainSettings:
        return TrainSettings(width=self.width, steps=self.steps, batch=self.batch, lr=self.lr, heldout=self.heldout)


@ATTACKS.register("learned-inversion")
class LearnedInversionAttack(Attack):
    """A U-Net trained on simulated InstaHide inverts each row; rows sharing an image are fused."""

    name = "learned-inversion"
    version = "1.0"
    Config = LearnedInversionConfig
    config: LearnedInversionConfig
    complexity = "O(steps) training + O(E) inference + O(E^2 / C) fusion similarities"
    summary = "U-Net trained on simulated InstaHide inverts one encryption (T = 1 works); fuses rows sharing an image"

    def run(self, challenge: PublicChallenge, context: AttackContext) -> AttackResult:
        config = self.config
        params = dict(challenge.meta.params)
        slots = int(params.get("private_slots", 2))
        timings: dict[str, float] = {}

        clock = time.perf_counter()
        row_params = {name: params.get(name) for name in ROW_PARAMS}
        # recolouring enters the key only when on, so the keys of unrecoloured simulations stay as they were
        recolour = {"recolour": config.aux_variants} if config.aux_recolour else {}
        sim_key = fingerprint(
            params=row_params,
            pixels=str(challenge.pixels),
            seed=context.seed,
            aux=(config.aux_private, config.aux_public, config.aux_images, config.aux_T),
            **recolour,
        )
        simulation = cached(context, "simulate", sim_key, lambda: self._simulate(challenge, context))
        timings["simulate"] = time.perf_counter() - clock

        with_classes = bool(config.class_input and simulation["classes_match"])
        clock = time.perf_counter()
        train_key = fingerprint(sim=sim_key, settings=asdict(config.train_settings()), classes=with_classes)
        trained = TrainedInversion.from_arrays(
            cached(context, "train", train_key, lambda: self._train(simulation, challenge, with_classes, context))
        )
        timings["train"] = time.perf_counter() - clock

        clock = time.perf_counter()
        rows_key = fingerprint(
            challenge=challenge.meta.challenge_id,
            rows=challenge.num_rows,
            encryption=float(np.abs(challenge.encryption).sum()),
            labels=float(challenge.labels.sum()),
        )
        predict_key = fingerprint(train=train_key, rows=rows_key)
        inputs = row_inputs(challenge.encryption, challenge.labels, slots, with_classes)
        predictions = cached(
            context,
            "predict",
            predict_key,
            lambda: {
                "unit": predict(
                    trained,
                    inputs,
                    context.device,
                    progress=lambda it: context.progress(
                        it, desc="inverting rows", total=-(-len(inputs) // 256), unit="batch"
                    ),
                )
            },
        )["unit"]
        timings["predict"] = time.perf_counter() - clock

        clock = time.perf_counter()
        neighbours = self._neighbours(challenge)
        fuse_key = fingerprint(
            predict=predict_key,
            neighbours=neighbours,
            temperature=config.fusion_temperature,
            rounds=config.fusion_rounds,
            mode=config.fusion,
        )
        fused = cached(context, "fuse", fuse_key, lambda: self._fuse(predictions, challenge, neighbours, context))
        timings["fuse"] = time.perf_counter() - clock

        unit = fused["unit"].transpose(0, 2, 3, 1)
        decryption = challenge.pixels.clip(challenge.pixels.from_unit(unit)).astype(np.float32)
        info: dict[str, Any] = {
            "heldout_ssim_simulated": trained.heldout_ssim,
            "train_seconds": trained.seconds,
            "fusion_neighbours": neighbours,
            "class_input": with_classes,
            "timings_s": timings,
            "device": str(context.device),
        }
        return AttackResult(decryption, info=info)

    # ------------------------------------------------------------------ stages

    def _simulate(self, challenge: PublicChallenge, context: AttackContext) -> dict[str, np.ndarray]:
        config = self.config
        params = dict(challenge.meta.params)
        variants = config.aux_variants if config.aux_recolour else 1
        context.logger.info(
            "simulating InstaHide on %d auxiliary images (%s) x %d colour variants",
            config.aux_images,
            config.aux_private,
            variants,
        )
        needed = required_public(simulation_config(params, config.aux_images * variants, config.aux_T))
        seed = context.seed * 2 + 1
        private, public = auxiliary_images(config.aux_private, config.aux_public, config.aux_images, needed, seed)
        if config.aux_recolour:
            rng = np.random.default_rng(seed + 2)
            private = recolour_private(private, variants, rng)
            public = None if public is None else tint_public(public, rng)
        simulation = simulate(params, private, public, config.aux_T, seed)
        match = tuple(private.class_names) == tuple(challenge.meta.class_names)
        originals = np.array(config.aux_images)  # variant j of image i is image i + j * aux_images
        return {**simulation.to_arrays(), "classes_match": np.array(match), "originals": originals}

    def _train(
        self, simulation: dict[str, np.ndarray], challenge: PublicChallenge, with_classes: bool, context: AttackContext
    ) -> dict[str, np.ndarray]:
        slots = simulation["private_index"].shape[1]
        inputs = row_inputs(simulation["encryption"], simulation["labels"], slots, with_classes)
        dominant = dominant_images(simulation["private_index"], simulation["coefficients"])
        # hold out whole originals (all their colour variants), so the held-out images are unseen
        originals = int(simulation["originals"]) if "originals" in simulation else len(simulation["private"])
        targets = np.clip(challenge.pixels.to_unit(simulation["private"][dominant]), 0.0, 1.0).transpose(0, 3, 1, 2)
        context.logger.info("training the inversion network on %d simulated rows", len(inputs))
        return train_inversion(
            inputs,
            targets,
            dominant % originals,
            self.config.train_settings(),
            seed=context.seed,
            device=context.device,
            progress=lambda it: context.progress(it, desc="training", total=self.config.steps, unit="step"),
        ).to_arrays()

    def _neighbours(self, challenge: PublicChallenge) -> int:
        """Rows fused into each row: the setting, else T - 1 with T = E / n (0 when n is unknown)."""
        if self.config.fusion == "none":
            return 0
        if self.config.fusion_neighbours is not None:
            return self.config.fusion_neighbours
        n = self.config.num_private or challenge.meta.num_private
        if not n:
            logger.warning("n is unknown (set num_private): rows are not fused")
            return 0
        return max(round(challenge.num_rows / n) - 1, 0)

    def _fuse(
        self, predictions: np.ndarray, challenge: PublicChallenge, neighbours: int, context: AttackContext
    ) -> dict[str, np.ndarray]:
        structure = parse_labels(challenge.labels, int(challenge.meta.params.get("private_slots", 2)))
        groups = len(np.unique(structure.classes[:, 0]))
        fused, confidence = fuse_neighbours(
            predictions,
            structure.classes[:, 0],
            structure.weights[:, 0],
            neighbours,
            temperature=self.config.fusion_temperature,
            rounds=self.config.fusion_rounds,
            device=context.device,
            progress=lambda it: context.progress(it, desc="fusing rows", total=groups, unit="class"),
        )
        return {"unit": fused, "confidence": confidence}


__all__ = ["LearnedInversionAttack", "LearnedInversionConfig"]
