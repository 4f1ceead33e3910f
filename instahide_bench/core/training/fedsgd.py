"""A FedSGD client: one gradient per step on a batch of encoded rows, as the server receives it.

The client trains the server's model on its rows in order, B at a time, with the utility
recipe's loss (soft-label cross-entropy, the batch mean) and BatchNorm in the mode the setup
names (``train``: batch statistics, as :func:`~instahide_bench.core.training.loop.train`
trains). Before each step it loads the weights the server sent; it sends the gradient of every
trainable parameter, after its defences (:class:`~instahide_bench.core.gradients.Defences`). The
server applies the update itself (:func:`~instahide_bench.core.gradients.server_step`).
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from instahide_bench.core.errors import ConfigError
from instahide_bench.core.gradients import Defences, GradientRelease, GradientSetup, TensorSpec, server_step
from instahide_bench.core.progress import progress
from instahide_bench.core.training.loop import soft_cross_entropy, to_tensor
from instahide_bench.core.training.models import MODELS, build_model

logger = logging.getLogger(__name__)


def model_state(model: torch.nn.Module) -> dict[str, np.ndarray]:
    """A model's whole state (parameters and buffers) as numpy arrays (copies)."""
    return {name: value.detach().cpu().numpy().copy() for name, value in model.state_dict().items()}


def load_state(model: torch.nn.Module, state: dict[str, np.ndarray]) -> None:
    """Put ``state`` (numpy arrays by name) into ``model``."""
    model.load_state_dict({name: torch.from_numpy(np.array(value)) for name, value in state.items()})


def step_gradients(
    model: torch.nn.Module, inputs: np.ndarray, targets: np.ndarray, batchnorm: str
) -> dict[str, np.ndarray]:
    """The gradient of the batch-mean soft cross-entropy with respect to every trainable parameter."""
    model.train(batchnorm == "train")
    device = next(model.parameters()).device
    logits = model(to_tensor(inputs, device))
    loss = soft_cross_entropy(logits, torch.from_numpy(np.ascontiguousarray(targets)).to(device))
    names, params = zip(*[(n, p) for n, p in model.named_parameters() if p.requires_grad], strict=True)
    grads = torch.autograd.grad(loss, list(params))
    return {name: g.detach().cpu().numpy().astype(np.float32) for name, g in zip(names, grads, strict=True)}


def run_client(
    inputs: np.ndarray,
    targets: np.ndarray,
    *,
    model: str,
    batch_size: int,
    server_lr: float,
    batchnorm: str,
    defences: Defences,
    model_seed: int,
    noise_rng: np.random.Generator,
    epochs: float,
    labels_public: bool,
) -> GradientRelease:
    """Train on ``inputs`` (S*B rows, in the order fed) and record what the server receives.

    Parameters
    ----------
    inputs, targets : numpy.ndarray
        float32 S*B x 32 x 32 x 3 (the encodings) and S*B x C (their soft labels).
    model : str
        A name of :data:`~instahide_bench.core.training.models.MODELS`.
    batch_size : int
        B; ``len(inputs)`` must be a multiple of it.
    server_lr : float
        The server's SGD step.
    batchnorm : str
        ``train`` or ``eval``.
    defences : Defences
        Applied to each update before it is sent.
    model_seed : int
        Seeds the initial weights (public, as the weights are).
    noise_rng : numpy.random.Generator
        The defences' noise (secret).
    epochs : float
        S*B / n, recorded in the setup.
    labels_public : bool
        Whether the labels are released with the gradients.
    """
    if model not in MODELS:
        raise ConfigError(f"unknown model {model!r}; known: {', '.join(MODELS)}")
    if len(inputs) == 0 or len(inputs) % batch_size:
        raise ConfigError(f"{len(inputs)} rows do not make whole batches of {batch_size}")
    defences.validate()
    steps = len(inputs) // batch_size
    net = build_model(model, targets.shape[1], torch.Generator().manual_seed(model_seed), torch.device("cpu"))
    initial = model_state(net)
    buffers = {name for name, _ in net.named_buffers()}
    parameters = [(name, tuple(p.shape)) for name, p in net.named_parameters()]
    setup = GradientSetup(
        model=model,
        num_classes=int(targets.shape[1]),
        batch_size=batch_size,
        steps=steps,
        server_lr=float(server_lr),
        batchnorm=batchnorm,
        labels_public=labels_public,
        defences=defences,
        parameters=tuple(TensorSpec(name, shape) for name, shape in parameters),
        buffers=tuple(TensorSpec(n, tuple(v.shape), str(v.dtype)) for n, v in initial.items() if n in buffers),
        epochs=float(epochs),
        model_seed=model_seed,
    )
    sent = {name: np.zeros((steps, *shape), np.float32) for name, shape in parameters}
    state = initial
    for step in progress(range(steps), desc="FedSGD client", total=steps, unit="step"):
        load_state(net, state)
        rows = slice(step * batch_size, (step + 1) * batch_size)
        update = defences.apply(step_gradients(net, inputs[rows], targets[rows], batchnorm), noise_rng)
        for name, value in update.items():
            sent[name][step] = value
        state = server_step(state, update, server_lr)
    logger.info("FedSGD client: %d steps of %d rows on %s (BatchNorm %s)", steps, batch_size, model, batchnorm)
    return GradientRelease(setup, initial, sent, targets if labels_public else None)


__all__ = ["load_state", "model_state", "run_client", "step_gradients"]
