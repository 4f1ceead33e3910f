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
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch

from instahide_bench.attacks.common.cache import cached, fingerprint
from instahide_bench.attacks.gradient_inversion.analytic import disaggregate, first_layer_names
from instahide_bench.attacks.gradient_inversion.labels import (
    batch_totals,
    classifier_names,
    restore_given_features,
    restore_single,
)
from instahide_bench.attacks.gradient_inversion.matching import MatchSettings, match_step
from instahide_bench.core.attack import ATTACKS, Attack, AttackContext, AttackResult
from instahide_bench.core.challenge import PublicChallenge
from instahide_bench.core.config import param
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.gradients import GradientRelease
from instahide_bench.core.pixels import PixelSpace
from instahide_bench.core.training.fedsgd import load_state
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

    def validate(self) -> None:
        if self.iterations < 1 or self.restarts < 1 or self.lr <= 0 or self.tv < 0:
            raise ConfigError("need iterations >= 1, restarts >= 1, lr > 0 and tv >= 0")
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
        mismatches: list[float] = []
        started = time.perf_counter()
        base = fingerprint(
            challenge=challenge.meta.challenge_id, config=asdict(self.config), method=method, version=self.version
        )
        weights = release.weights()
        for step in context.progress(range(steps), desc="inverting updates", total=steps, unit="step"):
            state = next(weights)
            out = cached(
                context,
                f"step-{step:06d}",
                fingerprint(base=base, step=step),
                lambda state=state, step=step: self._invert(  # type: ignore[misc]
                    model, state, release, step, method, analytic, settings, box, context.seed
                ),
            )
            rows = slice(step * size, (step + 1) * size)
            found = out["inputs"].shape[0]
            inputs[rows][:found] = out["inputs"]
            labels[rows] = out["labels"]
            mismatches.append(float(out["mismatch"]))
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
                "mean_mismatch": float(np.mean(mismatches)) if mismatches else None,
                "seconds_per_step": (time.perf_counter() - started) / max(1, steps),
            },
        )

    def _invert(
        self,
        model: torch.nn.Module,
        state: dict[str, np.ndarray],
        release: GradientRelease,
        step: int,
        method: str,
        analytic: tuple[str, str] | None,
        settings: MatchSettings,
        box: tuple[np.ndarray, np.ndarray],
        seed: int,
    ) -> dict[str, np.ndarray]:
        setup = release.setup
        update = release.update(step)
        size = setup.batch_size
        weight_name, bias_name = classifier_names(setup)
        known = release.step_labels(step)
        label_init, total = None, 1.0
        if known is None and size == 1:
            label, _ = restore_single(update[weight_name], update[bias_name], state[weight_name], state[bias_name])
            known = label[None]
        elif known is None:
            load_state(model, state)
            probs = _mean_prediction(model, box, size, setup.batchnorm == "train", seed)
            totals, total = batch_totals(update[bias_name], probs, size)
            label_init = np.repeat((totals / max(size, 1))[None], size, axis=0)
        if method == "analytic":
            assert analytic is not None
            found = disaggregate(update[analytic[0]], update[analytic[1]], size).images()
            images = np.broadcast_to((box[0] + box[1]) / 2, (size, 32, 32, 3)).astype(np.float32)
            images[: len(found)] = np.clip(found, box[0], box[1])
            if known is None:
                load_state(model, state)
                features, probs = features_and_probs(model, images, weight_name, setup.batchnorm == "train")
                known = restore_given_features(update[weight_name], features, probs)
            return {"inputs": images, "labels": known.astype(np.float32), "mismatch": np.zeros(())}
        load_state(model, state)
        generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
        matched = match_step(
            model,
            [update[t.name] for t in setup.parameters],
            size,
            box,
            settings,
            generator,
            labels=known,
            label_init=label_init,
            label_total=total,
            train_mode=setup.batchnorm == "train",
        )
        return {"inputs": matched.inputs, "labels": matched.labels, "mismatch": np.array(matched.mismatch)}


def _label_method(public: bool, size: int, method: str) -> str:
    """How the rows' labels were obtained (for the run's info)."""
    if public:
        return "public"
    if size == 1:
        return "analytic"
    return "from the recovered inputs" if method == "analytic" else "optimised with the inputs"


def features_and_probs(
    model: torch.nn.Module, inputs: np.ndarray, weight_name: str, train_mode: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The classifier's input (features) and the softmax of each row of ``inputs`` (NHWC), as the client ran it."""
    captured: list[torch.Tensor] = []
    classifier = model.get_submodule(weight_name.rsplit(".", 1)[0])
    handle = classifier.register_forward_hook(lambda _m, args, _out: captured.append(args[0].detach()))
    model.train(train_mode)
    try:
        with torch.no_grad():
            logits = model(torch.from_numpy(np.ascontiguousarray(inputs.transpose(0, 3, 1, 2))))
    finally:
        handle.remove()
    return captured[0].double().numpy(), torch.softmax(logits, dim=1).double().numpy()


def _mean_prediction(
    model: torch.nn.Module, box: tuple[np.ndarray, np.ndarray], size: int, train_mode: bool, seed: int
) -> np.ndarray:
    """The model's mean softmax on random inputs in the box: the stand-in for the batch's mean prediction."""
    generator = torch.Generator().manual_seed(seed)
    low = torch.from_numpy(box[0]).view(1, 3, 1, 1)
    high = torch.from_numpy(box[1]).view(1, 3, 1, 1)
    x = low + (high - low) * torch.rand((max(size, 8), 3, 32, 32), generator=generator)
    model.train(train_mode)
    with torch.no_grad():
        return torch.softmax(model(x), dim=1).mean(0).double().numpy()


__all__ = ["GradientInversionAttack", "GradientInversionConfig", "decode_rows", "input_box"]
