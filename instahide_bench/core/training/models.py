"""The classifiers trained on encodings: a small CNN for CPUs and the paper's ResNet-18.

Models are built on PyTorch's ``meta`` device and then initialised from a ``torch.Generator``,
so that building one never draws from (or changes) torch's global random state and the same
seed always gives the same weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from instahide_bench.core.errors import ConfigError
from instahide_bench.core.model_names import DEFAULT_MODEL


class SmallCNN(nn.Module):
    """Three stages of two conv-BN-ReLU layers and a max-pool (16, 32, 64 channels), global pooling, a linear layer.

    About 10 M multiply-adds per 32x32 image (ResNet-18: 560 M): training runs at about 500
    images/s on 2 CPU cores, so ten epochs of a few thousand images take a minute or two.
    """

    def __init__(self, num_classes: int, width: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for out in (width, 2 * width, 4 * width):
            layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            layers += [nn.Conv2d(out, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            layers.append(nn.MaxPool2d(2))
            channels = out
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean(dim=(2, 3)))  # type: ignore[no-any-return]


class MLP(nn.Module):
    """Two fully connected hidden layers (256, 128) on the flattened image: a common federated-learning model.

    Its first layer is fully connected with a bias, which is what makes a single input exactly
    recoverable from its gradient (docs/attacks/gradient-inversion.md): the choice of model is
    the server's, and this one lets the benchmark show what such a choice reveals.
    """

    def __init__(self, num_classes: int, hidden: tuple[int, int] = (256, 128)) -> None:
        super().__init__()
        self.fc1 = nn.Linear(32 * 32 * 3, hidden[0])
        self.fc2 = nn.Linear(hidden[0], hidden[1])
        self.classifier = nn.Linear(hidden[1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.fc1(x.flatten(1)))
        return self.classifier(torch.relu(self.fc2(out)))  # type: ignore[no-any-return]


class BasicBlock(nn.Module):
    """ResNet's two-convolution residual block (the CIFAR variant the authors trained)."""

    def __init__(self, inputs: int, outputs: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or inputs != outputs:
            self.shortcut = nn.Sequential(
                nn.Conv2d(inputs, outputs, 1, stride=stride, bias=False), nn.BatchNorm2d(outputs)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """ResNet-18 for 32x32 inputs (3x3 stem, no max-pool), as in the authors' CIFAR-10 code."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        blocks: list[nn.Module] = []
        channels = 64
        for out, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            blocks += [BasicBlock(channels, out, stride), BasicBlock(out, out, 1)]
            channels = out
        self.layers = nn.Sequential(*blocks)
        self.classifier = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(torch.relu(self.bn1(self.conv1(x))))
        return self.classifier(out.mean(dim=(2, 3)))  # type: ignore[no-any-return]


#: name -> constructor(num_classes)
MODELS: dict[str, Callable[[int], nn.Module]] = {"small-cnn": SmallCNN, "resnet18": ResNet18, "mlp": MLP}


def init_weights(model: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default initialisation (Kaiming-uniform convolutions and linears), drawn from ``generator``."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
                if module.bias is not None:
                    fan_in = module.weight[0].numel()
                    bound = 1 / math.sqrt(fan_in)
                    nn.init.uniform_(module.bias, -bound, bound, generator=generator)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
                module.reset_running_stats()


def build_model(
    name: str, num_classes: int, generator: torch.Generator, device: torch.device | str = "cpu"
) -> nn.Module:
    """The model called ``name`` for ``num_classes`` classes, initialised from ``generator``, on ``device``.

    Raises
    ------
    ConfigError
        For an unknown name (the message lists the known ones).
    """
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    if num_classes < 2:
        raise ConfigError(f"a classifier needs at least 2 classes, got {num_classes}")
    with torch.device("meta"):
        model = MODELS[name](num_classes)
    model = model.to_empty(device="cpu")
    init_weights(model, generator)
    return model.to(device)


def pick_device(name: str = "auto") -> torch.device:
    """``auto``: the first CUDA device when one is present, else the CPU; otherwise the named device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device {name!r} ({exc})") from None


__all__ = ["DEFAULT_MODEL", "MLP", "MODELS", "ResNet18", "SmallCNN", "build_model", "init_weights", "pick_device"]
