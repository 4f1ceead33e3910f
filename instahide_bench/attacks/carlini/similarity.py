"""Stage 2, pairwise similarity: a learned embedding, then O(E^2) dot products in bounded blocks.

Each row is embedded once (O(E) work): its ``|e|`` goes through the Laplacian high-pass of
:mod:`.magnitude`, then a linear projection learned on simulated InstaHide
(:mod:`instahide_bench.attacks.common.simulate`).
The projection is the closed-form canonical-correlation solution: the directions along which
two encryptions of the same private image agree most, relative to how much all encryptions
vary (a generalised eigenproblem ``C_pos w = rho C_all w``). It needs no gradient descent, so it
trains in seconds on a CPU, and it is the best linear map for a dot-product similarity under
that criterion. ``dim = 0`` skips it (the raw high-pass features).

Similarities are then computed in blocks of rows (memory O(block x E)), pairs whose label
classes rule them out (no class in common) are masked, and only each row's ``k`` best
neighbours are kept: a sparse graph for :mod:`.clustering`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch

from instahide_bench.attacks.carlini.magnitude import laplacian_highpass, magnitude, normalise_rows
from instahide_bench.attacks.common.labels import PRESENT_THRESHOLD
from instahide_bench.attacks.common.simulate import Simulation

logger = logging.getLogger(__name__)

Progress = Callable[[Iterable[int]], Iterator[int]]


@dataclass(frozen=True)
class Embedding:
    """``features(|e|) = normalise((highpass(|e|) - mean) @ projection)``; no projection = identity."""

    mean: np.ndarray
    projection: np.ndarray | None

    @property
    def dim(self) -> int:
        return int(self.mean.size if self.projection is None else self.projection.shape[1])

    def features(self, magnitudes: np.ndarray) -> np.ndarray:
        """E x dim float32 unit rows."""
        flat = laplacian_highpass(np.asarray(magnitudes, dtype=np.float32)).reshape(len(magnitudes), -1) - self.mean
        if self.projection is not None:
            flat = flat @ self.projection
        return normalise_rows(flat)

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {"mean": self.mean}
        if self.projection is not None:
            arrays["projection"] = self.projection
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Embedding:
        return cls(arrays["mean"], arrays.get("projection"))


def _highpass_rows(simulation: Simulation) -> np.ndarray:
    return laplacian_highpass(magnitude(simulation.encryption)).reshape(simulation.num_rows, -1).astype(np.float64)


def train_embedding(simulations: Sequence[Simulation], dim: int, ridge: float = 1e-3) -> Embedding:
    """Canonical-correlation projection (D x dim) from rows known to share a private image.

    ``C_all`` is the covariance of all rows' features, ``C_pos`` the symmetrised cross-covariance
    over all ordered pairs of distinct rows holding the same image (summed per image in O(rows)).
    ``ridge`` (relative to the mean variance) keeps ``C_all`` well conditioned.
    """
    features = [_highpass_rows(simulation) for simulation in simulations]
    mean = np.concatenate(features).mean(axis=0)
    if dim <= 0:  # the raw high-pass features: no covariances to build
        return Embedding(mean.astype(np.float32), None)
    size = mean.size
    total = np.zeros((size, size))
    positive = np.zeros((size, size))
    rows_seen = pairs_seen = 0
    for simulation, feature in zip(simulations, features):
        centred = feature - mean
        total += centred.T @ centred
        rows_seen += len(centred)
        for rows in simulation.rows_of_image():
            if len(rows) < 2:
                continue
            summed = centred[rows].sum(axis=0)
            positive += np.outer(summed, summed) - centred[rows].T @ centred[rows]
            pairs_seen += len(rows) * (len(rows) - 1)
    total /= max(rows_seen, 1)
    if pairs_seen == 0:
        return Embedding(mean.astype(np.float32), None)
    positive /= pairs_seen
    total[np.diag_indices(size)] += ridge * np.trace(total) / size
    dim = min(dim, size)
    values, vectors = scipy.linalg.eigh(positive, total, subset_by_index=(size - dim, size - 1))
    order = np.argsort(-values)
    scale = np.sqrt(np.maximum(values[order], 0.0))
    logger.info("embedding: top canonical correlations %s", np.round(values[order[:5]], 3).tolist())
    return Embedding(mean.astype(np.float32), (vectors[:, order] * scale).astype(np.float32))


def class_presence(labels: np.ndarray) -> np.ndarray:
    """E x C boolean: which classes each row's label names (the threshold ``parse_labels`` uses)."""
    return np.asarray(labels) > PRESENT_THRESHOLD


