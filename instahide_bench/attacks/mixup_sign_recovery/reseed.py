"""Repair of the grouping: re-start images that the refinement starved of rows.

Every private image fills the same number of slots (``E * m / n`` on average, exactly ``T`` per
slot position), so an image left with far fewer rows is a duplicate: the blind step found
one image twice and merged two others into one, which then holds about twice its share of
rows. The class part of those rows, ``(m_r - other slots - w_r mu) / label_rc``, is one of the
two merged images plus noise, so splitting them in two (2-means on high-passed class parts,
started from their principal direction) gives both images back: the merged one keeps one
half, the starved one restarts from the other, and the refinement loop takes it from there.
"""

from __future__ import annotations

import numpy as np

from instahide_bench.attacks.common.demix import predict_mixtures
from instahide_bench.attacks.common.labels import LabelStructure
from instahide_bench.attacks.mixup_sign_recovery.alternate import Model
from instahide_bench.attacks.mixup_sign_recovery.components import highpass, l4_rotation, leading_subspace


def slot_counts(model: Model, num_images: int) -> np.ndarray:
    """How many slots each image fills under the current assignment (n,)."""
    return np.bincount(model.assignment.images.ravel(), minlength=num_images)


def weakest_per_class(counts: np.ndarray, image_class: np.ndarray, expected: float, min_share: float) -> list[int]:
    """The least-used image of each class, where it fills under ``min_share * expected`` slots."""
    weak = []
    for cls in np.unique(image_class):
        members = np.flatnonzero(image_class == cls)
        weakest = int(members[np.argmin(counts[members])])
        if counts[weakest] < min_share * expected:
            weak.append(weakest)
    return weak


def class_parts(
    mixtures: np.ndarray,
    model: Model,
    structure: LabelStructure,
    image_class: np.ndarray,
    public_weight: np.ndarray,
    cls: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For rows naming ``cls`` once: (rows, their class part (rows x D), the label weight of ``cls``).

    The class part is what the row holds of its ``cls`` image, ``weight * x + noise``: the
    mixture minus the model's other slots and public mean.
    """
    named = structure.classes == cls
    rows = np.flatnonzero(named.any(axis=1) & ~structure.collided)
    weight = structure.weights[rows][named[rows]]
    images = model.images.reshape(model.images.shape[0], -1)
    observed = mixtures.reshape(mixtures.shape[0], -1)[rows].astype(np.float64)
    predicted = predict_mixtures(model.assignment.take(rows), images, model.public_mean, public_weight[rows])
    assignment = model.assignment
    in_class = image_class[assignment.images[rows]] == cls
    class_share = np.einsum("rs,rsd->rd", assignment.coefficients[rows] * in_class, images[assignment.images[rows]])
    return rows, observed - predicted + class_share, weight


def split_in_two(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """Which of two images each row holds (bool), for rows that each hold ``weight * x_A`` or ``weight * x_B``.

    Such rows lie on two lines through the origin of their 2-D leading subspace; the l4
    rotation of that subspace points one axis along each line.
    """
    rng = np.random.default_rng(seed)
    codes = l4_rotation(leading_subspace(features, 2, rng), rng)
    return np.abs(codes[:, 0]) >= np.abs(codes[:, 1])


def weighted_image(parts: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Least-squares image x from rows ``weight_r * x + noise``."""
    return (weight[:, None] * parts).sum(axis=0) / max(float((weight**2).sum()), 1e-12)


def reseed(
    mixtures: np.ndarray,
    model: Model,
    structure: LabelStructure,
    image_class: np.ndarray,
    public_weight: np.ndarray,
    weak: list[int],
    feature_sigma: float,
) -> Model:
    """A copy of ``model`` where each ``weak`` image takes half of its class's busiest image."""
    images = model.images.copy()
    shape = images.shape[1:]
    counts = slot_counts(model, images.shape[0])
    for image in weak:
        cls = int(image_class[image])
        members = np.flatnonzero((image_class == cls) & (np.arange(image_class.size) != image))
        if members.size == 0:
            continue
        busiest = int(members[np.argmax(counts[members])])
        rows, parts, weight = class_parts(mixtures, model, structure, image_class, public_weight, cls)
        held = (model.assignment.images[rows] == busiest).any(axis=1)
        if held.sum() < 4:
            continue
        parts, weight = parts[held], weight[held]
        side = split_in_two(highpass(parts.reshape(-1, *shape), feature_sigma))
        if side.all() or not side.any():
            continue
        images[busiest] = weighted_image(parts[side], weight[side]).reshape(shape)
        images[image] = weighted_image(parts[~side], weight[~side]).reshape(shape)
    return Model(model.assignment, images, model.public_mean, list(model.changed))


__all__ = ["class_parts", "reseed", "slot_counts", "split_in_two", "weakest_per_class", "weighted_image"]
