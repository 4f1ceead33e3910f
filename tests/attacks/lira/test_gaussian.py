"""LiRA's per-candidate Gaussians, against cases worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from instahide_bench.attacks.lira.gaussian import fit_online, offline_scores, online_scores
from instahide_bench.core.errors import ConfigError

# One candidate, one query, five shadows: IN phi 2 and 4 (mean 3, unbiased variance 2),
# OUT phi -2, 0, 2 (mean 0, variance 4); the target observes phi = 2.
SHADOW = np.array([[[2.0], [4.0], [-2.0], [0.0], [2.0]]])
INSIDE = np.array([[True, True, False, False, False]])
TARGET = np.array([[2.0]])


def test_online_likelihood_ratio_by_hand() -> None:
    # log N(2; 3, 2) - log N(2; 0, 4) = -1/2 log(4 pi) - 1/4 + 1/2 log(8 pi) + 1/2 = 1/2 log 2 + 1/4
    assert online_scores(TARGET, SHADOW, INSIDE, fixed_variance=False)[0] == pytest.approx(0.5 * math.log(2) + 0.25)


def test_fixed_variance_pools_the_residuals_by_hand() -> None:
    # residuals: IN -1, 1; OUT -2, 0, 2: 10 over 5 - 2 degrees of freedom; the log sigma terms cancel
    variance = 10 / 3
    expected = -((2 - 3) ** 2) / (2 * variance) + (2 - 0) ** 2 / (2 * variance)
    assert online_scores(TARGET, SHADOW, INSIDE, fixed_variance=True)[0] == pytest.approx(expected)


def test_offline_one_sided_test_by_hand() -> None:
    # OUT only: mean 0, standard deviation 2, so z = 1 and -log Pr[Z > 1] = -log 0.158655...
    out = SHADOW[:, 2:]
    assert offline_scores(TARGET, out, fixed_variance=False)[0] == pytest.approx(-math.log(0.15865525393145707))
    assert offline_scores(TARGET, out, fixed_variance=True)[0] == pytest.approx(-math.log(0.15865525393145707))


def test_scores_rank_by_where_the_target_falls() -> None:
    """Several candidates and two queries: a target above its IN mean scores higher than one at its OUT mean."""
    rng = np.random.default_rng(0)
    means_in, means_out = rng.normal(3, 1, (6, 1)), rng.normal(-1, 1, (6, 1))
    inside = np.tile(np.array([True, False] * 8), (6, 1))
    shadow = np.where(inside[:, :, None], means_in[:, None], means_out[:, None]) + rng.normal(0, 0.5, (6, 16, 2))
    member, non_member = means_in + 0.2, means_out + 0.2
    target = np.concatenate([member, non_member]).repeat(2, axis=1)
    both = np.concatenate([shadow, shadow])
    for fixed in (False, True):
        online = online_scores(target, both, np.concatenate([inside, inside]), fixed)
        offline = offline_scores(target, both[:, ~inside[0]], fixed)
        assert online.shape == offline.shape == (12,) and np.all(np.isfinite(online)) and np.all(np.isfinite(offline))
        assert online[:6].min() > online[6:].max() and offline[:6].min() > offline[6:].max()


def test_a_candidate_without_in_observations_borrows_the_average_gap() -> None:
    shadow = np.array([[[5.0], [1.0], [6.0], [2.0]], [[0.0], [1.0], [0.5], [1.5]]])
    inside = np.array([[True, False, True, False], [False, False, False, False]])
    fit_in, fit_out = fit_online(shadow, inside, fixed_variance=True)
    assert fit_out.mean[1, 0] == pytest.approx(0.75)
    assert fit_in.mean[1, 0] == pytest.approx(0.75 + (5.5 - 1.5))  # its OUT mean plus the other's IN - OUT gap
    assert fit_in.count.tolist() == [2, 0]


def test_two_shadows_fall_back_to_the_spread_of_all_observations() -> None:
    """One IN and one OUT observation per candidate leave no within-candidate freedom."""
    shadow = np.array([[[3.0], [0.0]], [[5.0], [1.0]], [[4.0], [2.0]]])
    inside = np.array([[True, False], [False, True], [True, False]])
    scores = online_scores(np.array([[3.0], [1.0], [2.0]]), shadow, inside, fixed_variance=True)
    assert np.all(np.isfinite(scores))
    with pytest.raises(ConfigError, match="C x Q"):
        online_scores(np.zeros((3, 2)), shadow, inside, fixed_variance=True)
    with pytest.raises(ConfigError, match="some shadows trained on and others did not"):
        online_scores(np.zeros((3, 1)), shadow, np.ones_like(inside), fixed_variance=True)
