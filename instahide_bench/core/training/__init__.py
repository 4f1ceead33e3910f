"""Training classifiers on encodings: models, the generic loop, and what feeds it.

The foundation for utility measurement (``instahide-bench utility``) and for attacks that
train models (membership inference): the models (:mod:`.models`), the loop with soft-label
cross-entropy, step-decayed SGD, clean evaluation and per-epoch checkpoints (:mod:`.loop`),
the authors' augmentation (:mod:`.augment`) and the epoch sources (:mod:`.epochs`), which get
their encodings through :meth:`instahide_bench.core.encoder.Encoder.training_epoch`.
"""

from instahide_bench.core.training.augment import AUGMENTATIONS, augment_images, augment_set
from instahide_bench.core.training.batches import TrainingBatch, clean_epoch, one_hot
from instahide_bench.core.training.loop import (
    EpochRecord,
    EpochSource,
    EvalSet,
    TrainConfig,
    TrainResult,
    epoch_seed,
    evaluate,
    soft_cross_entropy,
    train,
)
from instahide_bench.core.training.models import DEFAULT_MODEL, MODELS, build_model, pick_device

__all__ = [
    "AUGMENTATIONS",
    "DEFAULT_MODEL",
    "MODELS",
    "EpochRecord",
    "EpochSource",
    "EvalSet",
    "TrainConfig",
    "TrainResult",
    "TrainingBatch",
    "augment_images",
    "augment_set",
    "build_model",
    "clean_epoch",
    "epoch_seed",
    "evaluate",
    "one_hot",
    "pick_device",
    "soft_cross_entropy",
    "train",
]
