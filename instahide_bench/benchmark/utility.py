"""Utility of an encoding: train a model on its output, test it on clean images, compare with no encoding.

What ``instahide-bench utility`` runs. The recipe is the authors' (see
:mod:`instahide_bench.core.training.loop`); the encoder supplies each epoch's encodings
through :meth:`~instahide_bench.core.encoder.Encoder.training_epoch`, and the baseline is the
same recipe on the clean images (same model, epochs, pixel space, augmentation and seed).
An encoder whose output is one fixed release (dataset condensation, a random subset: its
:meth:`~instahide_bench.core.encoder.Encoder.training_release`) makes that release once from the
training images, and the model trains on the same release every epoch, augmented and reshuffled.

Output directory::

    OUT/
      utility.json            the result (accuracy, baseline_accuracy, epochs, seconds, history, ...)
      checkpoints/encoded.pt  one per run, rewritten atomically after every epoch (--resume continues)
      checkpoints/baseline.pt
      checkpoints/pretrain.pt (with --pretrain)
      learning-curves.png   test accuracy per epoch, encoded and baseline
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from instahide_bench.core.challenge import refuse_inside_challenge
from instahide_bench.core.config import config_to_dict
from instahide_bench.core.data import parse_source
from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.encoder import Encoder
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.io import write_json_atomic
from instahide_bench.core.pixels import PixelSpace, get_pixel_space
from instahide_bench.core.training import EvalSet, TrainConfig, TrainResult, train
from instahide_bench.core.training.epochs import (
    batches_per_epoch,
    clean_epochs,
    encoder_epochs,
    encoder_test_epochs,
    fixed_set_epochs,
    inference_view_epochs,
)
from instahide_bench.core.training.loop import EpochSource, epoch_seed
from instahide_bench.encoders.presets import get_preset

logger = logging.getLogger(__name__)

#: The encoder name of the no-encoding run.
VANILLA = "vanilla"
#: Its pixel space: the authors' CIFAR normalisation.
VANILLA_PIXELS = "cifar10-normalised"
DEFAULT_PRIVATE = "mnist5k"
DEFAULT_PUBLIC = "embedded"
RESULT_FILE = "utility.json"
RESULT_FORMAT_VERSION = 1
#: The random stream (of "epoch" 0) that seeds a fixed release, so that --resume rebuilds the same one.
_RELEASE_STREAM = 5


#: Epochs of a run whose encoder has no T (no encoding, a fixed release) when none is asked for.
DEFAULT_EPOCHS = 10


def epochs_for(encoder: str, overrides: dict[str, Any] | None = None, cap: int | None = None) -> int:
    """How long to train on ``encoder``'s output: its T (each epoch is one encryption of every image).

    An encoder's T is how many encryptions of each image exist, so the privacy side (attacks on
    T encryptions) and the utility side (T epochs) of a figure are measured at the same T.
    ``cap`` bounds it (a CI budget); an encoder without T trains :data:`DEFAULT_EPOCHS` (or ``cap``).
    """
    encryptions = None
    if encoder != VANILLA:
        encryptions = getattr(get_preset(encoder).build(overrides or {}).config, "T", None)
    epochs = encryptions if isinstance(encryptions, int) else (cap or DEFAULT_EPOCHS)
    return min(epochs, cap) if cap is not None else epochs


def default_test_source(private: str) -> str:
    """The test split that belongs to a training source: ``mnist5k`` -> ``mnist5k?split=test``, same for cifar10.

    Other options carry over: ``mnist5k?classes=5-9`` is tested on ``mnist5k?split=test&classes=5-9``.

    Raises
    ------
    ConfigError
        For a source without a test split (``--test`` must then be given).
    """
    kind, sep, rest = private.partition(":")
    base, _, query = (rest if sep else kind).partition("?")
    kind = kind.partition("?")[0].strip().lower()
    options = [item for item in query.split("&") if item]
    if any(item.startswith("split=") and item != "split=train" for item in options):
        raise ConfigError(f"{private!r} is not a training split; give the test set with --test")
    # Other options (classes=5-9) select the same way in the test split.
    kept = "".join(f"&{item}" for item in options if not item.startswith("split="))
    if kind == "mnist5k":
        return f"mnist5k?split=test{kept}"
    if kind == "cifar10" and base:
        return f"cifar10:{base}?split=test{kept}"
    raise ConfigError(f"the source {private!r} has no known test split; give one with --test SOURCE")


def default_augmentation(private: str) -> str:
    """``crop`` for digits (a mirrored digit is another symbol), the authors' ``crop-flip`` otherwise."""
    return "crop" if private.partition(":")[0].partition("?")[0].strip().lower() == "mnist5k" else "crop-flip"


def load_all(spec: str, rows: int | None, seed: int) -> ImageSet:
    """Every image of a source (or ``rows`` of them, chosen by ``seed``)."""
    source = parse_source(spec, "private")
    load_all_images = getattr(source, "load_all", None)
    if rows is None:
        if load_all_images is None:
            raise ConfigError(f"{spec} cannot list all its images; give a number of rows")
        images: ImageSet = load_all_images()
        return images
    return source.load(rows, seed)


