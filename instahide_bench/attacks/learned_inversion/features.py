"""What one row shows an attacker: ``|e|`` and the label row's classes and weights.

The sign mask makes ``e`` itself useless pixel by pixel, so the network sees ``|e|`` (docs/specification.md §6).
``label.npy`` adds, per row, the classes of the two private images and their weights (sorted
heaviest first), and with them the public images' total weight. Those go in as a side vector:
a row's weights say how strongly its dominant image shows through the public noise, and a
class is a prior on colour and layout. The target, in training, is the row's *dominant* private
image (the heavier one, whose class is the label row's heaviest): the one the row shows best.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from instahide_bench.attacks.common.labels import LabelStructure, parse_labels

#: Side-vector entries before the class one-hots: first weight, second weight, public weight, collided.
SCALARS = 4


@dataclass(frozen=True)
class RowInputs:
    """Network input of E rows: ``magnitude`` E x 3 x 32 x 32 (NCHW) and ``side`` E x (4 + 2C)."""

    magnitude: np.ndarray
    side: np.ndarray

    def __len__(self) -> int:
        return int(self.magnitude.shape[0])


def side_vector(structure: LabelStructure, with_classes: bool = True) -> np.ndarray:
    """Per row: heaviest and second class weights, public weight, collided flag, two class one-hots.

    Without ``with_classes`` only the four numbers: for a simulation whose auxiliary images have
    classes of their own (the embedded photographs), the class means nothing on the challenge.
    """
    rows, classes = structure.num_rows, structure.num_classes if with_classes else 0
    side = np.zeros((rows, SCALARS + 2 * classes), np.float32)
    weights = np.zeros((rows, 2))
    width = min(2, structure.weights.shape[1])
    weights[:, :width] = structure.weights[:, :width]
    side[:, 0:2] = weights
    side[:, 2] = structure.public_weight
    side[:, 3] = structure.collided
    for position in range(width if with_classes else 0):
        cls = structure.classes[:, position]
        has = np.flatnonzero(cls >= 0)
        side[has, SCALARS + position * classes + cls[has]] = 1.0
    return side


def row_inputs(encryption: np.ndarray, labels: np.ndarray, private_slots: int, with_classes: bool = True) -> RowInputs:
    """The network input of every row of an E x 32 x 32 x 3 (NHWC) encryption and its E x C labels."""
    magnitude = np.ascontiguousarray(np.abs(encryption, dtype=np.float32).transpose(0, 3, 1, 2))
    return RowInputs(magnitude, side_vector(parse_labels(labels, private_slots), with_classes))


def dominant_images(private_index: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """Per row, the private image with the largest coefficient (E x slots inputs: simulation truth, E,)."""
    heavier = np.argmax(coefficients, axis=1)
    return private_index[np.arange(len(private_index)), heavier].astype(np.int64)


__all__ = ["SCALARS", "RowInputs", "dominant_images", "row_inputs", "side_vector"]
