"""What a ``label.npy`` row says about its encryption: which classes, how much weight each.

A released label row is ``sum_s lam_s * onehot(y_s)`` over the row's *private* slots (docs/specification.md §1),
so it reveals, per row, the classes of its private images, the total weight of each class,
and (cross-dataset) the total weight ``1 - sum(row)`` of the unlabelled public images. What it
does not reveal is how a class's weight splits when two private images share that class: such
a row is *collided*. Everything here is a pure function of the public labels, so any attack
may reuse it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Label entries at or below this are read as "class absent" (float32 noise is ~1e-8).
PRESENT_THRESHOLD = 1e-6
#: A row whose labels add up to within this of 1 has no public images.
PUBLIC_THRESHOLD = 1e-5


@dataclass(frozen=True)
class LabelStructure:
    """Per-row class structure of a label matrix.

    ``classes[r]`` lists row r's distinct classes by decreasing weight (padded with -1 up to
    ``private_slots`` columns) and ``weights[r]`` their label mass (padded with 0).
    """

    classes: np.ndarray
    weights: np.ndarray
    private_slots: int
    num_classes: int

    @property
    def num_rows(self) -> int:
        return int(self.classes.shape[0])

    @property
    def distinct_classes(self) -> np.ndarray:
        """How many distinct classes each row holds (E,)."""
        return (self.classes >= 0).sum(axis=1)

    @property
    def private_weight(self) -> np.ndarray:
        """Total weight of the private images of each row (E,)."""
        return self.weights.sum(axis=1)

    @property
    def public_weight(self) -> np.ndarray:
        """Total weight of the unlabelled (public) images of each row, ``1 - private`` (E,).

        Differences from 1 below ``PUBLIC_THRESHOLD`` are float32 rounding of a label row
        that holds every slot (inside-dataset), not public images.
        """
        weight = np.clip(1.0 - self.private_weight, 0.0, 1.0)
        return np.where(weight > PUBLIC_THRESHOLD, weight, 0.0)

    @property
    def collided(self) -> np.ndarray:
        """Rows where some class holds several private images, so its split is unknown (E,)."""
        return self.distinct_classes < self.private_slots

    def present(self) -> np.ndarray:
        """Boolean E x C matrix: does row r contain an image of class c."""
        mask = np.zeros((self.num_rows, self.num_classes), dtype=bool)
        rows, cols = np.nonzero(self.classes >= 0)
        mask[rows, self.classes[rows, cols]] = True
        return mask

    def slot_estimate(self) -> np.ndarray:
        """Estimated number of private images of each class in each row (E x C, integers).

        Exact when a row has as many distinct classes as private slots, or a single class;
        otherwise the spare slots all go to the heaviest class (its likeliest owner), which
        only feeds class-size estimates.
        """
        counts = self.present().astype(np.int64)
        rows = np.flatnonzero(self.distinct_classes > 0)
        counts[rows, self.classes[rows, 0]] += self.private_slots - self.distinct_classes[rows]
        return counts


def parse_labels(labels: np.ndarray, private_slots: int, threshold: float = PRESENT_THRESHOLD) -> LabelStructure:
    """Read an E x C label matrix into per-row (class, weight) lists, heaviest first."""
    labels = np.asarray(labels, dtype=np.float64)
    if labels.ndim != 2:
        raise ValueError(f"labels must be E x C, got shape {labels.shape}")
    if private_slots < 1:
        raise ValueError(f"private_slots must be positive, got {private_slots}")
    present = labels > threshold
    too_many = present.sum(axis=1) > private_slots
    if too_many.any():
        row = int(np.flatnonzero(too_many)[0])
        raise ValueError(
            f"row {row} names {int(present[row].sum())} classes but rows hold only {private_slots} private images"
        )
    order = np.argsort(-np.where(present, labels, -np.inf), axis=1, kind="stable")[:, :private_slots]
    rows = np.arange(labels.shape[0])[:, None]
    keep = present[rows, order]
    classes = np.where(keep, order, -1).astype(np.int64)
    weights = np.where(keep, labels[rows, order], 0.0)
    return LabelStructure(classes, weights, private_slots, labels.shape[1])


def estimate_class_sizes(structure: LabelStructure, num_private: int) -> np.ndarray:
    """How many of the ``num_private`` private images belong to each class (C,).

    Every private image fills the same number of slots over the whole challenge (T per slot
    position), so a class's share of all slot appearances is its share of the images.
    Rounding keeps the total at ``num_private`` (largest remainders win).
    """
    appearances = structure.slot_estimate().sum(axis=0).astype(np.float64)
    if appearances.sum() <= 0:
        raise ValueError("the labels name no class at all")
    share = appearances / appearances.sum() * num_private
    sizes = np.floor(share).astype(np.int64)
    remainder = num_private - int(sizes.sum())
    sizes[np.argsort(-(share - sizes), kind="stable")[:remainder]] += 1
    sizes[(sizes == 0) & (appearances > 0)] = 1  # a class that appears has at least one image
    while sizes.sum() > num_private:  # only if that last step overshot
        sizes[np.argmax(sizes)] -= 1
    return sizes


__all__ = ["PRESENT_THRESHOLD", "PUBLIC_THRESHOLD", "LabelStructure", "estimate_class_sizes", "parse_labels"]
