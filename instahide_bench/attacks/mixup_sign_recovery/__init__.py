"""``mixup-sign-recovery`` (SPEC §6): sign recovery, label-guided grouping, least-squares demixing.

Modules, one job each: :mod:`.labels` (label rows -> class/weight structure), :mod:`.signs`
(undo or estimate the sign mask), :mod:`.components` (blind sparse grouping), :mod:`.grouping`
(classes and first assignment), :mod:`.refine` (class-compatible re-assignment), :mod:`.demix`
(least squares), :mod:`.alternate` (the refinement loop), :mod:`.reseed` (duplicate repair),
:mod:`.sign_sync` (image-sign synchronisation), :mod:`.attack` (the registered attack).
"""

from .attack import MixupSignRecoveryAttack, MixupSignRecoveryConfig
from .demix import Assignment, solve_images
from .labels import LabelStructure, estimate_class_sizes, parse_labels
from .signs import recover_signs, sign_accuracy

__all__ = [
    "Assignment",
    "LabelStructure",
    "MixupSignRecoveryAttack",
    "MixupSignRecoveryConfig",
    "estimate_class_sizes",
    "parse_labels",
    "recover_signs",
    "sign_accuracy",
    "solve_images",
]