def _digest(images: ImageSet) -> str:
    return hashlib.sha256(images.ids.tobytes() + images.labels.tobytes()).hexdigest()[:16]


@dataclass(frozen=True)
class UtilityRequest:
    """Everything one utility run depends on (the CLI's options)."""

    encoder: str
    overrides: dict[str, Any] = field(default_factory=dict)
    private: str = DEFAULT_PRIVATE
    test: str | None = None
    public: str = DEFAULT_PUBLIC
    pretrain: str | None = None
    pretrain_test: str | None = None
    pretrain_epochs: int | None = None
    pretrain_rows: int | None = None
    rows: int | None = None
    test_rows: int | None = None
    data_seed: int = 0
    baseline: bool = True
    train: TrainConfig = field(default_factory=TrainConfig)


@dataclass
class UtilityResult:
    """What utility.json holds."""

    encoder: str
    preset: str | None
    params: dict[str, Any]
    accuracy: float
    baseline_accuracy: float | None
    epochs: int
    seconds: float
    train_seconds: float
    images_per_second: float
    baseline_seconds: float | None
    device: str
    model: str
    private: str
    test: str
    train_rows: int
    test_rows: int
    train_config: dict[str, Any]
    history: list[dict[str, Any]]
    baseline_history: list[dict[str, Any]] | None
    pretrain: str | None = None
    pretrain_accuracy: float | None = None
    inference: str = "clean"

    def to_json(self) -> dict[str, Any]:
        return {"format_version": RESULT_FORMAT_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> UtilityResult:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in obj.items() if k in names})


def _encoder(request: UtilityRequest) -> tuple[Encoder | None, str | None, PixelSpace]:
    if request.encoder == VANILLA:
        if request.overrides:
            raise ConfigError("vanilla (no encoding) takes no --set parameters")
        return None, None, get_pixel_space(VANILLA_PIXELS)
    preset = get_preset(request.encoder)
    encoder = preset.build(request.overrides)
    encryptions = getattr(encoder.config, "T", None)
    if isinstance(encryptions, int) and request.train.epochs > encryptions:
        raise ConfigError(
            f"{request.encoder} encrypts each image T={encryptions} times, and every training epoch is one "
            f"encryption: train at most {encryptions} epochs (--epochs) or raise T (--set T={request.train.epochs})"
        )
    return encoder, preset.name, encoder.training_pixels()


def run_utility(request: UtilityRequest, out_dir: str | os.PathLike[str], *, resume: bool = False) -> UtilityResult:
    """Train on the encoder's output (and, unless disabled, the clean baseline); write OUT/utility.json."""
    out = Path(out_dir)
    refuse_inside_challenge(out, "a utility run's output")
    checkpoints = out / "checkpoints"
    config = request.train
    config.validate()
    encoder, preset, pixels = _encoder(request)
    test_spec = request.test or default_test_source(request.private)
    private = load_all(request.private, request.rows, request.data_seed)
    test_images = load_all(test_spec, request.test_rows, request.data_seed + 2)
    if tuple(test_images.class_names) != tuple(private.class_names):
        raise ConfigError(f"{test_spec} and {request.private} have different classes")
    num_classes = len(private.class_names)
    test = EvalSet(pixels.from_uint8(test_images.images), test_images.labels)
    data = {
        "private": request.private,
        "private_digest": _digest(private),
        "test": test_spec,
        "test_digest": _digest(test_images),
        "pixels": pixels.name,
    }
    steps = batches_per_epoch(len(private), config.batch_size)
    logger.info("utility: %d training and %d test images, %d classes", len(private), len(test_images), num_classes)

    initial_state, pretrain_accuracy = None, None
    if request.pretrain is not None:
        pre = _pretrain(request, pixels, checkpoints, resume)
        initial_state, pretrain_accuracy = pre.model_state, pre.accuracy

    clock = time.perf_counter()
    baseline: TrainResult | None = None
    if request.baseline or encoder is None:
        baseline = train(
            config,
            num_classes,
            clean_epochs(private, pixels, config),
            test,
            batches_per_epoch=steps,
            checkpoint=checkpoints / "baseline.pt",
            resume=resume and (checkpoints / "baseline.pt").is_file(),
            fingerprint={**data, "run": "baseline", "pretrain": request.pretrain},
            initial_state=initial_state,
            label="baseline",
        )
    baseline_seconds = time.perf_counter() - clock
    if encoder is None:
        assert baseline is not None
        result, params = baseline, {}
    else:
        params = config_to_dict(encoder.config)
        public = None
        needed = max(encoder.training_public(len(private)), encoder.training_public(len(test_images)))
        if needed:
            public = parse_source(request.public, "public").load(needed, request.data_seed + 1)
        epochs, encoded_steps, views, recalibration = _encoded_epochs(
            encoder, private, public, test_images, pixels, config
        )
        result = train(
            config,
            num_classes,
            epochs,
            test,
            batches_per_epoch=encoded_steps,
            checkpoint=checkpoints / "encoded.pt",
            resume=resume and (checkpoints / "encoded.pt").is_file(),
            fingerprint={
                **data,
                "run": "encoded",
                "encoder": encoder.name,
                "params": params,
                "pretrain": request.pretrain,
            },
            initial_state=initial_state,
            test_encodings=views,
            recalibration=recalibration,
            label=request.encoder,
        )
    summary = UtilityResult(
        encoder=request.encoder,
        preset=preset,
        params=_jsonable(params),
        accuracy=result.accuracy,
        baseline_accuracy=None if baseline is None else baseline.accuracy,
        epochs=config.epochs,
        seconds=result.seconds,
        train_seconds=result.train_seconds,
        images_per_second=result.images_per_second,
        baseline_seconds=None if baseline is None else baseline.seconds,
        device=result.device,
        model=config.model,
        private=request.private,
        test=test_spec,
        train_rows=len(private),
        test_rows=len(test_images),
        train_config=asdict(config),
        history=[asdict(r) for r in result.history],
        baseline_history=None if baseline is None else [asdict(r) for r in baseline.history],
        pretrain=request.pretrain,
        pretrain_accuracy=pretrain_accuracy,
        inference=inference_mode(encoder, config),
    )
    write_json_atomic(out / RESULT_FILE, summary.to_json())
    from instahide_bench.benchmark.utility_figure import CURVES_FILE, write_learning_curves

    write_learning_curves(out / CURVES_FILE, summary)
    logger.info(
        "utility %s: accuracy %.4f (baseline %s) after %d epochs, %.1f s (baseline %.1f s)",
        request.encoder,
        summary.accuracy,
        "n/a" if summary.baseline_accuracy is None else f"{summary.baseline_accuracy:.4f}",
        summary.epochs,
        summary.seconds,
        baseline_seconds,
    )
    return summary


