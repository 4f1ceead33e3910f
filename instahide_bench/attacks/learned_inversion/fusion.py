"""Fuse the predictions of rows that share a private image.

Each private image is the dominant one of about ``T`` rows, and the per-row predictions of
those rows are noisy copies of it (each row's public patches and weights differ). Rows that can
share a dominant image must share its class, which ``label.npy`` reveals, so the search stays
within one class (~1/C of the rows). Within it, the predictions themselves are the similarity:
two rows whose predicted images correlate strongly most likely show the same image. Each row's
fused image is the weighted mean of its own prediction and those of its ``neighbours`` most
similar rows (weights: the rows' dominant label weight times a similarity kernel). This needs
no hard clustering: a row whose neighbours are wrong is pulled only by those that look alike.
A second round looks for neighbours again through the fused images, whose noise is lower.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch

Progress = Callable[[Iterable[int]], Iterator[int]]


def _descriptors(predictions: np.ndarray) -> np.ndarray:
    """Centred, unit-norm 16 x 16 x 3 versions of the predictions (E x 768), for cosine similarity."""
    pooled = predictions.reshape(len(predictions), 3, 16, 2, 16, 2).mean(axis=(3, 5)).reshape(len(predictions), -1)
    pooled = pooled - pooled.mean(axis=1, keepdims=True)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-8)


def _fuse_once(
    predictions: np.ndarray,
    descriptors: np.ndarray,
    group: np.ndarray,
    weight: np.ndarray,
    neighbours: int,
    temperature: float,
    device: torch.device | str,
    progress: Progress | None,
) -> tuple[np.ndarray, np.ndarray]:
    """One pass: neighbours found through ``descriptors``, the raw ``predictions`` averaged."""
    fused = predictions.copy()
    confidence = np.zeros(len(predictions))
    flat, out = predictions.reshape(len(predictions), -1), fused.reshape(len(predictions), -1)
    groups = np.unique(group)
    for value in (progress or iter)(range(len(groups))):
        rows = np.flatnonzero(group == groups[value])
        if len(rows) < 2:
            continue
        d = torch.from_numpy(descriptors[rows]).to(device)
        similarity = (d @ d.T).cpu().numpy()
        np.fill_diagonal(similarity, -np.inf)
        m = min(neighbours, len(rows) - 1)
        nearest = np.argpartition(-similarity, m - 1, axis=1)[:, :m]
        sims = np.take_along_axis(similarity, nearest, axis=1)
        kernel = np.exp((sims - 1.0) / temperature) * weight[rows][nearest]
        own = weight[rows]
        mixed = own[:, None] * flat[rows] + np.einsum("rm,rmd->rd", kernel, flat[rows][nearest])
        out[rows] = mixed / (own + kernel.sum(axis=1))[:, None]
        confidence[rows] = sims.mean(axis=1)
    return fused, confidence


def fuse_neighbours(
    predictions: np.ndarray,
    group: np.ndarray,
    weight: np.ndarray,
    neighbours: int,
    temperature: float = 0.2,
    rounds: int = 1,
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the weighted mean of its prediction and its ``neighbours`` most similar rows' in its ``group``.

    ``group`` (E,) is the row's dominant class (rows of different groups are never mixed);
    ``weight`` (E,) the row's dominant label weight. After the first round, neighbours are
    found again through the fused images (less noisy, so the right rows rank higher), and the
    raw predictions are averaged anew. Returns the fused E x 3 x 32 x 32 images and each row's
    mean similarity to the neighbours it used (a confidence, E,).
    """
    if neighbours < 1 or rounds < 1:
        return predictions.copy(), np.zeros(len(predictions))
    current = predictions
    confidence = np.zeros(len(predictions))
    for _ in range(rounds):
        current, confidence = _fuse_once(
            predictions, _descriptors(current), group, weight, neighbours, temperature, device, progress
        )
    return current, confidence


__all__ = ["fuse_neighbours"]
