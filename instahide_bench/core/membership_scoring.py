"""Scoring a membership attack: ROC AUC, TPR at low FPR, balanced accuracy, bootstrap intervals.

The one scorer of membership scores (``instahide-bench score --scores``, ``attack --score``, the
leaderboard and the matrix all call :func:`score_membership`).

Conventions, after Carlini et al. ("Membership Inference Attacks From First Principles", 2022):

* The ROC curve has one operating point per distinct score (a candidate is called a member
  when its score is >= the threshold), plus (0, 0); it equals scikit-learn's
  ``roc_curve(..., drop_intermediate=False)``. The AUC is the trapezoid area under it (ties
  count one half), as ``roc_auc_score``.
* TPR at FPR x is the highest TPR among operating points whose FPR is at most x. (Carlini et
  al.'s code takes the last point with FPR strictly below x; with N non-members the two differ
  only when x * N is a whole number, e.g. 0.1% of 1000: ours allows that one false positive.)
* Balanced accuracy is the best, over thresholds, of (TPR + TNR) / 2.
* Intervals: a stratified bootstrap (members and non-members resampled with replacement, each
  to its own count, so every resample keeps the class balance), percentile intervals from a
  seeded ``np.random.Generator``.
* Reliability: a TPR at FPR x is set by the ``x * N`` highest-scoring non-members. With fewer
  than :data:`MIN_FALSE_POSITIVES` (10) of them the threshold hangs on a handful of outlying
  non-members and the figure means little (a count of k has a relative error near
  1/sqrt(k), about 30% at k = 10); such a figure is flagged ``reliable: false``. At 0.1% FPR
  that asks for 10,000 non-members.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from instahide_bench.core.errors import InputFileError, InstaHideBenchError
from instahide_bench.core.io import load_npy
from instahide_bench.core.membership import MembershipKey

#: The low false-positive rates reported (0.1% and 1%), and their field names.
FPR_LEVELS: dict[str, float] = {"tpr_at_0.1%_fpr": 0.001, "tpr_at_1%_fpr": 0.01}
#: A TPR at FPR x is flagged unreliable when x * (non-members) is below this.
MIN_FALSE_POSITIVES = 10
METRICS = ("auc", *FPR_LEVELS, "balanced_accuracy")
DEFAULT_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95
DEFAULT_BOOTSTRAP_SEED = 0


def roc_curve(is_member: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds): one point per distinct score, highest first, after (0, 0) at +inf.

    Parameters
    ----------
    is_member : numpy.ndarray
        bool, C; at least one member and one non-member.
    scores : numpy.ndarray
        float, C; higher means "member".
    """
    is_member = np.asarray(is_member, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    positives, negatives = int(is_member.sum()), int((~is_member).sum())
    if positives == 0 or negatives == 0:
        raise InstaHideBenchError("a ROC curve needs at least one member and one non-member")
    order = np.argsort(-scores, kind="mergesort")
    ordered, members = scores[order], is_member[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(ordered)), len(ordered) - 1]
    true_positives = np.cumsum(members)[last_of_tie]
    false_positives = last_of_tie + 1 - true_positives
    fpr = np.r_[0.0, false_positives / negatives]
    tpr = np.r_[0.0, true_positives / positives]
    return fpr, tpr, np.r_[np.inf, ordered[last_of_tie]]


def _metrics(fpr: np.ndarray, tpr: np.ndarray) -> dict[str, float]:
    out = {"auc": float(np.trapezoid(tpr, fpr))}
    for name, level in FPR_LEVELS.items():
        out[name] = float(tpr[fpr <= level].max())
    out["balanced_accuracy"] = float(np.max((tpr + 1.0 - fpr) / 2.0))
    return out


