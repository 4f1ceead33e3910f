"""The classifiers the training core offers, by name: importable without torch.

The command line lists them in its help, and building the parser must not import torch
(about 1.5 s on every command). :data:`instahide_bench.core.training.models.MODELS` maps each
name to its class; a test keeps the two in step.
"""

from __future__ import annotations

#: Names accepted by ``--model`` and ``TrainConfig.model``.
MODEL_NAMES = ("small-cnn", "resnet18", "mlp")
#: The default classifier: small enough for 2 CPU cores.
DEFAULT_MODEL = "small-cnn"

__all__ = ["DEFAULT_MODEL", "MODEL_NAMES"]