def pair_auc(
    features: np.ndarray,
    simulation: Simulation,
    *,
    compatible_only: bool = True,
    max_negatives: int = 200_000,
    seed: int = 0,
    chunk: int = 16_384,
) -> float:
    """Probability that a pair sharing a private image scores above one that does not.

    All sharing pairs are used; negatives are a uniform sample of non-sharing pairs (of pairs
    whose label classes overlap when ``compatible_only``: the pairs the attack must tell apart).
    """
    rows = simulation.num_rows
    images = simulation.private_index
    present = class_presence(simulation.labels)
    positives = []
    for members in simulation.rows_of_image():
        if len(members) > 1:
            block = features[members] @ features[members].T
            positives.append(block[np.triu_indices(len(members), 1)])
    rng = np.random.default_rng(seed)
    first = rng.integers(0, rows, 4 * max_negatives)
    second = rng.integers(0, rows, 4 * max_negatives)
    shares = (images[first][:, :, None] == images[second][:, None, :]).any(axis=(1, 2))
    keep = (first != second) & ~shares
    if compatible_only:
        keep &= (present[first] & present[second]).any(axis=1)
    first, second = first[keep][:max_negatives], second[keep][:max_negatives]
    negatives = np.concatenate(
        [
            np.einsum("ij,ij->i", features[first[i : i + chunk]], features[second[i : i + chunk]])
            for i in range(0, len(first), chunk)
        ]
    )
    return mann_whitney_auc(np.concatenate(positives), negatives)


def mann_whitney_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """AUC = P(positive > negative) + P(tie)/2, from ranks."""
    values = np.concatenate([positive, negative])
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    sorted_values = values[order]  # average ranks over ties
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    count = len(positive)
    return float((ranks[:count].sum() - count * (count + 1) / 2) / (count * len(negative)))


@dataclass(frozen=True)
class NeighbourGraph:
    """Each row's ``k`` most similar class-compatible rows (E x k) and their similarities."""

    neighbours: np.ndarray
    similarity: np.ndarray


def neighbour_graph(
    features: np.ndarray,
    present: np.ndarray,
    k: int,
    *,
    block_rows: int = 1024,
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
) -> NeighbourGraph:
    """Top-k class-compatible neighbours of every row, from blockwise dot products.

    Memory is O(block_rows x E) on ``device`` whatever E is; pairs without a shared class and
    each row with itself get -inf, so they are never chosen (unless a row has fewer than k
    compatible rows, in which case its list is padded with -inf entries).
    """
    rows = len(features)
    k = min(k, rows - 1)
    device = torch.device(device)
    feats = torch.as_tensor(np.ascontiguousarray(features), dtype=torch.float32, device=device)
    classes = torch.as_tensor(present, dtype=torch.float32, device=device)
    neighbours = np.empty((rows, k), np.int64)
    similarity = np.empty((rows, k), np.float32)
    starts = range(0, rows, block_rows)
    for start in progress(starts) if progress else starts:
        stop = min(start + block_rows, rows)
        block = feats[start:stop] @ feats.T
        compatible = (classes[start:stop] @ classes.T) > 0
        compatible[torch.arange(stop - start, device=device), torch.arange(start, stop, device=device)] = False
        block = block.masked_fill(~compatible, float("-inf"))
        values, index = torch.topk(block, k, dim=1)
        neighbours[start:stop] = index.cpu().numpy()
        similarity[start:stop] = values.cpu().numpy()
    return NeighbourGraph(neighbours, similarity)


__all__ = [
    "Embedding",
    "NeighbourGraph",
    "class_presence",
    "mann_whitney_auc",
    "neighbour_graph",
    "pair_auc",
    "train_embedding",
]