@dataclass(frozen=True)
class MembershipMetrics:
    """The figures of one set of members against the non-members.

    Attributes
    ----------
    values : dict
        ``auc``, ``tpr_at_0.1%_fpr``, ``tpr_at_1%_fpr``, ``balanced_accuracy``.
    intervals : dict
        The same names -> (low, high) bootstrap percentile interval.
    num_members, num_non_members : int
        The counts they rest on.
    reliable : dict
        Each ``tpr_at_*`` name -> whether FPR x N >= :data:`MIN_FALSE_POSITIVES`.
    """

    values: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    num_members: int
    num_non_members: int
    reliable: dict[str, bool]

    @property
    def auc(self) -> float:
        return self.values["auc"]

    def to_json(self) -> dict[str, Any]:
        return {
            **self.values,
            "intervals": {k: list(v) for k, v in self.intervals.items()},
            "num_members": self.num_members,
            "num_non_members": self.num_non_members,
            "reliable": dict(self.reliable),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> MembershipMetrics:
        """Inverse of :meth:`to_json`; raises KeyError/TypeError/ValueError on malformed input."""
        intervals = {str(k): (float(v[0]), float(v[1])) for k, v in dict(obj.get("intervals") or {}).items()}
        return cls(
            {name: float(obj[name]) for name in METRICS},
            intervals,
            int(obj["num_members"]),
            int(obj["num_non_members"]),
            {str(k): bool(v) for k, v in dict(obj.get("reliable") or {}).items()},
        )


@dataclass(frozen=True)
class MembershipScores:
    """A membership attack's score: all members, and (when the key has them) the init images.

    Attributes
    ----------
    all : MembershipMetrics
        Every member against every non-member.
    init : MembershipMetrics or None
        Only the members whose private image initialised (or is) a release row, against every
        non-member; None when the encoder's key records no init images or none is a candidate.
    num_candidates : int
        C.
    bootstrap : dict
        ``resamples``, ``confidence`` and ``seed`` of the intervals.
    """

    all: MembershipMetrics
    init: MembershipMetrics | None = None
    num_candidates: int = 0
    bootstrap: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "membership",
            **self.all.to_json(),
            "num_candidates": self.num_candidates,
            "init": None if self.init is None else self.init.to_json(),
            "bootstrap": dict(self.bootstrap),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> MembershipScores:
        """Inverse of :meth:`to_json`; raises KeyError/TypeError/ValueError on malformed input."""
        init = obj.get("init")
        return cls(
            MembershipMetrics.from_json(obj),
            None if init is None else MembershipMetrics.from_json(init),
            int(obj["num_candidates"]),
            dict(obj.get("bootstrap") or {}),
        )


def membership_metrics(
    is_member: np.ndarray,
    scores: np.ndarray,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    rng: np.random.Generator | None = None,
) -> MembershipMetrics:
    """The figures of :class:`MembershipMetrics`, with stratified bootstrap intervals drawn from ``rng``."""
    is_member = np.asarray(is_member, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    fpr, tpr, _ = roc_curve(is_member, scores)
    values = _metrics(fpr, tpr)
    members, non_members = np.flatnonzero(is_member), np.flatnonzero(~is_member)
    intervals: dict[str, tuple[float, float]] = {}
    if resamples > 0:
        rng = rng if rng is not None else np.random.default_rng(DEFAULT_BOOTSTRAP_SEED)
        labels = np.r_[np.ones(len(members), bool), np.zeros(len(non_members), bool)]
        draws: dict[str, list[float]] = {name: [] for name in METRICS}
        for _ in range(resamples):
            rows = np.r_[rng.choice(members, len(members)), rng.choice(non_members, len(non_members))]
            for name, value in _metrics(*roc_curve(labels, scores[rows])[:2]).items():
                draws[name].append(value)
        tail = (1.0 - confidence) / 2.0 * 100.0
        for name, found in draws.items():
            low, high = np.percentile(found, [tail, 100.0 - tail])
            intervals[name] = (float(low), float(high))
    reliable = {name: level * len(non_members) >= MIN_FALSE_POSITIVES for name, level in FPR_LEVELS.items()}
    return MembershipMetrics(values, intervals, len(members), len(non_members), reliable)


def check_scores(scores: np.ndarray, count: int, source: str = "membership scores") -> np.ndarray:
    """``scores`` as float64 (C,), or an :class:`InputFileError` naming ``source``."""
    array = np.asarray(scores)
    if array.shape != (count,):
        raise InputFileError(source, f"shape {array.shape}, expected ({count},): one score per candidate")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise InputFileError(source, f"dtype {array.dtype}, expected floats")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        bad = np.flatnonzero(~np.isfinite(array))
        raise InputFileError(source, f"holds {len(bad)} NaN/inf score(s), first for candidate {int(bad[0])}")
    return array


def load_scores(path: str | os.PathLike[str], count: int) -> np.ndarray:
    """A ``membership_scores.npy`` file as float64 (C,), checked (:func:`check_scores`)."""
    return check_scores(load_npy(path), count, os.fspath(path))


def score_membership(
    key: MembershipKey,
    scores: np.ndarray,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_BOOTSTRAP_SEED,
    source: str = "membership scores",
) -> MembershipScores:
    """Score one candidate score per candidate against the truth; the init members separately.

    Raises
    ------
    InputFileError
        (naming ``source``) for scores of the wrong shape or with NaN/inf values.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    values = check_scores(scores, len(key.is_member), source)
    rng = np.random.default_rng(seed)
    overall = membership_metrics(key.is_member, values, resamples=resamples, confidence=confidence, rng=rng)
    init = None
    if key.init is not None and key.init.any():
        keep = key.init | ~key.is_member
        init = membership_metrics(
            key.is_member[keep], values[keep], resamples=resamples, confidence=confidence, rng=rng
        )
    bootstrap = {"resamples": resamples, "confidence": confidence, "seed": seed, "stratified": True}
    return MembershipScores(overall, init, len(values), bootstrap)


def min_non_members(level: float) -> int:
    """How many non-members make a TPR at FPR ``level`` reliable (:data:`MIN_FALSE_POSITIVES` / level)."""
    return math.ceil(MIN_FALSE_POSITIVES / level - 1e-9)


__all__ = [
    "DEFAULT_BOOTSTRAP_SEED",
    "DEFAULT_CONFIDENCE",
    "DEFAULT_RESAMPLES",
    "FPR_LEVELS",
    "METRICS",
    "MIN_FALSE_POSITIVES",
    "MembershipMetrics",
    "MembershipScores",
    "check_scores",
    "load_scores",
    "membership_metrics",
    "min_non_members",
    "roc_curve",
    "score_membership",
]
