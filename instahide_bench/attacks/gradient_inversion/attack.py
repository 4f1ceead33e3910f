"""``gradient-inversion``: a federated server recovers its client's inputs from the updates, then decodes them.

Per step (steps are independent; each is cached for ``--resume``):

1. **labels**: public ones when the challenge releases them; at B = 1 restored exactly from
   the classifier's update (:mod:`.labels`); at B > 1 the batch's label totals are estimated
   and each row's label is optimised with its input;
2. **inputs**: where the model's first layer is fully connected with a bias (``mlp``), read
   off its update exactly (:mod:`.analytic`); otherwise found by gradient matching
   (:mod:`.matching`) with a prior that fits what the client feeds (TV of the image, or of its
   magnitude when the encoder masks signs);
3. **decode**: each recovered input made into a guess of its private image on its own: the
   input itself for a release (``vanilla``, a random subset) or an unmasked mixture, grey for
   a masked encoding (alone, it says less than a grey image). Better decoders are the release attacks, run on
   the recovered inputs and labels as a derived release (``attack gradient-inversion --then
   carlini-graph``; docs/attacks/gradient-inversion.md).

The attack sees the challenge's public files only: the first weights, every update, the
setup and the encoder's public parameters (and the labels, when public).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch

from instahide_bench.attacks.common.cache import fingerprint, lookup, store
from instahide_bench.attacks.common.dask_cluster import dask_client
from instahide_bench.attacks.gradient_inversion.analytic import first_layer_names
from instahide_bench.attacks.gradient_inversion.matching import MatchSettings
from instahide_bench.attacks.gradient_inversion.steps import StepJob, invert_step
from instahide_bench.core.attack import ATTACKS, Attack, AttackContext, AttackResult
from instahide_bench.core.challenge import PublicChallenge
from instahide_bench.core.config import Endpoint, param
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.pixels import PixelSpace
from instahide_bench.core.training.models import build_model

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GradientInversionConfig:
    """Parameters of ``gradient-inversion`` (the setup and the encoder's parameters come from challenge.json)."""

    method: Literal["auto", "analytic", "matching"] = param(
        "auto", "auto: analytic where the first layer is fully connected with a bias, else gradient matching"
    )
    iterations: int = param(1000, "gradient matching: Adam iterations per restart")
    lr: float = param(0.1, "gradient matching: Adam step (on the gradient's sign), decayed x0.1 at 3/8, 5/8, 7/8")
    prior: Literal["auto", "tv", "tv-abs", "none"] = param(
        "auto", "gradient matching: auto = TV of |x| when the encoder masks signs, else TV of x"
    )
    tv: float = param(1e-4, "gradient matching: weight of the prior")
    restarts: int = param(1, "gradient matching: random starts per step (the best match is kept)")
    max_steps: int | None = param(None, "invert the first K steps only (the others decode as grey); None: all")
    threads: int = param(1, "torch threads of the worker process")
    workers: int = param(1, "steps inverted at once on a Dask LocalCluster of this many processes (1: in turn)")
    scheduler: Endpoint | None = param(None, "a running Dask scheduler tcp://HOST:PORT to invert steps on instead")

    def validate(self) -> None:
        if self.iterations < 1 or self.restarts < 1 or self.lr <= 0 or self.tv < 0:
            raise ConfigError("need iterations >= 1, restarts >= 1, lr > 0 and tv >= 0")
        if self.workers < 1:
            raise ConfigError(f"workers must be at least 1, got {self.workers}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"max_steps must be at least 1 (or None), got {self.max_steps}")


def input_box(pixels: PixelSpace, masked: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel bounds of a fed value: the pixel box, made symmetric when signs are masked."""
    low, high = np.asarray(pixels.low, np.float32), np.asarray(pixels.high, np.float32)
    if masked:
        bound = np.maximum(np.abs(low), np.abs(high))
        return -bound, bound
    return low, high


def decode_rows(inputs: np.ndarray, pixels: PixelSpace, masked: bool) -> np.ndarray:
    """Each recovered input's own guess of its private image (see the module docstring).

    A masked encoding alone says little about its private images: its rescaled magnitude
    (``abs-rescale``) scores below a grey image (measured: -0.04 against grey's 0.16 on CIFAR-10
    with instahide-inside), so a masked row decodes as grey and the release attacks (``--then``)
    do the decoding.
    """
    if masked:
        grey = pixels.from_unit(np.full((1, 32, 32, 3), 0.5, np.float32))
        return np.repeat(grey, len(inputs), axis=0).astype(np.float32)
    return pixels.clip(inputs.astype(np.float32))


@ATTACKS.register("gradient-inversion")
class GradientInversionAttack(Attack):
    """Invert every update of a gradient challenge; decode the recovered inputs row by row."""

    name = "gradient-inversion"
    version = "1.0"
    Config = GradientInversionConfig
    config: GradientInversionConfig
    complexity = "O(S x iterations x backward passes of a batch); analytic: O(S x first-layer size)"
    summary = "federated learning: inputs from each update (analytic or gradient matching), then a row-wise decode"
    challenge_kinds = ("gradients",)

    def run(self, challenge: PublicChallenge, context: AttackContext) -> AttackResult:
        release = challenge.gradients
        if release is None:
            raise ConfigError("gradient-inversion needs a gradient challenge (generate --gradients)")
        setup = release.setup
        params = challenge.meta.params
        masked = bool(params.get("mask", False))
        prior = self.config.prior if self.config.prior != "auto" else ("tv-abs" if masked else "tv")
        analytic = first_layer_names(setup)
        method = self.config.method
        if method == "auto":
            method = "analytic" if analytic is not None else "matching"
        if method == "analytic" and analytic is None:
            raise ConfigError(f"model {setup.model!r} has no fully connected first layer: use method=matching")
        steps = setup.steps if self.config.max_steps is None else min(setup.steps, self.config.max_steps)
        box = input_box(challenge.pixels, masked)
        settings = MatchSettings(
            self.config.iterations, self.config.lr, prior, self.config.tv, self.config.restarts, signed=True
        )
        model = build_model(setup.model, setup.num_classes, torch.Generator().manual_seed(0), "cpu")
        built = [(name, tuple(p.shape)) for name, p in model.named_parameters()]
        if built != [(t.name, t.shape) for t in setup.parameters]:
            raise ConfigError(
                f"the challenge's {setup.model!r} has other parameters than this version's {setup.model!r} "
                "(challenge.json 'gradients.parameters'); it was made by another version of the suite"
            )
        grey = challenge.pixels.from_unit(np.full((1, 32, 32, 3), 0.5, np.float32))[0]
        size = setup.batch_size
        inputs = np.repeat(grey[None], setup.num_rows, axis=0).astype(np.float32)
        labels = np.zeros((setup.num_rows, setup.num_classes), np.float32)
        mismatches: dict[int, float] = {}
        started = time.perf_counter()
        base = fingerprint(
            challenge=challenge.meta.challenge_id, config=asdict(self.config), method=method, version=self.version
        )

        def keep(step: int, out: dict[str, np.ndarray]) -> None:
            rows = slice(step * size, (step + 1) * size)
            inputs[rows] = out["inputs"]
            labels[rows] = out["labels"]
            mismatches[step] = float(out["mismatch"])

        jobs = []
        for step, state in zip(range(steps), release.weights(), strict=False):
            key = fingerprint(base=base, step=step)
            out = lookup(context, f"step-{step:06d}", key)
            if out is not None:
                keep(step, out)
                continue
            job = StepJob(
                setup, state, release.update(step), release.step_labels(step), step, method, settings, box, context.seed
            )
            jobs.append((key, job))
        for key, job, out in self._run_jobs(jobs, context):
            store(context, f"step-{job.step:06d}", key, out)
            keep(job.step, out)
        decryption = decode_rows(inputs, challenge.pixels, masked)
        decryption[steps * size :] = grey
        return AttackResult(
            decryption,
            inputs=inputs,
            labels=labels,
            info={
                "method": method,
                "prior": prior if method == "matching" else None,
                "steps_inverted": steps,
                "labels": _label_method(release.labels is not None, size, method),
                "mean_mismatch": float(np.mean(list(mismatches.values()))) if mismatches else None,
                "workers": self.config.workers,
                "seconds_per_step": (time.perf_counter() - started) / max(1, steps),
            },
        )

    def _run_jobs(
        self, jobs: list[tuple[str, StepJob]], context: AttackContext
    ) -> Iterator[tuple[str, StepJob, dict[str, np.ndarray]]]:
        """Each job's result as it finishes: here, one after the other, or on Dask workers (steps are independent)."""
        if not jobs:
            return
        if self.config.workers <= 1 and self.config.scheduler is None:
            for key, job in context.progress(jobs, desc="inverting updates", total=len(jobs), unit="step"):
                yield key, job, invert_step(job)
            return
        from distributed import as_completed

        with dask_client(self.config.scheduler, self.config.workers) as client:
            futures = {client.submit(invert_step, job, pure=False): (key, job) for key, job in jobs}
            with context.bar(desc="inverting updates", total=len(jobs), unit="step") as bar:
                for future in as_completed(futures):
                    key, job = futures[future]
                    yield key, job, future.result()
                    bar.update(1)


def _label_method(public: bool, size: int, method: str) -> str:
    """How the rows' labels were obtained (for the run's info)."""
    if public:
        return "public"
    if size == 1:
        return "analytic"
    return "from the recovered inputs" if method == "analytic" else "optimised with the inputs"


__all__ = ["GradientInversionAttack", "GradientInversionConfig", "decode_rows", "input_box"]
