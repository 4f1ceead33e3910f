"""A small U-Net from ``|e|`` (plus the label row's side vector) to the dominant private image.

Three resolutions (32, 16, 8), two 3x3 convolutions at each, skip connections. The side vector
enters as a learned per-channel bias after the first convolution and at the bottleneck: the
same as feeding it as constant image planes, without E x (4 + 2C) x 32 x 32 of memory. The
U-Net shape suits the task: the sign of a region is decided by context (8x8 receptive fields
at the bottleneck see whole objects), its detail comes back through the skips. Weights are
drawn from a ``torch.Generator`` the caller seeds; nothing touches torch's global state.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _init(module: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default initialisation of every convolution and linear layer, drawn from ``generator``."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            if layer.bias is not None:
                fan_in = nn.init._calculate_fan_in_and_fan_out(layer.weight)[0]
                bound = 1.0 / math.sqrt(fan_in)
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


class _Block(nn.Sequential):
    """Two 3x3 convolutions with ReLUs."""

    def __init__(self, inputs: int, outputs: int) -> None:
        super().__init__(
            nn.Conv2d(inputs, outputs, 3, padding=1, device="meta"),
            nn.ReLU(),
            nn.Conv2d(outputs, outputs, 3, padding=1, device="meta"),
            nn.ReLU(),
        )


class InversionNet(nn.Module):
    """U-Net: ``(magnitude N x 3 x 32 x 32, side N x S) -> image N x 3 x 32 x 32`` in [0, 1]."""

    def __init__(self, side: int, width: int, generator: torch.Generator) -> None:
        super().__init__()
        self.side_size, self.width = side, width
        meta = torch.device("meta")  # built without weights (no draw from torch's global generator), drawn below
        self.stem = nn.Conv2d(3, width, 3, padding=1, device=meta)
        self.side_in = nn.Linear(side, width, device=meta)
        self.down1 = _Block(width, width)
        self.down2 = _Block(width, 2 * width)
        self.bottom = _Block(2 * width, 4 * width)
        self.side_bottom = nn.Linear(side, 4 * width, device=meta)
        self.up2 = nn.ConvTranspose2d(4 * width, 2 * width, 2, stride=2, device=meta)
        self.merge2 = _Block(4 * width, 2 * width)
        self.up1 = nn.ConvTranspose2d(2 * width, width, 2, stride=2, device=meta)
        self.merge1 = _Block(2 * width, width)
        self.head = nn.Conv2d(width, 3, 1, device=meta)
        self.to_empty(device="cpu")
        with torch.no_grad():
            _init(self, generator)

    def forward(self, magnitude: torch.Tensor, side: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem(magnitude) + self.side_in(side)[:, :, None, None])
        skip1 = self.down1(x)
        skip2 = self.down2(nn.functional.max_pool2d(skip1, 2))
        bottom = self.bottom(nn.functional.max_pool2d(skip2, 2))
        bottom = torch.relu(bottom + self.side_bottom(side)[:, :, None, None])
        x = self.merge2(torch.cat([self.up2(bottom), skip2], dim=1))
        x = self.merge1(torch.cat([self.up1(x), skip1], dim=1))
        return torch.sigmoid(self.head(x))


__all__ = ["InversionNet"]
