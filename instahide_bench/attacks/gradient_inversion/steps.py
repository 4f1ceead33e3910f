"""One step's inversion, as a self-contained job: what a worker process (or a Dask worker) runs.

A :class:`StepJob` carries everything a step needs as plain arrays (the weights the server
sent before it, the update, the public labels if any, the settings), so steps run anywhere and
in any order: they are independent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from instahide_bench.attacks.gradient_inversion.analytic import disaggregate, first_layer_names
from instahide_bench.attacks.gradient_inversion.labels import (
    batch_totals,
    classifier_names,
    restore_given_features,
    restore_single,
)
from instahide_bench.attacks.gradient_inversion.matching import MatchSettings, match_step
from instahide_bench.core.gradients import GradientSetup
from instahide_bench.core.training.fedsgd import load_state
from instahide_bench.core.training.models import build_model

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class StepJob:
    """Everything one step's inversion needs.

    Attributes
    ----------
    setup : GradientSetup
        The challenge's public description of the run.
    state, update : dict
        The weights the server sent before the step, and the update the client sent back.
    labels : numpy.ndarray or None
        The step's public labels (B x C), when labels are public.
    step : int
        The step's number (seeds its random starts).
    method : str
        ``analytic`` or ``matching``.
    settings : MatchSettings
        Gradient matching's settings.
    box : (low, high)
        Per-channel bounds of a fed value.
    seed : int
        The attack's seed.
    """

    setup: GradientSetup
    state: Arrays
    update: Arrays
    labels: np.ndarray | None
    step: int
    method: str
    settings: MatchSettings
    box: tuple[np.ndarray, np.ndarray]
    seed: int


def invert_step(job: StepJob) -> Arrays:
    """The step's inputs (B x 32 x 32 x 3), labels (B x C) and final mismatch."""
    setup, update, size, box = job.setup, job.update, job.setup.batch_size, job.box
    model = build_model(setup.model, setup.num_classes, torch.Generator().manual_seed(0), "cpu")
    load_state(model, job.state)
    train_mode = setup.batchnorm == "train"
    weight_name, bias_name = classifier_names(setup)
    known = job.labels
    label_init, total = None, 1.0
    if known is None and size == 1:
        label, _ = restore_single(update[weight_name], update[bias_name], job.state[weight_name], job.state[bias_name])
        known = label[None]
    elif known is None:
        probs = mean_prediction(model, box, size, train_mode, job.seed)
        totals, total = batch_totals(update[bias_name], probs, size)
        label_init = np.repeat((totals / max(size, 1))[None], size, axis=0)
    if job.method == "analytic":
        analytic = first_layer_names(setup)
        assert analytic is not None
        found = disaggregate(update[analytic[0]], update[analytic[1]], size).images()
        images = np.broadcast_to((box[0] + box[1]) / 2, (size, 32, 32, 3)).astype(np.float32)
        images[: len(found)] = np.clip(found, box[0], box[1])
        if known is None:
            features, probs = features_and_probs(model, images, weight_name, train_mode)
            known = restore_given_features(update[weight_name], features, probs)
        return {"inputs": images, "labels": known.astype(np.float32), "mismatch": np.zeros(())}
    generator = torch.Generator().manual_seed(job.seed * 1_000_003 + job.step)
    matched = match_step(
        model,
        [update[t.name] for t in setup.parameters],
        size,
        box,
        job.settings,
        generator,
        labels=known,
        label_init=label_init,
        label_total=total,
        train_mode=train_mode,
    )
    return {"inputs": matched.inputs, "labels": matched.labels, "mismatch": np.array(matched.mismatch)}


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


def mean_prediction(
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


__all__ = ["StepJob", "features_and_probs", "invert_step", "mean_prediction"]
