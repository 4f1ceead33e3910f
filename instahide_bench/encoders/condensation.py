"""The ``dataset-condensation`` encoder: distribution matching (Zhao & Bilen, WACV 2023).

DM learns m synthetic images per class so that, under randomly initialised ConvNets, the mean
embedding of a class's synthetic images matches the mean embedding of a batch of its real
images. Each iteration draws a fresh network (the embedding is the network without its
classifier, so no classifier is built), a real batch per class, and takes one SGD step on the
synthetic pixels to lower

    sum over classes c of || mean_i f(real_c,i) - mean_j f(syn_c,j) ||^2.

The network is DM's ConvNet: ``depth`` blocks of 3x3 convolution (``width`` channels), instance
normalisation, ReLU and 2x2 average pooling; the embedding is the flattened output. DM trains
with differentiable siamese augmentation (DSA); here ``augment=flip-shift`` is a simpler
siamese one: per class and iteration one random horizontal flip and one shift of up to 4
pixels (zero-padded) are applied to the real batch and to the synthetic images alike, so the
gradient flows through the same transform the real images saw.

Departures from the paper, for a release that is an image set in the challenge's pixel space:
the pixels are optimised in that space and projected back into its valid box after every step;
``init=noise`` starts from uniform noise over the box (DM draws standard normals).

The key (see :mod:`.release`): with ``init=real`` each synthetic image starts as one real
private image of its class, which ``init_index.npy`` records and against which the row is
scored. With ``init=noise`` no private image started it (``init_index`` -1), and the row is
scored against the private image of its class nearest to it in L2 (in the pixel space) once
condensation ends: the image it resembles most, so the visual-privacy score is the worst case.

All randomness comes from one ``torch.Generator`` seeded from the encoder's
:class:`numpy.random.Generator`; draws are made on the CPU and moved to the device, so a seed
gives the same draws on any device (the arithmetic on a GPU may still differ in the last bits).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from instahide_bench.core.config import param
from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.encoder import ENCODERS
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.pixels import PIXEL_SPACES, PixelSpace
from instahide_bench.core.progress import progress
from instahide_bench.core.training.models import pick_device
from instahide_bench.encoders.release import (
    Release,
    ReleaseEncoder,
    check_release_settings,
    class_members,
    pick_per_class,
)

logger = logging.getLogger(__name__)

#: Largest shift of ``augment=flip-shift``, in pixels.
MAX_SHIFT = 4

#: A random ConvNet: per block, the convolution's weight and bias.
ConvNet = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class DatasetCondensationConfig:
    """Settings of ``dataset-condensation`` (all public: written to challenge.json).

    DM's own settings for CIFAR-10 are lr 1, momentum 0.5, 256 real images per class, a
    ConvNet of width 128 and depth 3, DSA, 20,000 iterations; the defaults here are smaller so
    that the default preset runs in about a minute on two CPU cores.
    """

    n: int = param(200, "private images condensed")
    images_per_class: int = param(10, "m: synthetic images per class")
    init: Literal["real", "noise"] = param("real", "real: start from m private images per class; noise: uniform noise")
    iterations: int = param(200, "SGD steps on the synthetic images (one fresh random ConvNet each)")
    lr: float = param(1.0, "learning rate of the synthetic pixels (DM: 1.0)")
    momentum: float = param(0.5, "SGD momentum (DM: 0.5)")
    real_batch: int = param(64, "real images per class per iteration (all of a class when it has fewer)")
    width: int = param(32, "channels of every convolution of the random ConvNets (DM: 128)")
    depth: int = param(3, "conv-instancenorm-ReLU-avgpool blocks of the random ConvNets (DM: 3)")
    augment: Literal["flip-shift", "none"] = param(
        "flip-shift", "flip-shift: one random flip and shift per class, the same on real and synthetic; none"
    )
    pixels: str = param("[-1,1]", "pixel space: " + ", ".join(PIXEL_SPACES))
    device: str = param("auto", "auto (a GPU when present), cpu, cuda, ...")

    def validate(self) -> None:
        check_release_settings(self.n, self.images_per_class, self.pixels)
        if self.init not in ("real", "noise"):
            raise ConfigError(f"init must be real or noise, got {self.init!r}")
        if self.iterations < 0 or self.real_batch < 1:
            raise ConfigError(f"need iterations >= 0 and real_batch >= 1, got {self.iterations}, {self.real_batch}")
        if self.lr <= 0 or not 0 <= self.momentum < 1:
            raise ConfigError(f"need lr > 0 and 0 <= momentum < 1, got {self.lr}, {self.momentum}")
        if self.width < 1 or not 1 <= self.depth <= 5:
            raise ConfigError(
                f"need width >= 1 and 1 <= depth <= 5 (32 pixels halve 5 times), got {self.width}, {self.depth}"
            )
        if self.augment not in ("flip-shift", "none"):
            raise ConfigError(f"augment must be flip-shift or none, got {self.augment!r}")


# ------------------------------------------------------------------------------ the algorithm


def random_convnet(width: int, depth: int, generator: torch.Generator, device: torch.device) -> ConvNet:
    """A fresh ConvNet's weights, PyTorch's default initialisation drawn from ``generator`` on the CPU."""
    net: ConvNet = []
    channels = 3
    for _ in range(depth):
        bound = 1.0 / math.sqrt(channels * 9)  # kaiming_uniform(a=sqrt(5)) and the bias both give 1/sqrt(fan_in)
        weight = (torch.rand((width, channels, 3, 3), generator=generator) * 2 - 1) * bound
        bias = (torch.rand((width,), generator=generator) * 2 - 1) * bound
        net.append((weight.to(device), bias.to(device)))
        channels = width
    return net


def embed(images: torch.Tensor, net: ConvNet) -> torch.Tensor:
    """The flattened output of ``net``'s blocks (conv, instance norm, ReLU, avg-pool) for NCHW images."""
    out = images
    for weight, bias in net:
        out = F.avg_pool2d(F.relu(F.instance_norm(F.conv2d(out, weight, bias, padding=1))), 2)
    return out.flatten(1)


