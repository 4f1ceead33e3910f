"""Step (c): linear least-squares demixing once every row's images and coefficients are known.

Each row is modelled as ``m_r = sum_s lam_rs x_{a_rs} + w_r mu + noise_r``: the private images
``x`` are the unknowns, ``lam`` comes from ``label.npy`` (or from the grouping for collided
rows), ``w_r = 1 - sum(label_r)`` is the public images' total weight and ``mu`` one more
unknown image, their mean. The public images themselves are never seen twice in a
fresh-patch challenge, so they are noise whose size grows with ``w_r``; rows are weighted
accordingly. The normal equations are only (n + 1) x (n + 1), one solve for all pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch


@dataclass(frozen=True)
class Assignment:
    """Which recovered image fills each private slot of each row (E x m) and with what weight."""

    images: np.ndarray
    coefficients: np.ndarray

    def __post_init__(self) -> None:
        if self.images.shape != self.coefficients.shape or self.images.ndim != 2:
            raise ValueError(
                f"images {self.images.shape} and coefficients {self.coefficients.shape} must both be E x m"
            )

    @property
    def num_rows(self) -> int:
        return int(self.images.shape[0])

    def incidence(self, num_images: int) -> sp.csr_matrix:
        """The sparse E x n coefficient matrix (an image filling two slots gets their sum)."""
        rows = np.repeat(np.arange(self.num_rows), self.images.shape[1])
        matrix = sp.coo_matrix(
            (self.coefficients.ravel(), (rows, self.images.ravel())), shape=(self.num_rows, num_images)
        )
        return matrix.tocsr()  # duplicate entries are summed

    def take(self, rows: np.ndarray | slice) -> Assignment:
        """The assignment of some rows only (an index array, or a slice for views)."""
        return Assignment(self.images[rows], self.coefficients[rows])


def public_noise_weights(public_weight: np.ndarray, floor: float = 0.05) -> np.ndarray:
    """Row weights ``1 / w_r^2``: the public images' contribution, and its noise, scale with w_r."""
    public_weight = np.asarray(public_weight, dtype=np.float64)
    if not np.any(public_weight > 0):
        return np.ones_like(public_weight)
    return 1.0 / np.maximum(public_weight, floor) ** 2


def design_matrix(assignment: Assignment, num_images: int, public_weight: np.ndarray | None) -> sp.csr_matrix:
    """Incidence matrix, plus a last column ``w_r`` for the public mean when there are public images."""
    matrix = assignment.incidence(num_images)
    if public_weight is None or not np.any(public_weight > 0):
        return matrix
    return sp.hstack([matrix, sp.csr_matrix(np.asarray(public_weight, dtype=np.float64)[:, None])]).tocsr()


def solve_images(
    mixtures: np.ndarray,
    assignment: Assignment,
    num_images: int,
    public_weight: np.ndarray | None = None,
    row_weight: np.ndarray | None = None,
    ridge: float = 1e-9,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Weighted least-squares images (n x D) and public mean (D,) or None, from E x D mixtures.

    ``ridge`` (relative to the mean diagonal) only keeps unused images at zero instead of
    making the system singular; it is far below the coefficients' scale.
    """
    mixtures = np.asarray(mixtures, dtype=np.float64).reshape(assignment.num_rows, -1)
    design = design_matrix(assignment, num_images, public_weight)
    weights = np.ones(assignment.num_rows) if row_weight is None else np.asarray(row_weight, dtype=np.float64)
    weighted = sp.diags(weights) @ design
    gram = (design.T @ weighted).toarray()
    gram[np.diag_indices_from(gram)] += ridge * max(float(np.trace(gram)) / gram.shape[0], 1e-12)
    solution = np.linalg.solve(gram, np.asarray(weighted.T @ mixtures))
    if design.shape[1] == num_images:
        return solution, None
    return solution[:num_images], solution[num_images]


def predict_mixtures(
    assignment: Assignment, images: np.ndarray, public_mean: np.ndarray | None, public_weight: np.ndarray | None
) -> np.ndarray:
    """The model's mixtures (E x D) for the given images and public mean."""
    flat = np.asarray(images, dtype=np.float64).reshape(images.shape[0], -1)
    predicted = np.asarray(assignment.incidence(flat.shape[0]) @ flat)
    if public_mean is not None and public_weight is not None:  # in place, threaded: no E x D temporary
        weight = torch.as_tensor(np.asarray(public_weight, np.float64))
        torch.as_tensor(predicted).addr_(weight, torch.as_tensor(np.asarray(public_mean, np.float64).reshape(-1)))
    return predicted


__all__ = ["Assignment", "design_matrix", "predict_mixtures", "public_noise_weights", "solve_images"]
