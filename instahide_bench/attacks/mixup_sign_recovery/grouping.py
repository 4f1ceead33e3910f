"""Step (b): turn blind components into class-consistent groups of rows.

The columns of the estimated coefficient matrix (:mod:`.components`) each stand for one
private image, but carry no class. The labels supply it: an image only ever appears in rows
whose label names its class, so each component votes for the classes of the rows where it is
strong, and a balanced assignment (each class gets exactly its estimated number of images,
:func:`.labels.estimate_class_sizes`) settles the classes. Rows then take, class by class, the
strongest component of each class their label names.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from instahide_bench.attacks.common.demix import Assignment
from instahide_bench.attacks.common.labels import LabelStructure


def component_classes(codes: np.ndarray, structure: LabelStructure, class_sizes: np.ndarray) -> np.ndarray:
    """The class of every component (n,), with exactly ``class_sizes[c]`` components per class c."""
    num_images = codes.shape[1]
    if int(class_sizes.sum()) != num_images:
        raise ValueError(f"class sizes add up to {int(class_sizes.sum())}, not to the {num_images} components")
    votes = np.maximum(codes, 0.0).T @ structure.present().astype(np.float64)
    votes /= np.maximum(votes.sum(axis=1, keepdims=True), 1e-12)
    seats = np.repeat(np.arange(structure.num_classes), class_sizes)
    components, chosen = linear_sum_assignment(-np.log(votes[:, seats] + 1e-9))
    classes = np.empty(num_images, dtype=np.int64)
    classes[components] = seats[chosen]
    return classes


def compatible(structure: LabelStructure, image_class: np.ndarray) -> np.ndarray:
    """E x n mask: may image j appear in row r (is its class named by r's label)?"""
    return structure.present()[:, image_class]


def initial_assignment(codes: np.ndarray, structure: LabelStructure, image_class: np.ndarray) -> Assignment:
    """Each row's images from the codes: the strongest of each named class, then spares.

    A row with fewer distinct classes than private slots fills its spare slots with the next
    strongest compatible components; the weight of a class holding several slots is split in
    proportion to their codes (exact in noise-free data, a start otherwise).
    """
    rows_all = np.arange(structure.num_rows)
    slots = structure.private_slots
    score = np.where(compatible(structure, image_class), codes, -np.inf)
    images = np.zeros((structure.num_rows, slots), dtype=np.int64)
    for rank in range(slots):
        named = structure.classes[:, rank]
        for cls in np.unique(named[named >= 0]):
            rows = np.flatnonzero(named == cls)
            in_class = np.where(image_class[None, :] == cls, score[rows], -np.inf)
            images[rows, rank] = np.argmax(in_class, axis=1)
        spare = rows_all[named < 0]  # fill with the strongest compatible component left
        images[spare, rank] = np.argmax(score[spare], axis=1)
        score[rows_all, images[:, rank]] = -np.inf
    return Assignment(images, split_class_weights(codes, structure, image_class, images))


def split_class_weights(
    codes: np.ndarray, structure: LabelStructure, image_class: np.ndarray, images: np.ndarray
) -> np.ndarray:
    """Coefficients for ``images`` (E x m): each class's label weight, split over its slots by code."""
    rows = np.arange(structure.num_rows)[:, None]
    strength = np.maximum(codes[rows, images], 1e-6)
    slot_class = image_class[images]
    label_weight = np.zeros_like(strength)
    share_total = np.zeros_like(strength)
    for rank in range(structure.classes.shape[1]):
        same = slot_class == structure.classes[:, rank : rank + 1]
        label_weight = np.where(same, structure.weights[:, rank : rank + 1], label_weight)
        share_total += np.where(same, (strength * same).sum(axis=1, keepdims=True), 0.0)
    return np.where(share_total > 0, label_weight * strength / np.maximum(share_total, 1e-12), 0.0)


__all__ = ["compatible", "component_classes", "initial_assignment", "split_class_weights"]
