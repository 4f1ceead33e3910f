"""Scoring a decryption against a challenge's key (docs/specification.md §4): the one scorer every caller uses.

Row i of a decryption is compared with the private images mixed into encryption i: in the
challenge's cross-dataset setting the two of docs/specification.md §4, a = private[private_index[i, 0]] and
b = private[private_index[i, 1]]. Inside-dataset encoders mix k private images and nothing in
the public data tells slot 1 from slots 2..k-1, so there every private slot counts (see
docs/metric.md). Per row: Max_SSIM, Mean_SSIM, Min_L2, Mean_L2 over those images; reported:
their averages over the E rows; ranking: Max_SSIM. On a gradient challenge each step's rows
are first matched to the fed rows (:mod:`~instahide_bench.core.gradient_scoring`).

Rows are scored in chunks, so memory stays bounded by the chunk size plus the O(E) per-row
numbers: nothing E x n (rows x private images) is ever built.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from instahide_bench.core.challenge import ChallengeKey, PublicChallenge
from instahide_bench.core.errors import InstaHideBenchError
from instahide_bench.core.io import write_text_atomic
from instahide_bench.core.metric import References, compare
from instahide_bench.core.progress import progress
from instahide_bench.core.submission import check_decryption

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_ROWS = 512
SUMMARY_COLUMNS = ("max_ssim", "mean_ssim", "min_l2", "mean_l2")


def per_row_columns(slots: int) -> tuple[str, ...]:
    """Per-row table columns for rows of ``slots`` private images (p1, ssim_1, l2_1, ...)."""
    numbered = [f"{name}_{j}" if name != "p" else f"p{j}" for name in ("p", "ssim", "l2") for j in range(1, slots + 1)]
    return ("row", *numbered, *SUMMARY_COLUMNS)


@dataclass(frozen=True)
class Scores:
    """The four reported numbers (averages over the rows) and how many rows they average."""

    max_ssim: float
    mean_ssim: float
    min_l2: float
    mean_l2: float
    num_rows: int

    def to_json(self) -> dict[str, Any]:
        return {
            "max_ssim": self.max_ssim,
            "mean_ssim": self.mean_ssim,
            "min_l2": self.min_l2,
            "mean_l2": self.mean_l2,
            "num_rows": self.num_rows,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Scores:
        """Inverse of :meth:`to_json`; raises KeyError/TypeError/ValueError on malformed input."""
        return cls(
            float(obj["max_ssim"]),
            float(obj["mean_ssim"]),
            float(obj["min_l2"]),
            float(obj["mean_l2"]),
            int(obj["num_rows"]),
        )


@dataclass(frozen=True)
class RowScores:
    """Per row: the scored private indices, and SSIM and L2 against each (one column per image)."""

    private_index: np.ndarray
    ssim: np.ndarray
    l2: np.ndarray

    @property
    def max_ssim(self) -> np.ndarray:
        return np.asarray(self.ssim.max(axis=1))

    @property
    def mean_ssim(self) -> np.ndarray:
        return np.asarray(self.ssim.mean(axis=1))

    @property
    def min_l2(self) -> np.ndarray:
        return np.asarray(self.l2.min(axis=1))

    @property
    def mean_l2(self) -> np.ndarray:
        return np.asarray(self.l2.mean(axis=1))

    def summary(self) -> Scores:
        return Scores(
            max_ssim=float(self.max_ssim.mean()),
            mean_ssim=float(self.mean_ssim.mean()),
            min_l2=float(self.min_l2.mean()),
            mean_l2=float(self.mean_l2.mean()),
            num_rows=int(self.ssim.shape[0]),
        )

    @property
    def slots(self) -> int:
        return int(self.ssim.shape[1])

    def to_columns(self) -> dict[str, np.ndarray]:
        """The per-row table (:func:`per_row_columns`), e.g. for ``pandas.DataFrame``."""
        columns: dict[str, np.ndarray] = {"row": np.arange(self.ssim.shape[0])}
        for name, values in (("p", self.private_index), ("ssim", self.ssim), ("l2", self.l2)):
            for j in range(self.slots):
                columns[f"p{j + 1}" if name == "p" else f"{name}_{j + 1}"] = values[:, j]
        columns.update(max_ssim=self.max_ssim, mean_ssim=self.mean_ssim, min_l2=self.min_l2, mean_l2=self.mean_l2)
        return columns


@dataclass(frozen=True)
class ScoreResult:
    """The scores, and the per-row numbers when they were asked for."""

    scores: Scores
    rows: RowScores | None = None


def write_per_row_csv(rows: RowScores, path: str | os.PathLike[str]) -> Path:
    """Write the per-row table (:func:`per_row_columns`) as CSV, atomically."""
    import pandas as pd

    frame = pd.DataFrame(rows.to_columns(), columns=list(per_row_columns(rows.slots)))
    write_text_atomic(path, frame.to_csv(index=False, lineterminator="\n"))
    return Path(path)


def scored_images(key: ChallengeKey) -> np.ndarray:
    """E x m: the private images each row is scored against: every private slot of the row
    (slot 0 and its partner for the challenge's cross-dataset sets)."""
    return np.asarray(key.private_index)


def score_decryption(
    challenge: PublicChallenge,
    key: ChallengeKey,
    decryption: np.ndarray,
    *,
    per_row: bool = False,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> ScoreResult:
    """Score one decryption (float values in the challenge's pixel space, or uint8) against the key.

    Raises :class:`InputFileError` (source "decryption") for a wrong shape/dtype or NaN/inf values.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
    rows = challenge.num_rows
    check_decryption(decryption, rows)
    if challenge.gradients is not None:
        from instahide_bench.core.gradient_scoring import match_decryption

        decryption = match_decryption(challenge, key, decryption)  # a step's rows carry no order
    pairs = scored_images(key)
    if pairs.shape[0] != rows:
        raise InstaHideBenchError(f"the key assigns {pairs.shape[0]} rows but the challenge has {rows}")
    references = References.prepare(key.private, challenge.pixels)
    ssim_values = np.empty(pairs.shape, dtype=np.float64)
    l2_values = np.empty(pairs.shape, dtype=np.float64)
    starts = range(0, rows, chunk_rows)
    for start in progress(starts, desc="scoring", total=len(starts), unit="chunk"):
        stop = min(start + chunk_rows, rows)
        comparison = compare(decryption[start:stop], references, pairs[start:stop])
        ssim_values[start:stop] = comparison.ssim
        l2_values[start:stop] = comparison.l2
    row_scores = RowScores(pairs.copy(), ssim_values, l2_values)
    scores = row_scores.summary()
    logger.info(
        "scored %d rows: Max_SSIM %.4f, Mean_SSIM %.4f, Min_L2 %.4f, Mean_L2 %.4f",
        rows,
        scores.max_ssim,
        scores.mean_ssim,
        scores.min_l2,
        scores.mean_l2,
    )
    return ScoreResult(scores, row_scores if per_row else None)


__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "SUMMARY_COLUMNS",
    "RowScores",
    "ScoreResult",
    "Scores",
    "per_row_columns",
    "score_decryption",
    "scored_images",
    "write_per_row_csv",
]
