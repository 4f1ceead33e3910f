"""The gradient challenge kind: what a federated-learning server sees of a client that trains on encodings.

InstaHide's authors call federated learning its typical use: a client trains a shared model on
its encoded images and sends only updates. This kind of challenge records exactly what the
server receives in FedSGD: the weights it sent before the first step and, for every step, the
gradient of the client's training loss on one batch of B encoded rows. The server is the
attacker (honest but curious): it knows the architecture, the weights it sent, the encoder's
public parameters and every update, and never the inputs, their private images or (unless
``labels_public``) their labels.

Files of a gradient challenge (no ``encryption.npy``: the release is the gradients)::

    challenge.json   the encoder's public params, and "gradients": :class:`GradientSetup`
    weights.npz      the model's state before step 0 (parameters and BatchNorm buffers)
    gradients.npz    per parameter (named as the model names it): float32, steps x shape
    label.npy        only with labels_public: the rows' soft labels, S*B x C
    key/...          the encoder's key for the S*B rows fed, and key/inputs.npy: those rows

The server applies each update itself (plain SGD, :func:`server_step`, in numpy float32), so
the weights before step s follow from ``weights.npz``, the gradients and ``server_lr``: the
attacker replays them with :meth:`GradientRelease.weights`, the same arithmetic the generator
used. The server never updates BatchNorm buffers (FedSGD sends gradients only).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from instahide_bench.core.errors import ConfigError, InputFileError
from instahide_bench.core.io import load_npy, load_npz, save_npz_atomic, sha256_file

WEIGHTS_FILE = "weights.npz"
GRADIENTS_FILE = "gradients.npz"
#: Public files every gradient challenge has (``label.npy`` joins them when labels are public).
GRADIENT_FILES = (WEIGHTS_FILE, GRADIENTS_FILE)
#: In ``key/``: the S*B rows the model was fed, in the challenge's pixel space.
INPUTS_FILE = "inputs.npy"
BATCHNORM_MODES = ("train", "eval")
LOSSES = ("soft-cross-entropy",)
#: Bounds that keep a hand-edited challenge.json from asking for absurd allocations.
MAX_STEPS = 1_000_000
MAX_BATCH = 65_536


@dataclass(frozen=True)
class Defences:
    """What the client does to its update before sending it, beside encoding its inputs.

    Attributes
    ----------
    prune : float
        Fraction of each gradient tensor's entries zeroed, those of smallest magnitude
        (GradAttack's gradient pruning); 0 sends everything.
    clip : float or None
        Bound on the L2 norm of the whole update (all tensors together); None: no clipping.
    noise : float
        Standard deviation of the Gaussian noise added to every entry, as a multiple of ``clip``
        (DP-SGD's noise multiplier, applied to the batch's update), or absolute without clipping.
    """

    prune: float = 0.0
    clip: float | None = None
    noise: float = 0.0

    def validate(self) -> None:
        if not 0.0 <= self.prune < 1.0 or not math.isfinite(self.prune):
            raise ConfigError(f"prune must lie in [0, 1), got {self.prune}")
        if self.clip is not None and not (math.isfinite(self.clip) and self.clip > 0):
            raise ConfigError(f"clip must be a positive number, got {self.clip}")
        if not (math.isfinite(self.noise) and self.noise >= 0):
            raise ConfigError(f"noise must be a non-negative number, got {self.noise}")

    @property
    def active(self) -> bool:
        return self.prune > 0 or self.clip is not None or self.noise > 0

    def apply(self, gradients: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
        """The update as sent: pruned per tensor, then clipped as a whole, then noised (float32)."""
        out = {name: g.astype(np.float32, copy=True) for name, g in gradients.items()}
        if self.prune > 0:
            for g in out.values():
                flat = np.abs(g).ravel()
                cut = math.floor(self.prune * flat.size)
                if cut:
                    threshold = np.partition(flat, cut - 1)[cut - 1]
                    g[np.abs(g) <= threshold] = 0.0
        if self.clip is not None:
            norm = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in out.values()))
            if norm > self.clip:
                for g in out.values():
                    g *= np.float32(self.clip / norm)
        if self.noise > 0:
            scale = self.noise * (self.clip if self.clip is not None else 1.0)
            for name, g in out.items():
                out[name] = (g + rng.normal(0.0, scale, size=g.shape)).astype(np.float32)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"prune": self.prune, "clip": self.clip, "noise": self.noise}

    @classmethod
    def from_json(cls, obj: Any, path: Path) -> Defences:
        if not isinstance(obj, dict):
            raise InputFileError(path, "'gradients.defences' must be an object")
        try:
            clip = obj.get("clip")
            defences = cls(
                prune=float(obj.get("prune", 0.0)),
                clip=None if clip is None else float(clip),
                noise=float(obj.get("noise", 0.0)),
            )
            defences.validate()
        except (TypeError, ValueError, ConfigError) as exc:
            raise InputFileError(path, f"bad 'gradients.defences': {exc}") from None
        return defences


@dataclass(frozen=True)
class TensorSpec:
    """A named tensor of the model's state: its shape and dtype."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"


@dataclass(frozen=True)
class GradientSetup:
    """The public description of the FedSGD run (challenge.json's ``gradients`` object).

    Attributes
    ----------
    model : str
        The architecture (a name of the training core's models).
    num_classes : int
        Width of the model's output and of the soft labels.
    batch_size : int
        B, rows per step.
    steps : int
        S, updates sent.
    server_lr : float
        The server's SGD learning rate: the weights before step s+1 are those before step s
        minus ``server_lr`` times the update of step s.
    batchnorm : str
        ``train`` (batch statistics, as the utility recipe trains) or ``eval`` (running statistics).
    labels_public : bool
        Whether ``label.npy`` (the rows' soft labels) is part of the release.
    defences : Defences
        What the client did to each update before sending it.
    parameters : tuple of TensorSpec
        The model's trainable parameters, in ``named_parameters()`` order: the gradients' names.
    buffers : tuple of TensorSpec
        The rest of its state (BatchNorm running statistics), in ``weights.npz`` only.
    loss : str
        The client's training loss (the utility recipe's soft-label cross-entropy, batch mean).
    epochs : float
        S*B / n: how many times each private image was encoded and fed.
    model_seed : int
        The seed of the initial weights (public: the weights themselves are sent).
    """

    model: str
    num_classes: int
    batch_size: int
    steps: int
    server_lr: float
    batchnorm: str
    labels_public: bool
    defences: Defences
    parameters: tuple[TensorSpec, ...]
    buffers: tuple[TensorSpec, ...] = ()
    loss: str = "soft-cross-entropy"
    epochs: float = 1.0
    model_seed: int = 0

    @property
    def num_rows(self) -> int:
        """S*B: the rows the model was fed, and the rows of a decryption."""
        return self.steps * self.batch_size

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "num_classes": self.num_classes,
            "batch_size": self.batch_size,
            "steps": self.steps,
            "server_lr": self.server_lr,
            "batchnorm": self.batchnorm,
            "labels_public": self.labels_public,
            "defences": self.defences.to_json(),
            "loss": self.loss,
            "epochs": self.epochs,
            "model_seed": self.model_seed,
            "parameters": [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype} for t in self.parameters],
            "buffers": [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype} for t in self.buffers],
        }

    @classmethod
    def from_json(cls, obj: Any, path: Path) -> GradientSetup:
        """Read and check challenge.json's ``gradients`` object; an error names the file and the field."""
        if not isinstance(obj, dict):
            raise InputFileError(path, "'gradients' must be an object")
        missing = [
            k for k in ("model", "num_classes", "batch_size", "steps", "server_lr", "parameters") if k not in obj
        ]
        if missing:
            raise InputFileError(path, f"'gradients' lacks {', '.join(missing)}")

        def integer(name: str, low: int, high: int) -> int:
            value = obj.get(name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InputFileError(path, f"'gradients.{name}' must be an integer in [{low}, {high}], got {value!r}")
            return value

        def number(name: str, default: float | None = None) -> float:
            value = obj.get(name, default)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InputFileError(path, f"'gradients.{name}' must be a finite number, got {value!r}")
            return float(value)

        batchnorm = obj.get("batchnorm", "train")
        if batchnorm not in BATCHNORM_MODES:
            raise InputFileError(path, f"'gradients.batchnorm' must be one of {', '.join(BATCHNORM_MODES)}")
        loss = obj.get("loss", LOSSES[0])
        if loss not in LOSSES:
            raise InputFileError(path, f"'gradients.loss' must be one of {', '.join(LOSSES)}")
        if not isinstance(obj.get("model"), str) or not isinstance(obj.get("labels_public", False), bool):
            raise InputFileError(path, "'gradients.model' must be a name and 'labels_public' a boolean")
        return cls(
            model=obj["model"],
            num_classes=integer("num_classes", 2, 100_000),
            batch_size=integer("batch_size", 1, MAX_BATCH),
            steps=integer("steps", 1, MAX_STEPS),
            server_lr=number("server_lr"),
            batchnorm=batchnorm,
            labels_public=bool(obj.get("labels_public", False)),
            defences=Defences.from_json(obj.get("defences", {}), path),
            parameters=_tensor_specs(obj["parameters"], path, "parameters"),
            buffers=_tensor_specs(obj.get("buffers", []), path, "buffers"),
            loss=loss,
            epochs=number("epochs", 1.0),
            model_seed=integer("model_seed", 0, 2**63 - 1) if "model_seed" in obj else 0,
        )


def _tensor_specs(items: Any, path: Path, what: str) -> tuple[TensorSpec, ...]:
    if not isinstance(items, list):
        raise InputFileError(path, f"'gradients.{what}' must be a list")
    specs = []
    for item in items:
        shape = item.get("shape") if isinstance(item, dict) else None
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("name"), str)
            or not isinstance(shape, list)
            or not all(isinstance(d, int) and not isinstance(d, bool) and 0 < d <= 1 << 24 for d in shape)
            or item.get("dtype", "float32") not in ("float32", "int64")
        ):
            raise InputFileError(path, f"'gradients.{what}' holds an entry that is not {{name, shape, dtype}}")
        specs.append(TensorSpec(item["name"], tuple(shape), str(item.get("dtype", "float32"))))
    if len({s.name for s in specs}) != len(specs):
        raise InputFileError(path, f"'gradients.{what}' names a tensor twice")
    return tuple(specs)


