"""The refinement loop: least squares for the images, then re-assignment of the rows, repeated.

Starting from the grouping's assignment, each round solves the images by weighted least
squares on the mixtures (:mod:`.demix`) and then re-fits every row to its best class-compatible
images on the features (:mod:`.refine`). It stops when (almost) no row changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from instahide_bench.attacks.common.demix import Assignment, solve_images
from instahide_bench.attacks.common.labels import LabelStructure
from instahide_bench.attacks.mixup_sign_recovery.components import highpass
from instahide_bench.attacks.mixup_sign_recovery.refine import FitTables, fit_pairs, fit_slots


@dataclass
class Model:
    """Current estimate: assignment, images (n x 32 x 32 x 3, float64) and public mean (or None)."""

    assignment: Assignment
    images: np.ndarray
    public_mean: np.ndarray | None
    changed: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class RefineSettings:
    """How the loop fits rows: feature high-pass, coefficient cap, sweeps, stopping rule."""

    feature_sigma: float
    upper: float
    max_rounds: int
    slot_sweeps: int = 2
    stop_changed: float = 0.002


def solve(
    mixtures: np.ndarray, assignment: Assignment, num_images: int, public_weight: np.ndarray, row_weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """Least-squares images (n x 32 x 32 x 3) and public mean (32 x 32 x 3 or None)."""
    images, public_mean = solve_images(mixtures, assignment, num_images, public_weight, row_weight)
    shape = mixtures.shape[1:]
    return images.reshape(num_images, *shape), None if public_mean is None else public_mean.reshape(shape)


def refit(
    features: np.ndarray,
    model: Model,
    structure: LabelStructure,
    image_class: np.ndarray,
    public_weight: np.ndarray,
    settings: RefineSettings,
) -> Assignment:
    """Every row's best class-compatible images under the current model."""
    image_features = highpass(model.images, settings.feature_sigma)
    public_feature = None if model.public_mean is None else highpass(model.public_mean[None], settings.feature_sigma)[0]
    tables = FitTables.build(features, image_features, public_feature, public_weight)
    if structure.private_slots == 2:
        return fit_pairs(tables, structure, image_class, settings.upper, model.assignment)
    return fit_slots(tables, structure, image_class, model.assignment, settings.slot_sweeps)


def changed_rows(old: Assignment, new: Assignment) -> float:
    """Fraction of rows whose set of images changed."""
    return float((np.sort(old.images, axis=1) != np.sort(new.images, axis=1)).any(axis=1).mean())


def start_model(
    mixtures: np.ndarray, assignment: Assignment, num_images: int, public_weight: np.ndarray, row_weight: np.ndarray
) -> Model:
    """The least-squares model of a first assignment."""
    return Model(assignment, *solve(mixtures, assignment, num_images, public_weight, row_weight))


def alternate(
    mixtures: np.ndarray,
    features: np.ndarray,
    structure: LabelStructure,
    image_class: np.ndarray,
    model: Model,
    public_weight: np.ndarray,
    row_weight: np.ndarray,
    settings: RefineSettings,
    progress: Callable[[Iterable[int]], Iterator[int]] = iter,
) -> Model:
    """Alternate re-assignment and least squares until rows stop moving (or ``max_rounds``)."""
    num_images = image_class.size
    model = Model(model.assignment, model.images, model.public_mean, list(model.changed))
    for _ in progress(range(settings.max_rounds)):
        assignment = refit(features, model, structure, image_class, public_weight, settings)
        model.changed.append(changed_rows(model.assignment, assignment))
        model.assignment = assignment
        model.images, model.public_mean = solve(mixtures, assignment, num_images, public_weight, row_weight)
        if model.changed[-1] <= settings.stop_changed:
            break
    return model


__all__ = ["Model", "RefineSettings", "alternate", "changed_rows", "refit", "solve", "start_model"]
