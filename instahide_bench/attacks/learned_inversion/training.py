"""Fit the inversion network on simulated rows, and run it on a challenge's rows.

The attacker knows the truth of its own simulation, so this is plain supervised learning:
row -> its dominant private image, loss ``1 - SSIM`` (the benchmark's SSIM, in torch) plus an L1
term that keeps the colours anchored while SSIM's structure term is still flat. Horizontal
flips of whole rows are free extra data (a flipped mixture is the mixture of the flipped
images). A share of the simulated *images* (not rows) is held out, so the reported held-out
SSIM measures images the network never saw, as the challenge's will be.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from instahide_bench.attacks.learned_inversion.features import RowInputs
from instahide_bench.attacks.learned_inversion.network import InversionNet
from instahide_bench.core.metric_torch import ssim_torch

logger = logging.getLogger(__name__)

Progress = Callable[[Iterable[int]], Iterator[int]]

#: Weight of the L1 term beside ``1 - SSIM``.
L1_WEIGHT = 0.5


@dataclass(frozen=True)
class TrainSettings:
    """How the network is trained (the attack's config fills these)."""

    width: int = 16
    steps: int = 800
    batch: int = 64
    lr: float = 2e-3
    heldout: float = 0.1


@dataclass(frozen=True)
class TrainedInversion:
    """A trained network as arrays (so a stage cache can hold it), with its input scale and held-out SSIM."""

    state: dict[str, np.ndarray]
    side_size: int
    width: int
    scale: float
    heldout_ssim: float
    seconds: float

    def network(self, device: torch.device | str = "cpu") -> InversionNet:
        network = InversionNet(self.side_size, self.width, torch.Generator())  # weights are overwritten below
        network.load_state_dict({name: torch.from_numpy(value) for name, value in self.state.items()})
        return network.to(device).eval()

    def to_arrays(self) -> dict[str, np.ndarray]:
        meta = np.array([self.side_size, self.width, self.scale, self.heldout_ssim, self.seconds], np.float64)
        return {"meta": meta, **{f"param/{name}": value for name, value in self.state.items()}}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> TrainedInversion:
        side, width, scale, heldout, seconds = (float(v) for v in arrays["meta"])
        state = {name.removeprefix("param/"): value for name, value in arrays.items() if name.startswith("param/")}
        return cls(state, int(side), int(width), scale, heldout, seconds)


def _loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    ssim = ssim_torch(prediction, target).mean()
    return 1.0 - ssim + L1_WEIGHT * (prediction - target).abs().mean()


def heldout_split(image_of_row: np.ndarray, share: float, seed: int) -> np.ndarray:
    """Boolean E mask: rows whose target image is among a random ``share`` of the images."""
    images = np.unique(image_of_row)
    count = round(share * len(images)) if share > 0 else 0
    chosen = np.random.default_rng(seed).choice(images, size=min(count, len(images) - 1), replace=False)
    return np.isin(image_of_row, chosen)


def train_inversion(
    inputs: RowInputs,
    targets_unit: np.ndarray,
    image_of_row: np.ndarray,
    settings: TrainSettings,
    seed: int,
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
) -> TrainedInversion:
    """Train on rows (``targets_unit``: E x 3 x 32 x 32 in [0, 1]); ``image_of_row`` groups the held-out split."""
    clock = time.perf_counter()
    scale = float(1.0 / max(np.mean(inputs.magnitude), 1e-8))
    heldout = heldout_split(image_of_row, settings.heldout, seed)
    train_rows, test_rows = np.flatnonzero(~heldout), np.flatnonzero(heldout)
    magnitude = torch.from_numpy(inputs.magnitude * scale)
    side = torch.from_numpy(inputs.side)
    target = torch.from_numpy(np.ascontiguousarray(targets_unit, dtype=np.float32))
    generator = torch.Generator().manual_seed(seed)
    network = InversionNet(inputs.side.shape[1], settings.width, torch.Generator().manual_seed(seed + 1)).to(device)
    optimiser = torch.optim.Adam(network.parameters(), lr=settings.lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=settings.lr, total_steps=max(settings.steps, 1))
    pool = torch.from_numpy(train_rows)
    network.train()
    for _ in (progress or iter)(range(settings.steps)):
        batch = pool[torch.randint(len(pool), (settings.batch,), generator=generator)]
        flip = torch.rand(settings.batch, generator=generator) < 0.5
        x, y = magnitude[batch], target[batch]
        x = torch.where(flip[:, None, None, None], x.flip(-1), x).to(device)
        y = torch.where(flip[:, None, None, None], y.flip(-1), y).to(device)
        loss = _loss(network(x, side[batch].to(device)), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    network.eval()
    heldout_ssim = float("nan")
    if len(test_rows):
        prediction = _predict(network, magnitude[test_rows], side[test_rows], device)
        heldout_ssim = float(ssim_torch(prediction, target[test_rows]).mean())
        logger.info("learned inversion: held-out simulated SSIM %.3f on %d rows", heldout_ssim, len(test_rows))
    state = {name: value.detach().cpu().numpy().copy() for name, value in network.state_dict().items()}
    return TrainedInversion(
        state, inputs.side.shape[1], settings.width, scale, heldout_ssim, time.perf_counter() - clock
    )


def _predict(
    network: InversionNet, magnitude: torch.Tensor, side: torch.Tensor, device: torch.device | str, batch: int = 256
) -> torch.Tensor:
    outputs = []
    with torch.no_grad():
        for start in range(0, len(magnitude), batch):
            rows = slice(start, start + batch)
            outputs.append(network(magnitude[rows].to(device), side[rows].to(device)).cpu())
    return torch.cat(outputs) if outputs else torch.empty(0, 3, 32, 32)


def predict(
    trained: TrainedInversion,
    inputs: RowInputs,
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
    batch: int = 256,
) -> np.ndarray:
    """Each row's predicted dominant image, E x 3 x 32 x 32 in [0, 1] (averaged with its mirror's prediction)."""
    network = trained.network(device)
    magnitude = torch.from_numpy(inputs.magnitude * trained.scale)
    side = torch.from_numpy(inputs.side)
    outputs = []
    with torch.no_grad():
        for start in (progress or iter)(range(0, len(inputs), batch)):
            rows = slice(start, start + batch)
            x, s = magnitude[rows].to(device), side[rows].to(device)
            both = 0.5 * (network(x, s) + network(x.flip(-1), s).flip(-1))
            outputs.append(both.cpu().numpy())
    return np.concatenate(outputs) if outputs else np.zeros((0, 3, 32, 32), np.float32)


__all__ = ["TrainSettings", "TrainedInversion", "heldout_split", "predict", "train_inversion"]
