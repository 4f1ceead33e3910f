"""Training a classifier on a published release, and what membership attacks read from it.

The release of a challenge (``encryption.npy`` with its soft labels ``label.npy``: a condensed
set, a random subset, InstaHide encryptions or the private images themselves) is public, so an
attacker can train the model that whoever uses the release would train. The recipe is the one
``instahide-bench utility`` uses (:mod:`instahide_bench.core.training`: same models, loop,
optimiser and schedule); the release is a fixed set of rows, augmented and reshuffled each
epoch (:func:`~instahide_bench.core.training.epochs.fixed_set_epochs`).

Shared by the membership attacks (``loss-threshold``; LiRA's shadow models train the same way).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from instahide_bench.core.challenge import PublicChallenge
from instahide_bench.core.config import param
from instahide_bench.core.data import ImageSet, parse_source
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.pixels import PixelSpace
from instahide_bench.core.training import (
    AUGMENTATIONS,
    MODELS,
    EvalSet,
    TrainConfig,
    TrainingBatch,
    build_model,
    evaluate,
    train,
)
from instahide_bench.core.training.epochs import batches_per_epoch, fixed_set_epochs
from instahide_bench.core.training.loop import to_tensor

logger = logging.getLogger(__name__)

#: Release rows used to report the model's accuracy on its own training set after each epoch.
MONITOR_ROWS = 1024


@dataclass(frozen=True)
class ReleaseRecipe:
    """The defender's recipe for a model trained on a release: the fields every release-trained
    attack config shares (subclass it and add the attack's own), so that the target of
    ``loss-threshold`` and the target and shadows of ``lira`` are trained one way."""

    model: str = param("small-cnn", "classifier: " + ", ".join(MODELS))
    epochs: int = param(30, "passes over the release")
    batch_size: int = param(128, "rows per SGD step")
    lr: float = param(0.1, "initial learning rate (divided by 10 at 50% and 75% of the epochs)")
    weight_decay: float = param(1e-4, "L2 weight decay")
    augment: str = param("crop-flip", "augmentation of the release rows: " + ", ".join(AUGMENTATIONS))
    device: str = param("auto", "auto: the runner's device; or cpu, cuda, cuda:1, ...")
    eval_data: str = param(
        "",
        "labelled held-out images of the challenge's classes (e.g. cifar10:PATH?split=test): the target "
        "model's accuracy on them is reported as info test_accuracy, the release's utility; empty: not measured",
        data_source=True,
    )

    def train_config(self, seed: int, runner_device: str | None = None) -> TrainConfig:
        """The recipe as :class:`TrainConfig` (utility's defaults for what is not set here);
        ``device = auto`` becomes ``runner_device`` when given (the device the runner lends)."""
        device = runner_device if self.device == "auto" and runner_device else self.device
        return TrainConfig(
            model=self.model,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            augment=self.augment,
            seed=seed,
            device=device,
        )


def release_rows(challenge: PublicChallenge) -> TrainingBatch:
    """The release as training rows: its images, its (soft) labels, ``primary`` = row number."""
    return TrainingBatch(
        np.asarray(challenge.encryption, dtype=np.float32),
        np.asarray(challenge.labels, dtype=np.float32),
        np.arange(challenge.num_rows, dtype=np.int64),
    )


def train_on_rows(rows: TrainingBatch, pixels: PixelSpace, config: TrainConfig, *, label: str = "release") -> nn.Module:
    """A model trained on ``rows`` with ``config`` (utility's recipe), in eval mode on ``config.device``.

    The loop's per-epoch test accuracy is measured on (up to :data:`MONITOR_ROWS` of) the rows
    themselves against the argmax of their targets: how well the model fits what it trains on.
    """
    num_classes = int(rows.targets.shape[1])
    monitor = slice(0, min(len(rows), MONITOR_ROWS))
    fit = EvalSet(rows.inputs[monitor], rows.targets[monitor].argmax(axis=1))
    result = train(
        config,
        num_classes,
        fixed_set_epochs(rows, pixels, config),
        fit,
        batches_per_epoch=batches_per_epoch(len(rows), config.batch_size),
        label=label,
    )
    device = torch.device(result.device)
    model = build_model(config.model, num_classes, torch.Generator().manual_seed(config.seed), device)
    model.load_state_dict(result.model_state)
    model.eval()
    logger.info("%s: trained on %d rows, fit accuracy %.4f", label, len(rows), result.accuracy)
    return model


def labelled_images(spec: str, class_names: tuple[str, ...], setting: str) -> ImageSet:
    """Every image of the source ``spec``, which must hold the challenge's classes in its order.

    Raises
    ------
    ConfigError
        Naming ``setting``, when the source cannot list its images or its classes are not the challenge's.
    """
    source = parse_source(spec, "private")
    load_all = getattr(source, "load_all", None)
    if load_all is None:
        raise ConfigError(f"{setting}: {spec} cannot list its images; use a cifar10:, npy:, mnist5k or embedded source")
    images: ImageSet = load_all()
    if tuple(images.class_names) != tuple(class_names):
        raise ConfigError(
            f"{setting}: {spec} has classes {list(images.class_names)[:5]}..., the challenge has "
            f"{list(class_names)[:5]}...: labelled images of the challenge's classes are needed"
        )
    return images


def held_out_accuracy(model: nn.Module, spec: str, challenge: PublicChallenge) -> dict[str, float | int | str]:
    """The model's accuracy on every image of the labelled source ``spec`` (the release's utility).

    Membership results mean little without the utility they come at (Carlini, Feldman and Nasr
    compare releases at known accuracy), and the attacker's model is the model whoever uses the
    release would train, so its accuracy on held-out images is that utility. ``spec`` must hold
    images of the challenge's classes, in the same order; they are read, never trained on.

    Raises
    ------
    ConfigError
        When the source cannot list its images, holds none, or its classes are not the challenge's.
    """
    images = labelled_images(spec, tuple(challenge.meta.class_names), "eval_data")
    if not len(images):
        raise ConfigError(f"eval_data: {spec} holds no images")
    device = next(model.parameters()).device
    accuracy = evaluate(model, EvalSet(challenge.pixels.from_uint8(images.images), images.labels), device)
    logger.info("target model: accuracy %.4f on %d held-out images of %s", accuracy, len(images), spec)
    return {"test_accuracy": accuracy, "test_images": len(images), "test_data": spec}


def class_log_probabilities(
    model: nn.Module, images: np.ndarray, labels: np.ndarray, device: torch.device, batch_size: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """Per image, ``log p_y`` and ``log (1 - p_y)`` for its label ``y`` (float64, computed from the logits).

    Both come from log-sum-exps of the logits, so neither rounds to 0 when the model is very
    sure (where ``1 - softmax`` would): the high-confidence end is where members sit.
    """
    own, rest = [], []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            logits = model(to_tensor(np.asarray(images[start : start + batch_size], np.float32), device)).double()
            target = torch.from_numpy(np.asarray(labels[start : start + batch_size], np.int64)).to(device)
            total = torch.logsumexp(logits, dim=1)
            correct = logits.gather(1, target[:, None])[:, 0]
            others = logits.scatter(1, target[:, None], float("-inf"))
            own.append((correct - total).cpu().numpy())
            rest.append((torch.logsumexp(others, dim=1) - total).cpu().numpy())
    if not own:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(own), np.concatenate(rest)


def negative_loss(log_p: np.ndarray) -> np.ndarray:
    """Minus the cross-entropy loss of each image (``log p_y``): higher for images the model fits."""
    return np.asarray(log_p, dtype=np.float64)


def logit_confidence(log_p: np.ndarray, log_not_p: np.ndarray) -> np.ndarray:
    """LiRA's logit-scaled confidence ``log(p_y / (1 - p_y))``: roughly Gaussian per example, so
    per-example fits (LiRA) work on it; a monotone function of the loss otherwise."""
    return np.asarray(log_p, dtype=np.float64) - np.asarray(log_not_p, dtype=np.float64)


__all__ = [
    "MONITOR_ROWS",
    "ReleaseRecipe",
    "class_log_probabilities",
    "held_out_accuracy",
    "labelled_images",
    "logit_confidence",
    "negative_loss",
    "release_rows",
    "train_on_rows",
]
