"""The unit the clustering and assignment stages work on: one private slot of one row.

Each row holds ``private_slots`` private images. ``label.npy`` names each one's class and
weight, except that two images of the same class show up as one class with their summed
weight (a *collided* row): its slots get half the weight each until the reconstruction can
say better. Slots of one row are stored next to each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from instahide_bench.attacks.common.demix import Assignment
from instahide_bench.attacks.common.labels import LabelStructure


@dataclass(frozen=True)
class Slots:
    """Slot s belongs to row ``row[s]``, has class ``cls[s]`` and label weight ``weight[s]``."""

    row: np.ndarray
    cls: np.ndarray
    weight: np.ndarray
    per_row: int

    @property
    def num_rows(self) -> int:
        return int(self.row.size // self.per_row)

    def __len__(self) -> int:
        return int(self.row.size)

    def of_class(self, cls: int) -> np.ndarray:
        """Indices of the slots of class ``cls``."""
        return np.flatnonzero(self.cls == cls)

    def partner(self) -> np.ndarray:
        """For two slots per row, the index of the other slot of the same row."""
        if self.per_row != 2:
            raise ValueError("partner() needs exactly two private slots per row")
        index = np.arange(len(self))
        return index ^ 1

    def assignment(self, slot_image: np.ndarray) -> Assignment:
        """The E x m assignment (images and coefficients) that ``slot_image`` describes."""
        shape = (self.num_rows, self.per_row)
        return Assignment(
            np.asarray(slot_image, dtype=np.int64).reshape(shape), self.weight.reshape(shape).astype(np.float64)
        )


def slots_from_labels(structure: LabelStructure) -> Slots:
    """Slots of every row; a class holding several of a row's slots shares its weight equally."""
    per_row = structure.private_slots
    counts = structure.slot_estimate()
    rows, classes, weights = [], [], []
    for row in range(structure.num_rows):
        for cls in structure.classes[row][structure.classes[row] >= 0]:
            count = int(counts[row, cls])
            weight = float(structure.weights[row][structure.classes[row] == cls][0])
            rows += [row] * count
            classes += [int(cls)] * count
            weights += [weight / count] * count
        if len(rows) != (row + 1) * per_row:
            raise ValueError(f"row {row} of label.npy names no class for some of its {per_row} private slots")
    return Slots(np.asarray(rows, np.int64), np.asarray(classes, np.int64), np.asarray(weights, np.float64), per_row)


def true_slot_images(slots: Slots, private_index: np.ndarray, private_labels: np.ndarray) -> np.ndarray:
    """The image behind every slot, given a row -> images table and the images' classes.

    For a simulation the attacker made itself, or for evaluation against a key; a collided
    row's two slots take its two images in slot order. A slot whose class matches none of the
    row's remaining images (a coefficient so small, ~1e-6, that label.npy shows no weight for its
    image's class) takes the first remaining image.
    """
    truth = np.empty(len(slots), np.int64)
    for row in range(slots.num_rows):
        images = list(private_index[row, : slots.per_row])
        for s in range(row * slots.per_row, (row + 1) * slots.per_row):
            match = next((i for i, image in enumerate(images) if private_labels[image] == slots.cls[s]), 0)
            truth[s] = images.pop(match)
    return truth


__all__ = ["Slots", "slots_from_labels", "true_slot_images"]
