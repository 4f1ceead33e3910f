"""LiRA's statistics: per-candidate Gaussian fits of the logit-scaled confidence, and the tests on them.

Carlini et al. ("Membership Inference Attacks From First Principles", S&P 2022) observe that
``phi = log(p_y / (1 - p_y))`` of one example, over models trained with and without it, is close
to Gaussian, with a mean (and often a spread) of its own. So each candidate gets its own fit:

* online: ``N(mu_in, s_in)`` from the shadows that trained on it and ``N(mu_out, s_out)`` from
  those that did not; the score is the log likelihood ratio of the target's observation;
* offline: only ``N(mu_out, s_out)``; the score is a one-sided test, ``-log Pr[Z > phi]``,
  large when the target is more confident than models without the candidate tend to be.

With few shadows a per-candidate spread is a poor estimate (two observations give one degree
of freedom), so ``fixed_variance`` uses one pooled variance for everything: the squared
residuals around each candidate's own means, divided by their degrees of freedom. Each query
(the image, its mirror image) is fitted separately and the scores are averaged over queries.

Arrays: ``target`` is C x Q (candidates x queries), ``shadow`` is C x S x Q, ``inside`` C x S
(True where shadow s trained on candidate c). Everything is float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from instahide_bench.core.errors import ConfigError

#: Spreads are floored here so that a candidate whose shadows agree exactly gives no division by 0.
MIN_STD = 1e-6


@dataclass(frozen=True)
class GroupFit:
    """Per candidate and query: mean and standard deviation of one group (IN or OUT) of shadows."""

    mean: np.ndarray  # C x Q
    std: np.ndarray  # C x Q
    count: np.ndarray  # C: observations of each candidate in the group


def _group(shadow: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masked mean, summed squared residuals (C x Q) and counts (C) of the shadows in ``mask``."""
    weight = mask[:, :, None].astype(np.float64)
    count = mask.sum(axis=1)
    mean = (shadow * weight).sum(axis=1) / np.maximum(count, 1)[:, None]
    squares = (((shadow - mean[:, None, :]) ** 2) * weight).sum(axis=1)
    return mean, squares, count


def pooled_std(shadow: np.ndarray, masks: list[np.ndarray]) -> np.ndarray:
    """One standard deviation per query (Q), pooled over the candidates and the groups in ``masks``.

    The squared residuals around each candidate's own group mean, over their degrees of freedom
    (every observation minus one per fitted mean). With one observation per candidate and group
    (two shadows, online) there is no freedom left; then the spread of all observations around
    each group's overall mean is used, as Carlini et al.'s code does for its fixed variance.
    """
    squares, freedom = np.zeros(shadow.shape[2]), 0
    for mask in masks:
        _, group_squares, count = _group(shadow, mask)
        squares += group_squares.sum(axis=0)
        freedom += int(np.maximum(count - 1, 0).sum())
    if freedom > 0:
        return np.maximum(np.sqrt(squares / freedom), MIN_STD)
    spread, freedom = np.zeros(shadow.shape[2]), 0
    for mask in masks:
        values = shadow[mask]  # observations x Q
        if len(values):
            spread += ((values - values.mean(axis=0)) ** 2).sum(axis=0)
            freedom += len(values) - 1
    if freedom <= 0:
        raise ConfigError("LiRA needs at least two shadow observations in one group to estimate a variance")
    return np.maximum(np.sqrt(spread / freedom), MIN_STD)


def _fit(mean: np.ndarray, squares: np.ndarray, count: np.ndarray, fallback: np.ndarray, fixed: bool) -> GroupFit:
    """Per-candidate spreads (unbiased), or ``fallback`` (the pooled one) where fixed or undefined."""
    if fixed:
        std = np.broadcast_to(fallback, mean.shape).copy()
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            own = np.sqrt(squares / (count[:, None] - 1))
        std = np.where((count[:, None] >= 2) & np.isfinite(own), own, fallback[None, :])
    return GroupFit(mean, np.maximum(std, MIN_STD), count)


def _checked(target: np.ndarray, shadow: np.ndarray, inside: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    target, shadow, inside = np.asarray(target, np.float64), np.asarray(shadow, np.float64), np.asarray(inside, bool)
    if target.ndim != 2 or shadow.ndim != 3 or shadow.shape[::2] != target.shape or inside.shape != shadow.shape[:2]:
        raise ConfigError(
            f"LiRA statistics need target C x Q, shadows C x S x Q and inside C x S; "
            f"got {target.shape}, {shadow.shape}, {inside.shape}"
        )
    if not (np.all(np.isfinite(target)) and np.all(np.isfinite(shadow))):
        raise ConfigError("LiRA statistics must be finite")
    return target, shadow, inside


def fit_online(shadow: np.ndarray, inside: np.ndarray, fixed_variance: bool) -> tuple[GroupFit, GroupFit]:
    """IN and OUT Gaussians of every candidate.

    A candidate no shadow trained on (or every shadow did) has no IN (OUT) observation; its
    missing mean is its other mean shifted by the average IN - OUT gap of the candidates that
    have both, the best guess the other candidates allow.
    """
    mean_in, sq_in, n_in = _group(shadow, inside)
    mean_out, sq_out, n_out = _group(shadow, ~inside)
    both = (n_in > 0) & (n_out > 0)
    if not both.any():
        raise ConfigError("online LiRA needs candidates that some shadows trained on and others did not")
    gap = (mean_in[both] - mean_out[both]).mean(axis=0)
    mean_in = np.where((n_in > 0)[:, None], mean_in, mean_out + gap)
    mean_out = np.where((n_out > 0)[:, None], mean_out, mean_in - gap)
    pooled = pooled_std(shadow, [inside, ~inside])
    return (
        _fit(mean_in, sq_in, n_in, pooled, fixed_variance),
        _fit(mean_out, sq_out, n_out, pooled, fixed_variance),
    )


def online_scores(target: np.ndarray, shadow: np.ndarray, inside: np.ndarray, fixed_variance: bool) -> np.ndarray:
    """``log N(phi; IN) - log N(phi; OUT)`` per candidate, averaged over queries (higher = member)."""
    target, shadow, inside = _checked(target, shadow, inside)
    fit_in, fit_out = fit_online(shadow, inside, fixed_variance)
    ratio = norm.logpdf(target, fit_in.mean, fit_in.std) - norm.logpdf(target, fit_out.mean, fit_out.std)
    return np.asarray(ratio.mean(axis=1), dtype=np.float64)


def fit_offline(shadow: np.ndarray, fixed_variance: bool) -> GroupFit:
    """OUT Gaussians from shadows none of which trained on any candidate."""
    everything = np.ones(shadow.shape[:2], dtype=bool)
    mean, squares, count = _group(shadow, everything)
    return _fit(mean, squares, count, pooled_std(shadow, [everything]), fixed_variance)


def offline_scores(target: np.ndarray, shadow: np.ndarray, fixed_variance: bool) -> np.ndarray:
    """``-log Pr[Z > phi]``, Z the candidate's OUT Gaussian, averaged over queries (higher = member).

    The log of the survival function keeps its resolution far in the tail, where members are.
    """
    target, shadow, _ = _checked(target, shadow, np.zeros(shadow.shape[:2], dtype=bool))
    fit = fit_offline(shadow, fixed_variance)
    tail = -norm.logsf(target, fit.mean, fit.std)
    return np.asarray(tail.mean(axis=1), dtype=np.float64)


__all__ = ["MIN_STD", "GroupFit", "fit_offline", "fit_online", "offline_scores", "online_scores", "pooled_std"]
