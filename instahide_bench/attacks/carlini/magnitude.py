"""Stage 1, sign removal: the mask only flips signs, so ``|e|`` is everything an attack can use.

Also the one feature transform the later stages share. The public images and the low
frequencies of the private ones dominate ``|e|`` at coarse scales, so the stages compare rows
through a 4-neighbour Laplacian high-pass: on the filing replica it separates rows sharing a
private image better than a 5x5 box high-pass (pair AUC 0.69 vs 0.68) and than ``|e|`` itself
(0.59). Re-scoring a slot against candidate images goes through a ZCA whitening of 5x5x3
patches instead (:func:`zca_kernel`; see :mod:`.assignment` for the figures).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


def magnitude(encryption: np.ndarray) -> np.ndarray:
    """``|e|`` as float32, same shape (E x 32 x 32 x 3)."""
    return np.abs(np.asarray(encryption, dtype=np.float32))


def laplacian_highpass(images: np.ndarray) -> np.ndarray:
    """Each value minus the mean of its 4 spatial neighbours (edges replicated), per channel.

    ``images`` is N x H x W x C (numpy or torch); the result has the same type and shape.
    """
    if isinstance(images, np.ndarray):
        padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    else:
        import torch.nn.functional as functional

        padded = functional.pad(images.permute(0, 3, 1, 2), (1, 1, 1, 1), mode="replicate").permute(0, 2, 3, 1)
    neighbours = padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1] + padded[:, 1:-1, :-2] + padded[:, 1:-1, 2:]
    return images - 0.25 * neighbours


def zca_kernel(
    magnitude: np.ndarray, size: int = 5, regulariser: float = 1e-3, samples: int = 400_000, seed: int = 0
) -> np.ndarray:
    """Convolution kernel (3 out x 3 in x size x size) that ZCA-whitens ``size`` x ``size`` x 3 patches of ``|e|``.

    The patch covariance ``C`` is estimated from the challenge's own ``|e|`` (public data; about
    ``samples`` patches of random rows), ``W = (C + regulariser * max_eig * I)^(-1/2)``, and the
    kernel is ``W``'s rows at the patch centre. Whitening across space *and* colour: the public images
    are noise that is smooth and strongly correlated across channels, and the Laplacian only
    whitens across space. Used by :func:`~.assignment.score_slots` in place of the Laplacian.
    """
    import torch
    import torch.nn.functional as functional

    generator = torch.Generator().manual_seed(seed)
    per_image = (magnitude.shape[1] - size + 1) * (magnitude.shape[2] - size + 1)
    rows = torch.randperm(len(magnitude), generator=generator)[: max(1, -(-samples // per_image))].sort().values
    values = torch.as_tensor(np.asarray(magnitude[rows.numpy()], dtype=np.float32)).permute(0, 3, 1, 2)
    patches = functional.unfold(values, size).transpose(1, 2).reshape(-1, values.shape[1] * size * size)
    patches = patches.double() - patches.double().mean(dim=0)
    covariance = patches.T @ patches / len(patches)
    eigenvalues, vectors = torch.linalg.eigh(covariance)
    whitening = vectors @ torch.diag((eigenvalues.clamp_min(0) + regulariser * eigenvalues.max()) ** -0.5) @ vectors.T
    channels, centre = values.shape[1], (size * size) // 2
    centres = [c * size * size + centre for c in range(channels)]
    return whitening[centres].reshape(channels, channels, size, size).float().numpy()


def whiten(images: torch.Tensor, kernel: np.ndarray) -> torch.Tensor:
    """``images`` (torch, N x H x W x C) convolved with a :func:`zca_kernel` (edges replicated)."""
    import torch
    import torch.nn.functional as functional

    weight = torch.as_tensor(kernel, dtype=images.dtype, device=images.device)
    pad = kernel.shape[-1] // 2
    padded = functional.pad(images.permute(0, 3, 1, 2), (pad, pad, pad, pad), mode="replicate")
    return functional.conv2d(padded, weight).permute(0, 2, 3, 1)


def normalise_rows(features: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit norm (float32), so dot products are correlations."""
    flat = np.asarray(features, dtype=np.float32).reshape(len(features), -1)
    flat = flat - flat.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(flat, axis=1, keepdims=True)
    return flat / np.where(norm > 0, norm, 1.0)


__all__ = ["laplacian_highpass", "magnitude", "normalise_rows", "whiten", "zca_kernel"]
