"""Gradient matching: find inputs (and labels) whose update looks like the one the client sent.

The recipe of Geiping et al. ("Inverting Gradients", 2020): minimise ``1 - cos(update(x, y),
sent update)`` over all parameters together, plus a total-variation prior, with Adam on the
sign of the gradient (step 0.1, decayed at 3/8, 5/8 and 7/8 of the iterations), inputs kept in
the pixel box, best of several restarts. The model runs as the client ran it (BatchNorm in
the setup's mode). The prior fits what the client fed: an image is smooth, so TV(x); an
InstaHide encoding is a smooth mixture times a random sign per pixel, so its magnitude is
smooth and its sign is not: TV(|x|). Labels are fixed when known (public, or restored exactly
at B = 1); otherwise each row's label is optimised too, as softmax(logits) scaled to the
label total.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: Adam's step is multiplied by 0.1 at these fractions of the iterations (Geiping et al.).
DECAY_AT = (3 / 8, 5 / 8, 7 / 8)


@dataclass(frozen=True)
class MatchSettings:
    """How hard to try: iterations, step, prior and its weight, restarts."""

    iterations: int = 1000
    lr: float = 0.1
    prior: str = "tv"
    tv: float = 1e-4
    restarts: int = 1
    signed: bool = True


@dataclass(frozen=True)
class Matched:
    """The best restart's inputs (B x 32 x 32 x 3) and labels (B x C), and its final mismatch (1 - cosine)."""

    inputs: np.ndarray
    labels: np.ndarray
    mismatch: float


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of neighbouring pixels (NCHW)."""
    return (x[:, :, 1:, :] - x[:, :, :-1, :]).abs().mean() + (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().mean()


def mismatch(update: list[torch.Tensor], target: list[torch.Tensor]) -> torch.Tensor:
    """1 - cosine similarity of two updates, all parameters concatenated."""
    dot = torch.stack([(a * b).sum() for a, b in zip(update, target, strict=True)]).sum()
    norm = (
        torch.stack([(a * a).sum() for a in update]).sum().sqrt()
        * torch.stack([(b * b).sum() for b in target]).sum().sqrt()
    )
    return 1 - dot / (norm + 1e-20)


def _soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def match_step(
    model: nn.Module,
    target: list[np.ndarray],
    batch: int,
    box: tuple[np.ndarray, np.ndarray],
    settings: MatchSettings,
    generator: torch.Generator,
    *,
    labels: np.ndarray | None = None,
    label_init: np.ndarray | None = None,
    label_total: float = 1.0,
    train_mode: bool = True,
) -> Matched:
    """Invert one step's update; ``model`` holds the weights the server sent before it.

    Parameters
    ----------
    model : nn.Module
        The server's model with that step's weights; its parameters, in order, match ``target``.
    target : list of numpy.ndarray
        The update the client sent, per parameter.
    batch : int
        B, rows in the step.
    box : (low, high)
        Per-channel bounds of an input value (3 each).
    settings : MatchSettings
        The optimisation's settings.
    generator : torch.Generator
        The restarts' random starts.
    labels : numpy.ndarray, optional
        B x C known labels; when None they are optimised from ``label_init`` (B x C).
    label_total : float
        Total weight of an optimised label row.
    train_mode : bool
        BatchNorm on batch statistics (the client's ``train`` mode).
    """
    model.train(train_mode)
    params = list(model.parameters())
    goal = [torch.from_numpy(np.ascontiguousarray(t)) for t in target]
    low = torch.from_numpy(np.asarray(box[0], np.float32)).view(1, 3, 1, 1)
    high = torch.from_numpy(np.asarray(box[1], np.float32)).view(1, 3, 1, 1)
    num_classes = params[-1].shape[0]
    best: Matched | None = None
    for _ in range(max(1, settings.restarts)):
        x = (low + (high - low) * torch.rand((batch, 3, 32, 32), generator=generator)).requires_grad_(True)
        variables = [x]
        if labels is None:
            init = label_init if label_init is not None else np.full((batch, num_classes), 1.0 / num_classes)
            logits = torch.log(torch.from_numpy(np.asarray(init, np.float32)).clamp_min(1e-4)).requires_grad_(True)
            variables.append(logits)
        optimiser = torch.optim.Adam(variables, lr=settings.lr)
        milestones = [int(f * settings.iterations) for f in DECAY_AT]
        schedule = torch.optim.lr_scheduler.MultiStepLR(optimiser, milestones, gamma=0.1)
        fixed = None if labels is None else torch.from_numpy(np.asarray(labels, np.float32))
        objective = torch.tensor(1.0)
        for _ in range(settings.iterations):
            optimiser.zero_grad(set_to_none=True)
            y = fixed if fixed is not None else label_total * torch.softmax(variables[1], dim=1)
            update = torch.autograd.grad(_soft_cross_entropy(model(x), y), params, create_graph=True)
            objective = mismatch(list(update), goal)
            total = objective
            if settings.tv > 0 and settings.prior != "none":
                total = total + settings.tv * total_variation(x.abs() if settings.prior == "tv-abs" else x)
            total.backward()
            if settings.signed:
                for v in variables:
                    if v.grad is not None:
                        v.grad.sign_()
            optimiser.step()
            schedule.step()
            with torch.no_grad():
                x.copy_(torch.maximum(torch.minimum(x, high), low))
        with torch.no_grad():
            y = fixed if fixed is not None else label_total * torch.softmax(variables[1], dim=1)
        found = Matched(
            x.detach().permute(0, 2, 3, 1).numpy().copy(), y.detach().numpy().copy(), float(objective.detach())
        )
        if best is None or found.mismatch < best.mismatch:
            best = found
    assert best is not None
    return best


__all__ = ["DECAY_AT", "MatchSettings", "Matched", "match_step", "mismatch", "total_variation"]
