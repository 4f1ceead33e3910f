"""The generic training loop: soft-label cross-entropy, SGD with momentum and step decay, clean test.

The loop is fed one epoch at a time by an :data:`EpochSource` (an encoder's training encodings,
or clean images for the baseline) and knows nothing about encodings. It follows the authors'
InstaHide training code: cross-entropy against soft targets, SGD with momentum and weight
decay, the learning rate divided by 10 at half and at three quarters of the epochs (their 100
and 150 of 200), test accuracy. A test image is shown clean, encoded (the
authors' inference mode: the prediction is the average over K fresh encodings of it) or masked
(alone under K random sign masks, BatchNorm's statistics recalibrated on masked training
images): a model trained on sign-masked encodings fails on clean images (docs/utility.md).

Every epoch ends with a checkpoint (model, optimiser, history) written atomically; ``resume``
continues from it. All randomness of epoch ``e`` is derived from ``(seed, e)``, so a resumed run
gives the same result as an uninterrupted one (for encoders whose randomness has a seed).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from copy import deepcopy
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from instahide_bench.core.config import param
from instahide_bench.core.errors import ConfigError, InputFileError
from instahide_bench.core.io import atomic_path
from instahide_bench.core.progress import progress
from instahide_bench.core.training.augment import AUGMENTATIONS
from instahide_bench.core.training.batches import TrainingBatch
from instahide_bench.core.training.models import DEFAULT_MODEL, MODELS, build_model, pick_device
from instahide_bench.core.training.prefetch import prefetched

logger = logging.getLogger(__name__)

#: epoch number -> that epoch's batches (augmented, encoded, shuffled: whatever the source does).
EpochSource = Callable[[int], Iterable[TrainingBatch]]

CHECKPOINT_VERSION = 1
#: Fractions of the epochs after which the learning rate is multiplied by ``lr_gamma``.
LR_MILESTONES = (0.5, 0.75)


@dataclass(frozen=True)
class TrainConfig:
    """The training recipe; the same for an encoder's run and its no-encoding baseline."""

    model: str = param(DEFAULT_MODEL, "classifier: " + ", ".join(MODELS))
    epochs: int = param(10, "passes over the private set (each a fresh encryption of every image)")
    batch_size: int = param(128, "rows per SGD step")
    lr: float = param(0.1, "initial learning rate")
    momentum: float = param(0.9, "SGD momentum")
    weight_decay: float = param(1e-4, "L2 weight decay")
    lr_gamma: float = param(0.1, "learning-rate factor at 50% and 75% of the epochs")
    augment: str = param("crop-flip", "augmentation before mixing: " + ", ".join(AUGMENTATIONS))
    seed: int = param(0, "model initialisation, augmentation, batch order and seeded encoders")
    device: str = param("auto", "auto (a GPU when present), cpu, cuda, cuda:1, ...")
    inference: Literal["auto", "clean", "encoded", "masked"] = param(
        "auto",
        "how a test image is shown: clean; encoded (the authors' mode: mixed with other test images); masked "
        "(alone under a random sign mask, BatchNorm recalibrated on masked training images); auto: masked for "
        "an encoder that masks signs, else clean",
    )
    inference_encodings: int = param(8, "encoded / masked inference: predictions averaged over K views")

    def validate(self) -> None:
        if self.model not in MODELS:
            raise ConfigError(f"unknown model {self.model!r}; known: {', '.join(MODELS)}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError(f"need epochs >= 1 and batch_size >= 1, got {self.epochs} and {self.batch_size}")
        if self.lr <= 0 or not 0 <= self.momentum < 1 or self.weight_decay < 0 or not 0 < self.lr_gamma <= 1:
            raise ConfigError("need lr > 0, 0 <= momentum < 1, weight_decay >= 0 and 0 < lr_gamma <= 1")
        if self.augment not in AUGMENTATIONS:
            raise ConfigError(f"unknown augmentation {self.augment!r}; known: {', '.join(AUGMENTATIONS)}")
        if self.inference_encodings < 1:
            raise ConfigError(f"inference_encodings must be >= 1, got {self.inference_encodings}")
        if self.inference not in ("auto", "clean", "encoded", "masked"):
            raise ConfigError(f"inference must be auto, clean, encoded or masked, got {self.inference!r}")

    def lr_at(self, epoch: int) -> float:
        """The step-decayed learning rate of ``epoch`` (0-based)."""
        decays = sum(epoch >= math.floor(m * self.epochs) for m in LR_MILESTONES if math.floor(m * self.epochs) > 0)
        return self.lr * self.lr_gamma**decays


@dataclass(frozen=True)
class EvalSet:
    """Clean test images in the training inputs' pixel space (float32 NHWC) and their labels."""

    inputs: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True)
class EpochRecord:
    """What one epoch did: mean loss, accuracy on its training rows (argmax of the soft target), test accuracy."""

    epoch: int
    loss: float
    train_accuracy: float
    test_accuracy: float
    lr: float
    images: int
    train_seconds: float
    eval_seconds: float