def _encoded_epochs(
    encoder: Encoder,
    private: ImageSet,
    public: ImageSet | None,
    test_images: ImageSet,
    pixels: PixelSpace,
    config: TrainConfig,
) -> tuple[EpochSource, int, EpochSource | None, EpochSource | None]:
    """What the encoded run trains on (fresh encodings every epoch, or one fixed release) and how it is tested.

    Returns the epoch source, the batches per epoch, the test views (None: clean test images)
    and the BatchNorm recalibration source (masked inference only).
    """
    clock = time.perf_counter()
    release = encoder.training_release(private, public, seed=epoch_seed(config.seed, 0, _RELEASE_STREAM))
    if release is None:
        steps = batches_per_epoch(len(private), config.batch_size)
        mode = inference_mode(encoder, config)
        views, recalibration = None, None
        if mode == "encoded":
            views = encoder_test_epochs(encoder, test_images, public, config)
        elif mode == "masked":
            views = inference_view_epochs(encoder, test_images, pixels, config)
            recalibration = inference_view_epochs(encoder, private, pixels, config)
        return encoder_epochs(encoder, private, public, config), steps, views, recalibration
    if config.inference in ("encoded", "masked"):
        raise ConfigError(f"{encoder.name} releases a fixed image set: its test images are not encoded (drop it)")
    logger.info(
        "utility: %s released %d rows from %d training images in %.1f s; training on that release every epoch",
        encoder.name,
        len(release),
        len(private),
        time.perf_counter() - clock,
    )
    return fixed_set_epochs(release, pixels, config), batches_per_epoch(len(release), config.batch_size), None, None


def inference_mode(encoder: Encoder | None, config: TrainConfig) -> str:
    """``config.inference`` with ``auto`` resolved: masked for an encoder that masks signs, else clean."""
    if encoder is None:
        return "clean"
    if config.inference == "auto":
        return "masked" if encoder.masks_signs else "clean"
    return config.inference


def _pretrain(request: UtilityRequest, pixels: PixelSpace, checkpoints: Path, resume: bool) -> TrainResult:
    """The authors' mitigation: a clean model on a public labelled set first (then fine-tuned on encodings)."""
    assert request.pretrain is not None
    config = dataclasses.replace(
        request.train,
        epochs=request.pretrain_epochs or request.train.epochs,
        augment=default_augmentation(request.pretrain),
        inference="clean",
    )
    images = load_all(request.pretrain, request.pretrain_rows, request.data_seed + 3)
    test_spec = request.pretrain_test or default_test_source(request.pretrain)
    test_images = load_all(test_spec, request.test_rows, request.data_seed + 3)
    path = checkpoints / "pretrain.pt"
    return train(
        config,
        len(images.class_names),
        clean_epochs(images, pixels, config),
        EvalSet(pixels.from_uint8(test_images.images), test_images.labels),
        batches_per_epoch=batches_per_epoch(len(images), config.batch_size),
        checkpoint=path,
        resume=resume and path.is_file(),
        fingerprint={"pretrain": request.pretrain, "digest": _digest(images), "pixels": pixels.name},
        label="pretrain",
    )


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in values.items()}


__all__ = [
    "DEFAULT_EPOCHS",
    "DEFAULT_PRIVATE",
    "RESULT_FILE",
    "VANILLA",
    "UtilityRequest",
    "UtilityResult",
    "default_augmentation",
    "default_test_source",
    "epochs_for",
    "run_utility",
]
