"""Stage 6, colour/contrast correction learned on simulated data (Carlini et al.'s last step).

The reconstruction is a least-squares fit under a noise model, so it is biased in ways that
are the same for every image: contrast shrunk towards the mean where rows disagree, colours
desaturated where one channel's sign evidence is weaker. A tiny per-pixel network (3 -> 10 ->
3, as Carlini et al. used, here residual: ``x + f(x)``) learns that bias on a simulated
challenge whose truth the attacker has (:mod:`.simulate`) and undoes it on the real one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ...benchmark.pixels import PixelSpace


@dataclass(frozen=True)
class ColourCorrection:
    """Weights of the residual per-pixel MLP (numpy, so that it caches as plain arrays)."""

    hidden_weight: np.ndarray
    hidden_bias: np.ndarray
    output_weight: np.ndarray
    output_bias: np.ndarray

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"hidden_weight": self.hidden_weight, "hidden_bias": self.hidden_bias,
                "output_weight": self.output_weight, "output_bias": self.output_bias}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ColourCorrection:
        return cls(arrays["hidden_weight"], arrays["hidden_bias"], arrays["output_weight"], arrays["output_bias"])

    def apply(self, images: np.ndarray, pixels: PixelSpace) -> np.ndarray:
        """Corrected images (same shape), clipped to the pixel space's box."""
        flat = np.asarray(images, dtype=np.float32).reshape(-1, 3)
        hidden = np.tanh(flat @ self.hidden_weight.T + self.hidden_bias)
        corrected = flat + hidden @ self.output_weight.T + self.output_bias
        return pixels.clip(corrected.reshape(np.shape(images)))


def _network(hidden: int, seed: int) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    network = torch.nn.Sequential(torch.nn.Linear(3, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 3))
    torch.nn.init.zeros_(network[2].weight)  # starts as the identity map
    torch.nn.init.zeros_(network[2].bias)
    return network


def fit_colour(recovered: np.ndarray, truth: np.ndarray, *, hidden: int = 10, steps: int = 500, lr: float = 0.01,
               seed: int = 0) -> ColourCorrection:
    """Fit ``truth ~ x + f(x)`` pixel by pixel (mean squared error, full-batch Adam)."""
    inputs = torch.as_tensor(np.asarray(recovered, dtype=np.float32).reshape(-1, 3))
    targets = torch.as_tensor(np.asarray(truth, dtype=np.float32).reshape(-1, 3))
    network = _network(hidden, seed)
    optimiser = torch.optim.Adam(network.parameters(), lr=lr)
    for _ in range(steps):
        optimiser.zero_grad()
        loss = ((inputs + network(inputs) - targets) ** 2).mean()
        loss.backward()
        optimiser.step()
    first, second = network[0], network[2]
    return ColourCorrection(first.weight.detach().numpy().copy(), first.bias.detach().numpy().copy(),
                            second.weight.detach().numpy().copy(), second.bias.detach().numpy().copy())


__all__ = ["ColourCorrection", "fit_colour"]