@dataclass(frozen=True)
class TrainResult:
    """The final test accuracy and the run's history."""

    accuracy: float
    history: list[EpochRecord]
    device: str
    resumed_from: int = 0
    model_state: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def train_seconds(self) -> float:
        return sum(r.train_seconds for r in self.history)

    @property
    def seconds(self) -> float:
        return sum(r.train_seconds + r.eval_seconds for r in self.history)

    @property
    def images_per_second(self) -> float:
        seconds = self.train_seconds
        return sum(r.images for r in self.history) / seconds if seconds > 0 else 0.0


def epoch_seed(seed: int, epoch: int, stream: int) -> int:
    """A 32-bit seed for one stream (augmentation, order, encoder...) of one epoch, independent of the others."""
    return int(np.random.SeedSequence([seed, epoch, stream]).generate_state(1)[0])


def to_tensor(inputs: np.ndarray, device: torch.device) -> torch.Tensor:
    """float32 NHWC numpy -> NCHW tensor on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(inputs)).permute(0, 3, 1, 2).contiguous().to(device)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over rows of ``-sum_c target_c * log softmax(logits)_c`` (targets need not sum to 1)."""
    return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def predict(model: nn.Module, inputs: np.ndarray, device: torch.device, batch_size: int = 512) -> np.ndarray:
    """Softmax probabilities (float32 N x C) of ``model`` in eval mode."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(inputs), batch_size):
            logits = model(to_tensor(inputs[start : start + batch_size], device))
            out.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def evaluate(
    model: nn.Module,
    test: EvalSet,
    device: torch.device,
    encodings: Iterable[Iterable[TrainingBatch]] | None = None,
) -> float:
    """Test accuracy: on clean images, or averaged over encodings whose ``primary`` rows are test images."""
    if len(test.labels) == 0:
        raise ConfigError("the test set is empty")
    if encodings is None:
        probabilities = predict(model, test.inputs, device)
    else:
        probabilities = np.zeros((len(test.labels), 0), np.float32)
        for epoch in encodings:
            for batch in epoch:
                probs = predict(model, batch.inputs, device)
                if probabilities.shape[1] == 0:
                    probabilities = np.zeros((len(test.labels), probs.shape[1]), np.float32)
                np.add.at(probabilities, batch.primary, probs)
    return float(np.mean(probabilities.argmax(axis=1) == test.labels))


def recalibrated(model: nn.Module, batches: Iterable[TrainingBatch], device: torch.device) -> nn.Module:
    """A copy of ``model`` whose BatchNorm running statistics are the plain averages over ``batches``.

    A model trained on masked mixtures keeps statistics of masked mixtures; a masked single image
    has about three times their energy (sum of squared coefficients), and eval-mode BatchNorm then
    misreads it. The client recomputes the statistics on its own training images, masked as the
    test images are (no labels, no gradient step).
    """
    copy = deepcopy(model)
    for module in copy.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # a cumulative average over the batches
    copy.train()
    with torch.no_grad():
        for batch in batches:
            copy(to_tensor(batch.inputs, device))
    copy.eval()
    return copy


def _checkpoint_payload(
    config: TrainConfig,
    fingerprint: dict[str, Any],
    epoch: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    history: list[EpochRecord],
) -> dict[str, Any]:
    return {
        "version": CHECKPOINT_VERSION,
        "epoch": epoch,
        "config": asdict(config),
        "fingerprint": fingerprint,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "history": [asdict(r) for r in history],
    }


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """``torch.save`` to a temporary file beside ``path``, renamed over it (never a half-written checkpoint)."""
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: Path, config: TrainConfig, fingerprint: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint of this very run (same recipe and data), or a clear error naming the file."""
    try:
        payload: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputFileError(path, "no checkpoint to resume from") from None
    except Exception as exc:  # torch raises many kinds for a damaged file
        raise InputFileError(path, f"not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict) or payload.get("version") != CHECKPOINT_VERSION:
        raise InputFileError(path, f"not a version-{CHECKPOINT_VERSION} training checkpoint")
    mine = {k: v for k, v in asdict(config).items() if k not in ("device", "epochs")}
    theirs = {k: v for k, v in payload["config"].items() if k not in ("device", "epochs")}
    if mine != theirs or payload["fingerprint"] != fingerprint:
        raise InputFileError(path, "was written by a different run (recipe or data differ); remove it or drop --resume")
    return payload


def train(
    config: TrainConfig,
    num_classes: int,
    epoch_batches: EpochSource,
    test: EvalSet,
    *,
    batches_per_epoch: int | None = None,
    checkpoint: Path | None = None,
    resume: bool = False,
    fingerprint: dict[str, Any] | None = None,
    initial_state: dict[str, torch.Tensor] | None = None,
    test_encodings: EpochSource | None = None,
    recalibration: EpochSource | None = None,
    label: str = "train",
) -> TrainResult:
    """Train a fresh model for ``config.epochs`` epochs; evaluate on ``test`` after each.

    Parameters
    ----------
    config : TrainConfig
        The recipe (validated here).
    num_classes : int
        Width of the targets.
    epoch_batches : EpochSource
        Epoch number -> that epoch's batches.
    test : EvalSet
        Clean test images and labels.
    batches_per_epoch : int, optional
        For the progress bar only.
    checkpoint : Path, optional
        Where each epoch's checkpoint goes (atomically); none is written when omitted.
    resume : bool
        Continue from ``checkpoint`` (an error when it is missing or from another run).
    fingerprint : dict, optional
        JSON-like description of the data and encoder; a checkpoint of another one is refused.
    initial_state : dict, optional
        Weights to start from (pretraining); entries whose shapes differ (the classifier of
        another class count) keep their fresh initialisation.
    test_encodings : EpochSource, optional
        Views of the test set (encodings, or masked images) called with 0..K-1 (K =
        ``config.inference_encodings``), whose predictions are averaged; None tests on clean images.
    recalibration : EpochSource, optional
        Training images as the test views show them: before each evaluation, a copy of the model
        has its BatchNorm statistics recomputed on epoch 0 of these (no labels, no gradients).
    label : str
        Name of the run in logs and progress bars.
    """
    config.validate()
    fingerprint = dict(fingerprint or {})
    device = pick_device(config.device)
    generator = torch.Generator().manual_seed(config.seed)
    model = build_model(config.model, num_classes, generator, device)
    if initial_state is not None:
        own = model.state_dict()
        usable = {k: v for k, v in initial_state.items() if k in own and own[k].shape == v.shape}
        model.load_state_dict(usable, strict=False)
        logger.info("%s: started from pretrained weights (%d of %d tensors)", label, len(usable), len(own))
    optimizer = torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    history: list[EpochRecord] = []
    start = 0
    if resume:
        if checkpoint is None:
            raise ConfigError("resume needs a checkpoint path")
        payload = load_checkpoint(checkpoint, config, fingerprint)
        model.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        history = [EpochRecord(**r) for r in payload["history"]]
        start = int(payload["epoch"])
        logger.info("%s: resumed after epoch %d of %d from %s", label, start, config.epochs, checkpoint)
        if start > config.epochs:
            raise InputFileError(checkpoint, f"holds {start} epochs, more than the {config.epochs} asked for")

    for epoch in range(start, config.epochs):
        lr = config.lr_at(epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        model.train()
        clock = time.perf_counter()
        total_loss, correct, images = 0.0, 0, 0
        batches = progress(
            prefetched(epoch_batches(epoch)),
            desc=f"{label} epoch {epoch + 1}/{config.epochs}",
            total=batches_per_epoch,
            unit="batch",
        )
        for batch in batches:
            inputs = to_tensor(batch.inputs, device)
            targets = torch.from_numpy(batch.targets).to(device)
            logits = model(inputs)
            loss = soft_cross_entropy(logits, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            rows = len(batch)
            total_loss += float(loss.detach()) * rows
            correct += int((logits.detach().argmax(1) == targets.argmax(1)).sum())
            images += rows
        train_seconds = time.perf_counter() - clock
        if images == 0:
            raise ConfigError(f"{label}: epoch {epoch + 1} gave no training rows")
        clock = time.perf_counter()
        encodings = None
        if test_encodings is not None:
            encodings = (test_encodings(k) for k in range(config.inference_encodings))
        judged = model if recalibration is None else recalibrated(model, recalibration(0), device)
        accuracy = evaluate(judged, test, device, encodings)
        record = EpochRecord(
            epoch=epoch + 1,
            loss=total_loss / images,
            train_accuracy=correct / images,
            test_accuracy=accuracy,
            lr=lr,
            images=images,
            train_seconds=train_seconds,
            eval_seconds=time.perf_counter() - clock,
        )
        history.append(record)
        logger.info(
            "%s epoch %d/%d: loss %.4f, train accuracy %.4f, test accuracy %.4f (%.0f images/s)",
            label,
            record.epoch,
            config.epochs,
            record.loss,
            record.train_accuracy,
            record.test_accuracy,
            images / train_seconds if train_seconds > 0 else 0.0,
        )
        if checkpoint is not None:
            save_checkpoint(checkpoint, _checkpoint_payload(config, fingerprint, epoch + 1, model, optimizer, history))
    if not history:
        raise ConfigError(f"{label}: no epoch was trained")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return TrainResult(history[-1].test_accuracy, history, str(device), start, state)


__all__ = [
    "LR_MILESTONES",
    "EpochRecord",
    "EpochSource",
    "EvalSet",
    "TrainConfig",
    "TrainResult",
    "epoch_seed",
    "evaluate",
    "load_checkpoint",
    "recalibrated",
    "save_checkpoint",
    "soft_cross_entropy",
    "train",
]
