"""Stage 6, colour/contrast correction learned on simulated data (Carlini et al.'s last step).

The reconstruction is a least-squares fit under a noise model, so it errs in ways that are
the same for every image: contrast shrunk towards the mean where rows disagree, colours
desaturated where one channel's sign evidence is weaker, isolated pixels left on the wrong
sign, grain from the public images. The attacker can measure those errors: it reconstructs a
simulated challenge whose truth it knows (:mod:`instahide_bench.attacks.common.simulate`) and learns the map back.

Carlini et al. used a per-pixel 3 -> 10 -> 3 network. Here the map is a small residual CNN
(3x3 convolutions, ``x + f(x)``, starting as the identity), trained on the benchmark's own
SSIM (:mod:`~instahide_bench.core.metric_torch`): the neighbourhood lets it repair flipped
pixels and grain as well as colour. On the 5000-row CIFAR + ImageNet challenge-2020 replica,
with the simulation on CIFAR-10's test split: the per-pixel network lifts Max_SSIM 0.885 ->
0.897, the CNN to 0.914 (100 simulated images) and 0.922 (200). Trained on the embedded
photographs instead it does not transfer to CIFAR (0.884): the simulation should look like
the challenge's images. A share of the simulated images is held out; when the learned map does
not beat the identity there, the identity is kept.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from instahide_bench.core.metric_torch import ssim_torch
from instahide_bench.core.pixels import PixelSpace

logger = logging.getLogger(__name__)

Progress = Callable[[Iterable[int]], Iterator[int]]


class ResidualCNN(torch.nn.Module):
    """``x + f(x)`` with ``f`` a stack of 3x3 convolutions; the last one starts at zero (the identity).

    The weights are drawn from ``generator`` (PyTorch's default initialisation, in layer order),
    never from torch's global generator: building a network leaves the caller's random state alone.
    """

    def __init__(self, width: int, depth: int, generator: torch.Generator) -> None:
        super().__init__()
        convs = [torch.nn.Conv2d(3, width, 3, padding=1, device="meta")]
        convs += [torch.nn.Conv2d(width, width, 3, padding=1, device="meta") for _ in range(depth - 2)]
        last = torch.nn.Conv2d(width, 3, 3, padding=1, device="meta")
        layers: list[torch.nn.Module] = []
        for conv in convs:
            layers += [conv, torch.nn.ReLU()]
        self.body = torch.nn.Sequential(*layers, last).to_empty(device="cpu")
        for conv in convs:
            _default_init(conv, generator)
        torch.nn.init.zeros_(last.weight)
        assert last.bias is not None
        torch.nn.init.zeros_(last.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images + self.body(images)


def _default_init(conv: torch.nn.Conv2d, generator: torch.Generator) -> None:
    """``Conv2d.reset_parameters`` with an explicit generator (Kaiming-uniform weights, uniform bias)."""
    torch.nn.init.kaiming_uniform_(conv.weight, a=math.sqrt(5), generator=generator)
    fan_in = conv.weight[0].numel()
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    assert conv.bias is not None
    torch.nn.init.uniform_(conv.bias, -bound, bound, generator=generator)


@dataclass(frozen=True)
class ColourCorrection:
    """The CNN's weights as numpy arrays (so that the stage caches as plain arrays) and its validation."""

    width: int
    depth: int
    weights: dict[str, np.ndarray]
    validation_before: float = float("nan")
    validation_after: float = float("nan")

    @property
    def learned(self) -> bool:
        """False when the held-out check rejected the network and kept the identity (no check: True)."""
        return not self.validation_after <= self.validation_before

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {f"weight.{name}": value for name, value in self.weights.items()}
        arrays["shape"] = np.array([self.width, self.depth], np.int64)
        arrays["validation"] = np.array([self.validation_before, self.validation_after], np.float64)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ColourCorrection:
        width, depth = (int(v) for v in arrays["shape"])
        before, after = (float(v) for v in arrays["validation"])
        weights = {name[len("weight.") :]: value for name, value in arrays.items() if name.startswith("weight.")}
        return cls(width, depth, weights, before, after)

    def network(self, device: torch.device | str = "cpu") -> ResidualCNN:
        network = ResidualCNN(self.width, self.depth, torch.Generator())  # weights are overwritten below
        network.load_state_dict({name: torch.as_tensor(value) for name, value in self.weights.items()})
        return network.to(device).eval()

    def apply(self, images: np.ndarray, pixels: PixelSpace, device: torch.device | str = "cpu") -> np.ndarray:
        """Corrected images (same shape, N x H x W x 3 in ``pixels``), clipped to the pixel space's box."""
        network = self.network(device)
        with torch.no_grad():
            corrected = network(_to_tensor(pixels.to_unit(images), device)).permute(0, 2, 3, 1).cpu().numpy()
        return pixels.clip(pixels.from_unit(corrected))


@dataclass(frozen=True)
class ColourEnsemble:
    """Corrections trained from different seeds; the output is the mean of theirs.

    The networks' errors are partly independent, so their mean is better than any one of them
    (seed-1 replica, the simulations' correction: one network 0.9234, the mean of three 0.9266).
    A member the held-out check rejected (the identity) is left out of the mean.
    """

    members: tuple[ColourCorrection, ...]

    @property
    def learned(self) -> bool:
        return any(member.learned for member in self.members)

    @property
    def validation(self) -> tuple[float, float]:
        """Mean held-out simulated SSIM before and after, over the members."""
        return (
            float(np.mean([member.validation_before for member in self.members])),
            float(np.mean([member.validation_after for member in self.members])),
        )

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {f"member{i}.{name}": value for i, m in enumerate(self.members) for name, value in m.to_arrays().items()}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ColourEnsemble:
        count = len({name.split(".", 1)[0] for name in arrays if name.startswith("member")})
        members = []
        for i in range(count):
            prefix = f"member{i}."
            own = {name[len(prefix) :]: value for name, value in arrays.items() if name.startswith(prefix)}
            members.append(ColourCorrection.from_arrays(own))
        if not members:
            raise ValueError("no colour correction among the arrays")
        return cls(tuple(members))

    def apply(self, images: np.ndarray, pixels: PixelSpace, device: torch.device | str = "cpu") -> np.ndarray:
        """The mean of the learned members' corrections (the identity's when none learned)."""
        used = [member for member in self.members if member.learned] or [self.members[0]]
        if len(used) == 1:
            return used[0].apply(images, pixels, device)
        corrected = [member.apply(images, pixels, device) for member in used]
        return np.mean(corrected, axis=0).astype(corrected[0].dtype)


def _to_tensor(unit_images: np.ndarray, device: torch.device | str) -> torch.Tensor:
    """N x H x W x C in [0, 1] -> float32 N x C x H x W."""
    return torch.as_tensor(np.asarray(unit_images, np.float32), device=device).permute(0, 3, 1, 2).contiguous()


def _loss(network: ResidualCNN, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """1 - SSIM of the clipped output, as the scorer clips a decryption."""
    return 1.0 - ssim_torch(network(inputs).clamp(0.0, 1.0), targets).mean()


def fit_colour(
    recovered: np.ndarray,
    truth: np.ndarray,
    pixels: PixelSpace,
    *,
    width: int = 32,
    depth: int = 4,
    steps: int = 1000,
    batch: int = 64,
    lr: float = 2e-3,
    holdout: float = 0.1,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
) -> ColourCorrection:
    """Learn ``truth ~ x + f(x)`` on (recovered, truth) pairs in ``pixels``; Adam on minibatches, mirrored at random.

    ``holdout`` of the pairs (at least one, when there are two or more) is kept out of training
    to check the result; if the correction does not raise their SSIM, the identity is returned.
    """
    if len(recovered) != len(truth) or len(recovered) == 0:
        raise ValueError(f"fit_colour needs matching, non-empty image sets, got {len(recovered)} and {len(truth)}")
    generator = torch.Generator().manual_seed(seed)
    inputs, targets = _to_tensor(pixels.to_unit(recovered), device), _to_tensor(pixels.to_unit(truth), device)
    order = torch.randperm(len(inputs), generator=generator).to(inputs.device)
    held = min(max(round(holdout * len(inputs)), 1), len(inputs) - 1) if holdout > 0 and len(inputs) > 1 else 0
    train, valid = order[held:], order[:held]
    network = ResidualCNN(width, depth, torch.Generator().manual_seed(seed)).to(device)
    optimiser = torch.optim.Adam(network.parameters(), lr=lr)
    for step in (progress or iter)(range(steps)):
        pick = train[torch.randint(len(train), (min(batch, len(train)),), generator=generator).to(inputs.device)]
        x, y = inputs[pick], targets[pick]
        if step % 2:  # a mirrored image is as likely as the original
            x, y = x.flip(3), y.flip(3)
        optimiser.zero_grad()
        _loss(network, x, y).backward()
        optimiser.step()
    weights = {name: value.detach().cpu().numpy().copy() for name, value in network.state_dict().items()}
    before = after = float("nan")
    if held:
        with torch.no_grad():
            before = float(ssim_torch(inputs[valid].clamp(0.0, 1.0), targets[valid]).mean())
            after = float(ssim_torch(network(inputs[valid]).clamp(0.0, 1.0), targets[valid]).mean())
        logger.info("colour correction: held-out simulated SSIM %.4f -> %.4f (%d images)", before, after, held)
        if after <= before:
            logger.warning("colour correction did not help on held-out simulated images; keeping the identity")
            weights = {
                name: value.detach().cpu().numpy().copy()
                for name, value in ResidualCNN(width, depth, torch.Generator()).state_dict().items()
            }
    return ColourCorrection(width, depth, weights, before, after)


__all__ = ["ColourCorrection", "ColourEnsemble", "ResidualCNN", "fit_colour"]
