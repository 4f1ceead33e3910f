"""Replaying a confirmed seed: every row's images, coefficients and sign mask.

The draws are made by :func:`plan_epochs`, the encoder's own planner, so the replay cannot
drift from the encoder. Coefficients come from numpy's legacy ``RandomState`` (a stream numpy
keeps stable across versions); permutations and masks from torch's CPU ``Generator``, whose
``randperm``/``randint`` algorithms have changed between torch releases.

Where the torch draws fall depends on the code that made the challenge, which for the 2020
release was never published: docs/specification.md §3.1's order, the authors' training-code order, each with or
without the DataLoader's base-seed draws (:data:`~instahide_bench.core.instahide.DRAW_ORDERS`).
:func:`replay_in_matching_order` replays the seed in each and keeps the one that reproduces
``label.npy`` row for row (which private images share a row, and with which weights, is in the
labels). The masks have no witness in the public files: a wrong mask stream shows as a large
least-squares residual (:mod:`.solve`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from instahide_bench.core.instahide import (
    DRAW_ORDERS,
    DrawOrder,
    EpochPlan,
    InstaHideConfig,
    draw_order_named,
    mixed_labels,
    plan_epochs,
)
from instahide_bench.core.instahide.rng import LegacySeededRNG

logger = logging.getLogger(__name__)

#: The libraries whose random streams a replay depends on.
REPLAYED_LIBRARIES = {"numpy": np.__version__, "torch": torch.__version__.split("+")[0]}


@dataclass(frozen=True)
class Replay:
    """Every row's random choices, rows in the challenge's order (epoch after epoch).

    ``private``: private-set indices per private slot (column 0 is the row's own image);
    ``public``: public-pool indices per public slot; ``coefficients``: all k weights (float64,
    the encoder mixes their float32 roundings); ``mask``: NHWC int8 +-1 (None without a mask).
    """

    order: str
    seed: int
    private: np.ndarray
    public: np.ndarray
    coefficients: np.ndarray
    mask: np.ndarray | None

    @property
    def num_rows(self) -> int:
        return int(self.private.shape[0])

    def as_plan(self) -> EpochPlan:
        """All rows as one plan (the encoder's helpers accept any number of rows)."""
        return EpochPlan(self.private, self.public, self.coefficients, self.mask)


def replay_seed(seed: int, config: InstaHideConfig, order: DrawOrder = DRAW_ORDERS[0]) -> Replay:
    """Draw the challenge's randomness again from ``seed``, in draw order ``order``."""
    plans = list(plan_epochs(config, LegacySeededRNG(seed), order))
    masks = [plan.mask for plan in plans if plan.mask is not None]  # every epoch or none (cfg.mask)
    return Replay(
        order=order.name,
        seed=int(seed),
        private=np.concatenate([plan.private for plan in plans]),
        public=np.concatenate([plan.public for plan in plans]),
        coefficients=np.concatenate([plan.coefficients for plan in plans]),
        mask=np.concatenate(masks) if masks else None,
    )


def infer_private_classes(replay: Replay, labels: np.ndarray) -> np.ndarray:
    """Each private image's class, read from the label rows it appears in (-1 where unknown).

    A two-valued row puts float32(lam0) in the class column of slot 0's image and float32(lam1)
    in slot 1's; a one-valued row gives both images its column. Rows whose two weights round to
    the same float32 are skipped (they do not say which is which).
    """
    labels = np.asarray(labels, dtype=np.float32)
    weights = replay.coefficients[:, :2].astype(np.float32)
    classes = np.full(int(replay.private.max()) + 1, -1, dtype=np.int64)
    for row, label_row in enumerate(labels):
        columns = np.flatnonzero(label_row)
        first, second = replay.private[row, 0], replay.private[row, 1]
        if columns.size == 1:
            classes[[first, second]] = columns[0]
        elif columns.size == 2 and weights[row, 0] != weights[row, 1]:
            slot0 = columns[0] if label_row[columns[0]] == weights[row, 0] else columns[1]
            classes[first], classes[second] = slot0, columns[0] + columns[1] - slot0
    return classes


def mismatched_label_rows(replay: Replay, labels: np.ndarray) -> np.ndarray:
    """Rows whose label the replay does not reproduce bit for bit (empty for a right seed)."""
    labels = np.asarray(labels, dtype=np.float32)
    classes = infer_private_classes(replay, labels)
    if replay.num_rows != labels.shape[0] or np.any(classes[replay.private[:, :2]] < 0):
        return np.arange(labels.shape[0])
    expected = mixed_labels(replay.as_plan(), classes, labels.shape[1])
    return np.flatnonzero(np.any(expected != labels, axis=1))


def replay_in_matching_order(
    seed: int, config: InstaHideConfig, labels: np.ndarray
) -> tuple[Replay | None, dict[str, int]]:
    """Replay ``seed`` in each known draw order; the first whose labels match ``label.npy`` row for row.

    The order ``config`` names is tried first, then the others in :data:`DRAW_ORDERS`' order.

    Returns that replay (None when no order matches) and, per order tried, the number of label
    rows it does not reproduce (0 for the winner; the search stops there).
    """
    mismatches: dict[str, int] = {}
    # challenge.json's order (docs/specification.md §3.1 when unpublished) first
    published = draw_order_named(config.draw_order)
    for order in (published, *(order for order in DRAW_ORDERS if order != published)):
        replay = replay_seed(seed, config, order)
        mismatches[order.name] = int(mismatched_label_rows(replay, labels).size)
        if mismatches[order.name] == 0:
            logger.info("seed %d replays label.npy in draw order %s", seed, order.name)
            return replay, mismatches
    return None, mismatches


def version_warnings(recorded: dict[str, str]) -> list[str]:
    """One line per replayed library whose version differs from the one that made the challenge."""
    notes = []
    for library, running in REPLAYED_LIBRARIES.items():
        made_with = recorded.get(library)
        if made_with is None:
            notes.append(
                f"challenge.json does not record the {library} version it was made with; "
                f"replaying with {library} {running}"
            )
        elif made_with.split("+")[0] != running:
            notes.append(
                f"the challenge was made with {library} {made_with}, this replay runs {library} {running}: "
                f"its random streams may differ"
            )
    return notes


__all__ = [
    "REPLAYED_LIBRARIES",
    "Replay",
    "infer_private_classes",
    "mismatched_label_rows",
    "replay_in_matching_order",
    "replay_seed",
    "version_warnings",
]
