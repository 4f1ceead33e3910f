"""Re-assignment: given rough images, give every row its best-fitting class-compatible images.

Alternating this with least squares (:func:`.demix.solve_images`) is a k-means-like descent on
``sum_r ||f_r - sum_s lam_rs x_{a_rs} - w_r mu||^2``. All fits work on *features* (high-passed
images for cross-dataset sets, where the public noise is mostly low-frequency), and only need
inner products: with ``P = F' X^T`` (F' = features minus the public mean's share) and the Gram
matrix ``G = X X^T`` the residual of any candidate combination is a few table look-ups.

* two private slots (cross-dataset): every class-compatible pair is scored exactly; when both
  images share a class, the split of the label weight is solved in closed form;
* more slots (inside-dataset): coordinate descent, one slot at a time, then the weight of each
  class holding several slots is re-split by constrained least squares.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from instahide_bench.attacks.common.demix import Assignment
from instahide_bench.attacks.common.labels import LabelStructure


@dataclass(frozen=True)
class FitTables:
    """Inner products that score any candidate combination: P (E x n), G (n x n), N = diag(G)."""

    projections: np.ndarray
    gram: np.ndarray

    @property
    def norms(self) -> np.ndarray:
        return np.diag(self.gram)

    @classmethod
    def build(
        cls,
        features: np.ndarray,
        image_features: np.ndarray,
        public_feature: np.ndarray | None,
        public_weight: np.ndarray,
    ) -> FitTables:
        features = np.asarray(features, dtype=np.float64)
        images = np.asarray(image_features, dtype=np.float64)
        projections = features @ images.T
        if public_feature is not None:
            projections -= np.outer(public_weight, images @ np.asarray(public_feature, dtype=np.float64))
        return cls(projections, images @ images.T)


@dataclass(frozen=True)
class PairGroup:
    """Rows naming the same classes, with the cost of every candidate pair (rows x Ka x Kb).

    ``first_weight`` is the coefficient the first image would get in each candidate pair
    (the label weight, or the solved split of a one-class row); the second gets the rest.
    """

    rows: np.ndarray
    first: np.ndarray
    second: np.ndarray
    cost: np.ndarray
    first_weight: np.ndarray
    total_weight: np.ndarray

    def choose(self) -> tuple[np.ndarray, np.ndarray]:
        """(images rows x 2, coefficients rows x 2) of each row's cheapest pair."""
        best = self.cost.reshape(self.rows.size, -1).argmin(axis=1)
        images = np.stack([self.first[best // self.second.size], self.second[best % self.second.size]], axis=1)
        weight = self.first_weight.reshape(self.rows.size, -1)[np.arange(self.rows.size), best]
        return images, np.stack([weight, self.total_weight - weight], axis=1)


def pair_groups(tables: FitTables, structure: LabelStructure, image_class: np.ndarray, upper: float) -> list[PairGroup]:
    """Candidate pairs of every two-slot row, grouped by the classes its label names."""
    members = {c: np.flatnonzero(image_class == c) for c in range(structure.num_classes)}
    first, second = structure.classes[:, 0], structure.classes[:, 1]
    groups = []
    for cls_a in np.unique(first[first >= 0]):
        group_a = members[int(cls_a)]
        if group_a.size == 0:
            continue
        for cls_b in np.unique(second[(first == cls_a) & (second >= 0)]):
            if members[int(cls_b)].size:
                rows = np.flatnonzero((first == cls_a) & (second == cls_b))
                groups.append(_two_class_group(tables, structure, rows, group_a, members[int(cls_b)]))
        rows = np.flatnonzero((first == cls_a) & (second < 0))
        if rows.size:
            groups.append(_one_class_group(tables, structure, rows, group_a, upper))
    return groups


def fit_pairs(
    tables: FitTables, structure: LabelStructure, image_class: np.ndarray, upper: float, current: Assignment
) -> Assignment:
    """Best (a, b) per two-slot row among images of the row's classes; ``upper`` caps a coefficient.

    Rows whose label names a class with no image keep ``current``.
    """
    images, coefficients = current.images.copy(), current.coefficients.copy()
    for group in pair_groups(tables, structure, image_class, upper):
        images[group.rows], coefficients[group.rows] = group.choose()
    return Assignment(images, coefficients)


def _two_class_group(
    tables: FitTables, structure: LabelStructure, rows: np.ndarray, group_a: np.ndarray, group_b: np.ndarray
) -> PairGroup:
    """Rows naming two classes: both coefficients are known, score every pair."""
    lam_a = structure.weights[rows, 0][:, None, None]
    lam_b = structure.weights[rows, 1][:, None, None]
    proj = tables.projections[rows]
    norms = tables.norms
    cost = (
        lam_a * (lam_a * norms[group_a][None, :, None] - 2 * proj[:, group_a][:, :, None])
        + lam_b * (lam_b * norms[group_b][None, None, :] - 2 * proj[:, group_b][:, None, :])
        + 2 * lam_a * lam_b * tables.gram[np.ix_(group_a, group_b)][None]
    )
    first_weight = np.broadcast_to(lam_a, cost.shape)
    return PairGroup(
        rows, group_a, group_b, cost, first_weight, structure.weights[rows, 0] + structure.weights[rows, 1]
    )


def _one_class_group(
    tables: FitTables, structure: LabelStructure, rows: np.ndarray, group: np.ndarray, upper: float
) -> PairGroup:
    """Rows naming one class: both images in it, weight ``s`` split as t and s - t (t solved)."""
    total = structure.weights[rows, 0][:, None, None]
    proj_a = tables.projections[rows][:, group][:, :, None]
    proj_b = tables.projections[rows][:, group][:, None, :]
    norm_a = tables.norms[group][None, :, None]
    norm_b = tables.norms[group][None, None, :]
    cross = tables.gram[np.ix_(group, group)][None]
    # ||f - t xa - (s - t) xb||^2 is a parabola in t; its minimum, clipped to the feasible range
    curvature = norm_a + norm_b - 2 * cross
    slope = proj_a - proj_b - total * (cross - norm_b)
    share = np.where(curvature > 1e-12, slope / np.maximum(curvature, 1e-12), total / 2)
    share = np.clip(share, np.maximum(0.0, total - upper), np.minimum(upper, total))
    rest = total - share
    cost = share * (share * norm_a - 2 * proj_a) + rest * (rest * norm_b - 2 * proj_b) + 2 * share * rest * cross
    return PairGroup(rows, group, group, cost, share, structure.weights[rows, 0])


def fit_slots(
    tables: FitTables, structure: LabelStructure, image_class: np.ndarray, start: Assignment, sweeps: int = 2
) -> Assignment:
    """Coordinate descent over slots for rows with more than two private slots.

    Each slot keeps its class and coefficient and takes the image of that class that best
    fits the row minus its other slots; then collided classes are re-split.
    """
    images, coefficients = start.images.copy(), start.coefficients.copy()
    slot_class = image_class[images]
    norms = tables.norms
    for _ in range(sweeps):
        for slot in range(images.shape[1]):
            others = np.delete(np.arange(images.shape[1]), slot)
            # <f - sum_{s' != slot} lam x, x_j> for every candidate j
            fitted = tables.projections - np.einsum(
                "rs,rsj->rj", coefficients[:, others], tables.gram[images[:, others]]
            )
            lam = coefficients[:, slot : slot + 1]
            cost = lam * (lam * norms[None, :] - 2 * fitted)
            cost = np.where(image_class[None, :] == slot_class[:, slot : slot + 1], cost, np.inf)
            images[:, slot] = np.argmin(cost, axis=1)
    return Assignment(images, resplit_collided(tables, structure, images, coefficients, image_class))


def resplit_collided(
    tables: FitTables, structure: LabelStructure, images: np.ndarray, coefficients: np.ndarray, image_class: np.ndarray
) -> np.ndarray:
    """Least-squares coefficients for rows where a class holds several slots, class sums kept."""
    coefficients = coefficients.copy()
    slot_class = image_class[images]
    for row in np.flatnonzero(structure.collided):
        chosen = images[row]
        classes = structure.classes[row][structure.classes[row] >= 0]
        constraint = (slot_class[row][None, :] == classes[:, None]).astype(np.float64)
        gram = tables.gram[np.ix_(chosen, chosen)]
        size = chosen.size
        system = np.block([[2 * gram, constraint.T], [constraint, np.zeros((classes.size, classes.size))]])
        rhs = np.concatenate([2 * tables.projections[row, chosen], structure.weights[row, : classes.size]])
        solution = np.linalg.lstsq(system, rhs, rcond=None)[0][:size]
        solution = np.maximum(solution, 0.0)
        for index in range(classes.size):  # put each class back on its label weight
            in_class = constraint[index] > 0
            total = solution[in_class].sum()
            weight = structure.weights[row, index]
            solution[in_class] = solution[in_class] * weight / total if total > 0 else weight / in_class.sum()
        coefficients[row] = solution
    return coefficients


__all__ = ["FitTables", "PairGroup", "fit_pairs", "fit_slots", "pair_groups", "resplit_collided"]