def server_step(weights: dict[str, np.ndarray], update: dict[str, np.ndarray], lr: float) -> dict[str, np.ndarray]:
    """The server's FedSGD step: every parameter minus ``lr`` times its update (float32); buffers unchanged."""
    step = np.float32(lr)
    return {name: (w - step * update[name]).astype(w.dtype) if name in update else w for name, w in weights.items()}


@dataclass(frozen=True)
class GradientRelease:
    """What the server holds: the setup, the first weights, every update (and the labels when public)."""

    setup: GradientSetup
    initial: dict[str, np.ndarray]
    gradients: dict[str, np.ndarray]
    labels: np.ndarray | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def update(self, step: int) -> dict[str, np.ndarray]:
        """The update the client sent at ``step`` (0-based), per parameter name."""
        return {name: array[step] for name, array in self.gradients.items()}

    def weights(self) -> Iterator[dict[str, np.ndarray]]:
        """The state the server sent before each step, in order (replaying its SGD steps)."""
        state = dict(self.initial)
        for step in range(self.setup.steps):
            yield state
            state = server_step(state, self.update(step), self.setup.server_lr)

    def step_labels(self, step: int) -> np.ndarray | None:
        """The public soft labels of ``step``'s rows, when labels are public."""
        if self.labels is None:
            return None
        size = self.setup.batch_size
        return self.labels[step * size : (step + 1) * size]


