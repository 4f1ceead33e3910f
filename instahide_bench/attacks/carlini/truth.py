"""Evaluation only: stage outputs against a key (purity, assignment accuracy, image quality).

Never imported by the attack (``attack.py`` and the stages it runs): benchmarks and tests call
these with a key they hold, the way the scorer does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from instahide_bench.attacks.carlini.clustering import purity
from instahide_bench.attacks.carlini.slots import Slots, true_slot_images
from instahide_bench.core.metric import ssim
from instahide_bench.core.pixels import PixelSpace


def majority_map(slot_image: np.ndarray, truth: np.ndarray, num_images: int) -> np.ndarray:
    """For each recovered image, the true image most of its slots hold (-1 when it has none)."""
    mapping = np.full(num_images, -1, np.int64)
    for image in np.unique(slot_image):
        mapping[image] = np.bincount(truth[slot_image == image]).argmax()
    return mapping


@dataclass(frozen=True)
class StageQuality:
    """Clustering purity, slot and row assignment accuracy, distinct images found."""

    purity: float
    slot_accuracy: float
    row_accuracy: float
    distinct_images: int

    def to_json(self) -> dict[str, float]:
        return {
            "purity": self.purity,
            "slot_accuracy": self.slot_accuracy,
            "row_accuracy": self.row_accuracy,
            "distinct_images": self.distinct_images,
        }


def assignment_quality(slots: Slots, slot_image: np.ndarray, truth: np.ndarray, num_images: int) -> StageQuality:
    """Accuracy after mapping each recovered image to its majority true image (rows: every slot right)."""
    mapping = majority_map(slot_image, truth, num_images)
    right = mapping[slot_image] == truth
    per_row = right.reshape(-1, slots.per_row)
    if slots.per_row == 2:  # a collided row's two slots may come in either order
        swapped = mapping[slot_image].reshape(-1, 2)[:, ::-1] == truth.reshape(-1, 2)
        same_class = slots.cls.reshape(-1, 2)
        per_row = np.where((same_class[:, :1] == same_class[:, 1:]) & swapped.all(axis=1, keepdims=True), True, per_row)
    return StageQuality(
        purity(slot_image, truth),
        float(right.mean()),
        float(per_row.all(axis=1).mean()),
        len(set(mapping[mapping >= 0].tolist())),
    )


def image_ssim(recovered: np.ndarray, private: np.ndarray, mapping: np.ndarray, pixels: PixelSpace) -> np.ndarray:
    """SSIM of each recovered image with the true image it was mapped to (clipped to the pixel box)."""
    valid = mapping >= 0
    result = np.full(len(recovered), np.nan)
    unit = pixels.to_unit(pixels.clip(recovered[valid]))
    result[valid] = ssim(np.clip(unit, 0, 1), pixels.to_unit(private[mapping[valid]]))
    return result


__all__ = ["StageQuality", "assignment_quality", "image_ssim", "majority_map", "true_slot_images"]
