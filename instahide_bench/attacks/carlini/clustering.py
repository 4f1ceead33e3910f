"""Stage 3, graph clustering: per label class, split the rows into that class's private images.

The label classes make this n small problems instead of one big one. A class with ``n_c``
private images (``n_c`` is exact from the labels, see ``estimate_class_sizes``) owns every slot
of that class, ~2T per image. Its rows form a networkx graph whose edges are the neighbour
graph's class-compatible similarities; the graph is cut into ``n_c`` groups by spectral
clustering (normalised-Laplacian eigenvectors, then k-means). A single pair of rows is a weak
witness (AUC ~0.7), but ~100 rows per image make the block structure visible in the
eigenvectors. A row whose two private images share the class (a collided row) is one node with
two slots: it goes to its two nearest groups, which is how an encryption belongs to two images.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import networkx as nx
import numpy as np
import scipy.sparse.linalg

from instahide_bench.attacks.carlini.similarity import NeighbourGraph
from instahide_bench.attacks.carlini.slots import Slots

Progress = Callable[[Iterable[int]], Iterator[int]]


@dataclass(frozen=True)
class Clustering:
    """Slot -> image id (global, 0..n-1), and the class of every image."""

    slot_image: np.ndarray
    image_class: np.ndarray


def class_graph(graph: NeighbourGraph, rows: np.ndarray) -> nx.Graph:
    """The rows of one class, with an edge for every neighbour pair inside the class (weight > 0)."""
    inside = np.zeros(graph.neighbours.shape[0], bool)
    inside[rows] = True
    result = nx.Graph()
    result.add_nodes_from(rows.tolist())
    source = np.repeat(rows, graph.neighbours.shape[1])
    target = graph.neighbours[rows].ravel()
    weight = graph.similarity[rows].ravel()
    keep = inside[target] & np.isfinite(weight) & (weight > 0)
    result.add_weighted_edges_from(zip(source[keep].tolist(), target[keep].tolist(), weight[keep].tolist()))
    return result


def spectral_embedding(graph: nx.Graph, nodes: list[int], dim: int) -> np.ndarray:
    """Rows of the ``dim`` leading eigenvectors of the normalised adjacency, scaled to unit length."""
    if dim >= len(nodes) - 1:
        return np.eye(len(nodes))[:, :dim]
    adjacency = nx.to_scipy_sparse_array(graph, nodelist=nodes, weight="weight", format="csr").astype(np.float64)
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    scale = 1.0 / np.sqrt(np.where(degree > 0, degree, 1.0))
    normalised = adjacency.multiply(scale[:, None]).multiply(scale[None, :]).tocsr()
    start = np.full(len(nodes), 1.0 / np.sqrt(len(nodes)))
    _, vectors = scipy.sparse.linalg.eigsh(normalised, k=dim, which="LA", v0=start)
    vectors[degree == 0] = 0.0
    norm = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norm > 0, norm, 1.0)


def kmeans(
    points: np.ndarray, k: int, rng: np.random.Generator, restarts: int = 8, iterations: int = 100
) -> np.ndarray:
    """Centroids (k x d) of the best of several k-means++ runs (lowest inertia)."""
    best, best_inertia = None, np.inf
    for _ in range(restarts):
        centroids = points[[rng.integers(len(points))]]
        while len(centroids) < k:  # k-means++ seeding
            distance = ((points[:, None] - centroids[None]) ** 2).sum(-1).min(axis=1)
            total = distance.sum()
            pick = rng.choice(len(points), p=distance / total) if total > 0 else rng.integers(len(points))
            centroids = np.vstack([centroids, points[pick]])
        for _ in range(iterations):
            label = ((points[:, None] - centroids[None]) ** 2).sum(-1).argmin(axis=1)
            moved = np.array(
                [points[label == j].mean(axis=0) if np.any(label == j) else centroids[j] for j in range(k)]
            )
            if np.allclose(moved, centroids):
                break
            centroids = moved
        inertia = ((points - centroids[label]) ** 2).sum()
        if inertia < best_inertia:
            best, best_inertia = centroids, inertia
    assert best is not None  # restarts >= 1
    return best


def cluster_class(graph: NeighbourGraph, slots: Slots, cls: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Group index (0..size-1) of every slot of class ``cls``; a collided row's slots get its two nearest groups."""
    members = slots.of_class(cls)
    rows, first = np.unique(slots.row[members], return_index=True)
    nodes = rows.tolist()
    if size <= 1:
        return np.zeros(len(members), np.int64)
    embedded = spectral_embedding(class_graph(graph, rows), nodes, size)
    centroids = kmeans(embedded, size, rng)
    distance = ((embedded[:, None] - centroids[None]) ** 2).sum(-1)
    ranked = np.argsort(distance, axis=1)
    position = np.searchsorted(rows, slots.row[members])
    rank_in_row = np.arange(len(members)) - first[position]  # 0 for the first slot of a row in this class
    return ranked[position, np.minimum(rank_in_row, size - 1)]


def cluster_all(
    graph: NeighbourGraph, slots: Slots, class_sizes: np.ndarray, seed: int, progress: Progress | None = None
) -> Clustering:
    """Cluster every class; image ids run class by class."""
    rng = np.random.default_rng(seed)
    slot_image = np.full(len(slots), -1, np.int64)
    image_class = np.repeat(np.arange(len(class_sizes)), class_sizes)
    offsets = np.r_[0, np.cumsum(class_sizes)]
    classes = [int(c) for c in np.flatnonzero(class_sizes > 0)]
    for cls in progress(classes) if progress else classes:
        members = slots.of_class(cls)
        if members.size:
            slot_image[members] = offsets[cls] + cluster_class(graph, slots, cls, int(class_sizes[cls]), rng)
    if np.any(slot_image < 0):
        raise ValueError("some slots name a class that has no private image")
    return Clustering(slot_image, image_class)


def purity(slot_image: np.ndarray, true_image: np.ndarray) -> float:
    """Share of slots whose group's majority true image is their own (evaluation only)."""
    total = 0
    for group in np.unique(slot_image):
        total += np.bincount(true_image[slot_image == group]).max()
    return total / len(slot_image)


__all__ = ["Clustering", "class_graph", "cluster_all", "cluster_class", "kmeans", "purity", "spectral_embedding"]