def write_gradient_files(directory: Path, release: GradientRelease) -> dict[str, str]:
    """Write ``weights.npz`` and ``gradients.npz`` (atomically); return their sha256 by name."""
    save_npz_atomic(directory / WEIGHTS_FILE, release.initial)
    save_npz_atomic(
        directory / GRADIENTS_FILE, {k: v.astype(np.float32, copy=False) for k, v in release.gradients.items()}
    )
    return {name: sha256_file(directory / name) for name in GRADIENT_FILES}


def _check_array(path: Path, name: str, array: np.ndarray, shape: tuple[int, ...], dtype: str) -> None:
    if array.shape != shape:
        raise InputFileError(path, f"array {name!r} has shape {array.shape}, expected {shape}")
    if array.dtype != np.dtype(dtype):
        raise InputFileError(path, f"array {name!r} has dtype {array.dtype}, expected {dtype}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise InputFileError(path, f"array {name!r} holds NaN or infinite values")


def load_gradient_release(directory: Path, setup: GradientSetup, labels: np.ndarray | None) -> GradientRelease:
    """Read and check ``weights.npz`` and ``gradients.npz`` against ``setup`` (names, shapes, dtypes, finite)."""
    weights_path, gradients_path = directory / WEIGHTS_FILE, directory / GRADIENTS_FILE
    for path in (weights_path, gradients_path):
        if not path.is_file():
            raise InputFileError(path, "file not found")
    expected_bytes = 4 * setup.steps * sum(math.prod(t.shape) for t in setup.parameters)
    if gradients_path.stat().st_size > 2 * expected_bytes + (1 << 20):
        raise InputFileError(
            gradients_path, f"is larger than the {expected_bytes:,} bytes of data challenge.json implies"
        )
    weights = load_npz(weights_path)
    gradients = load_npz(gradients_path)
    state = (*setup.parameters, *setup.buffers)
    extra = sorted(set(weights) - {t.name for t in state})
    if extra:
        raise InputFileError(weights_path, f"holds arrays challenge.json does not name: {', '.join(extra)}")
    for spec in state:
        if spec.name not in weights:
            raise InputFileError(weights_path, f"lacks {spec.name!r}")
        _check_array(weights_path, spec.name, weights[spec.name], spec.shape, spec.dtype)
    if sorted(gradients) != sorted(t.name for t in setup.parameters):
        raise InputFileError(gradients_path, "its arrays are not the model's parameters named in challenge.json")
    for spec in setup.parameters:
        _check_array(gradients_path, spec.name, gradients[spec.name], (setup.steps, *spec.shape), "float32")
    return GradientRelease(setup, weights, gradients, labels)


def load_inputs(key_dir: Path, num_rows: int) -> np.ndarray | None:
    """``key/inputs.npy`` (the rows the model was fed), checked; None where the key has none."""
    path = key_dir / INPUTS_FILE
    if not path.is_file():
        return None
    inputs = load_npy(path, max_bytes=num_rows * 32 * 32 * 3 * 4)
    _check_array(path, "inputs", inputs, (num_rows, 32, 32, 3), "float32")
    return inputs


def gradient_files_present(directory: str | os.PathLike[str]) -> bool:
    return all((Path(directory) / name).is_file() for name in GRADIENT_FILES)


__all__ = [
    "BATCHNORM_MODES",
    "GRADIENTS_FILE",
    "GRADIENT_FILES",
    "INPUTS_FILE",
    "WEIGHTS_FILE",
    "Defences",
    "GradientRelease",
    "GradientSetup",
    "TensorSpec",
    "gradient_files_present",
    "load_gradient_release",
    "load_inputs",
    "server_step",
    "write_gradient_files",
]