def siamese_augment(
    real: torch.Tensor, synthetic: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """One random flip and shift (up to :data:`MAX_SHIFT` pixels, zero-padded) applied to both batches."""
    flip = bool(torch.rand((), generator=generator) < 0.5)
    dy, dx = (int(v) for v in torch.randint(0, 2 * MAX_SHIFT + 1, (2,), generator=generator))

    def transform(images: torch.Tensor) -> torch.Tensor:
        if flip:
            images = images.flip(3)
        padded = F.pad(images, (MAX_SHIFT, MAX_SHIFT, MAX_SHIFT, MAX_SHIFT))
        return padded[:, :, dy : dy + images.shape[2], dx : dx + images.shape[3]]

    return transform(real), transform(synthetic)


def embedding_distance(
    synthetic: torch.Tensor,
    synthetic_labels: torch.Tensor,
    real: torch.Tensor,
    real_labels: torch.Tensor,
    nets: list[ConvNet],
) -> float:
    """DM's objective with every real image and no augmentation, averaged over ``nets``.

    Per network, the sum over classes of the squared distance between the class's mean real
    embedding and its mean synthetic embedding: what condensation lowers (tests measure it).
    """
    total = 0.0
    with torch.no_grad():
        for net in nets:
            real_embedded, synthetic_embedded = embed(real, net), embed(synthetic, net)
            for c in torch.unique(synthetic_labels).tolist():
                gap = real_embedded[real_labels == c].mean(0) - synthetic_embedded[synthetic_labels == c].mean(0)
                total += float((gap**2).sum())
    return total / max(len(nets), 1)


def condense(
    real: torch.Tensor,
    members: list[torch.Tensor],
    initial: torch.Tensor,
    config: DatasetCondensationConfig,
    generator: torch.Generator,
    box: tuple[torch.Tensor, torch.Tensor],
) -> torch.Tensor:
    """Distribution matching: ``initial`` (m images per class, class after class) after ``config.iterations`` steps.

    Parameters
    ----------
    real : torch.Tensor
        The private images, NCHW, on the device.
    members : list of torch.Tensor
        Per class, the positions (CPU int64) of its images in ``real``.
    initial : torch.Tensor
        The starting synthetic images, NCHW, on the device, ``m`` per class in class order.
    config : DatasetCondensationConfig
    generator : torch.Generator
        CPU generator of every draw (networks, real batches, augmentation).
    box : (low, high)
        Per-channel bounds (1 x 3 x 1 x 1, on the device) the pixels are projected into.

    Returns
    -------
    torch.Tensor
        The condensed images (detached), on the device.
    """
    m = config.images_per_class
    device = real.device
    synthetic = initial.detach().clone().requires_grad_(True)
    velocity = torch.zeros_like(synthetic)  # SGD with momentum, written out: torch.optim imports torch._dynamo (~10 s)
    low, high = box
    report_every = max(1, config.iterations // 10)
    steps = progress(range(config.iterations), desc="condensing (DM)", total=config.iterations, unit="iteration")
    for step in steps:
        net = random_convnet(config.width, config.depth, generator, device)
        loss = torch.zeros((), device=device)
        for c, rows in enumerate(members):
            take = rows[torch.randperm(len(rows), generator=generator)[: config.real_batch]].to(device)
            real_c, synthetic_c = real[take], synthetic[c * m : (c + 1) * m]
            if config.augment == "flip-shift":
                real_c, synthetic_c = siamese_augment(real_c, synthetic_c, generator)
            with torch.no_grad():
                target = embed(real_c, net).mean(0)
            loss = loss + ((target - embed(synthetic_c, net).mean(0)) ** 2).sum()
        (gradient,) = torch.autograd.grad(loss, [synthetic])
        with torch.no_grad():
            velocity.mul_(config.momentum).add_(gradient)  # torch.optim.SGD's rule (no dampening)
            synthetic.sub_(config.lr * velocity)
            synthetic.copy_(torch.maximum(torch.minimum(synthetic, high), low))
        if step % report_every == 0 or step == config.iterations - 1:
            logger.info(
                "DM iteration %d/%d: embedding-mean loss %.4f", step + 1, config.iterations, float(loss.detach())
            )
    return synthetic.detach()


def nearest_in_class(
    images: np.ndarray, labels: np.ndarray, private: np.ndarray, private_labels: np.ndarray
) -> np.ndarray:
    """Per image, the position of the private image of the same class nearest in L2 (both NHWC, same space)."""
    flat_private = private.reshape(len(private), -1).astype(np.float64)
    nearest = np.empty(len(images), dtype=np.int64)
    for row, (image, label) in enumerate(zip(images, labels, strict=True)):
        candidates = np.flatnonzero(private_labels == label)
        distances = ((flat_private[candidates] - image.reshape(-1)) ** 2).mean(axis=1)
        nearest[row] = candidates[int(np.argmin(distances))]
    return nearest


def _to_nchw(images: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous().to(device)


def _box(space: PixelSpace, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    low = torch.tensor(space.low, dtype=torch.float32).view(1, 3, 1, 1).to(device)
    high = torch.tensor(space.high, dtype=torch.float32).view(1, 3, 1, 1).to(device)
    return low, high


# ------------------------------------------------------------------------------ the encoder


@ENCODERS.register("dataset-condensation")
class DatasetCondensationEncoder(ReleaseEncoder):
    """Distribution matching (DM): m synthetic images per class matching the data's mean random-ConvNet embeddings."""

    name = "dataset-condensation"
    version = "1.0"
    Config = DatasetCondensationConfig
    config: DatasetCondensationConfig

    def _release(self, private: ImageSet, rng: np.random.Generator) -> Release:
        config = self.config
        m = config.images_per_class
        space = self.pixel_space()
        device = pick_device(config.device)
        labels = private.labels
        members = class_members(labels, len(private.class_names), m, private.class_names)
        generator = torch.Generator().manual_seed(int(rng.integers(2**63)))
        images = space.from_uint8(private.images)
        box = _box(space, device)
        row_labels = np.repeat(np.arange(len(members), dtype=np.int64), m)
        if config.init == "real":
            init_index = pick_per_class(members, m, rng)
            initial = _to_nchw(images[init_index], device)
        else:
            init_index = np.full(len(row_labels), -1, dtype=np.int64)
            unit = torch.rand((len(row_labels), 3, 32, 32), generator=generator).to(device)
            initial = box[0] + unit * (box[1] - box[0])
        logger.info(
            "DM: %d synthetic images (%d per class, init %s) from %d private images, %d iterations on %s",
            len(row_labels),
            m,
            config.init,
            len(private),
            config.iterations,
            device,
        )
        condensed = condense(
            _to_nchw(images, device),
            [torch.from_numpy(rows) for rows in members],
            initial,
            config,
            generator,
            box,
        )
        release = space.clip(condensed.permute(0, 2, 3, 1).cpu().numpy().astype(np.float32))
        scored = init_index if config.init == "real" else nearest_in_class(release, row_labels, images, labels)
        return Release(release, row_labels, scored.astype(np.int64), init_index)


__all__ = [
    "DatasetCondensationConfig",
    "DatasetCondensationEncoder",
    "condense",
    "embed",
    "embedding_distance",
    "nearest_in_class",
    "random_convnet",
    "siamese_augment",
]
