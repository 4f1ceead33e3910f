"""The membership scorer: ROC, AUC and TPR at low FPR against scikit-learn and a hand-worked case."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sklearn_roc_curve

from instahide_bench.core.errors import InputFileError
from instahide_bench.core.membership import MembershipKey
from instahide_bench.core.membership_scoring import (
    MembershipScores,
    membership_metrics,
    min_non_members,
    roc_curve,
    score_membership,
)


def _sklearn_tpr_at(members: np.ndarray, scores: np.ndarray, level: float) -> float:
    fpr, tpr, _ = sklearn_roc_curve(members, scores, drop_intermediate=False)
    return float(tpr[fpr <= level].max())


@pytest.mark.parametrize("rounding", [None, 1])  # rounding to 1 decimal makes many ties
def test_curve_auc_and_tpr_match_scikit_learn(rounding: int | None) -> None:
    rng = np.random.default_rng(3)
    members = rng.random(3000) < 0.4
    scores = rng.normal(size=3000) + 0.8 * members
    if rounding is not None:
        scores = np.round(scores, rounding)
    fpr, tpr, thresholds = roc_curve(members, scores)
    ref_fpr, ref_tpr, ref_thresholds = sklearn_roc_curve(members, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, ref_fpr)
    np.testing.assert_allclose(tpr, ref_tpr)
    np.testing.assert_allclose(thresholds[1:], ref_thresholds[1:])
    metrics = membership_metrics(members, scores, resamples=0)
    assert metrics.values["auc"] == pytest.approx(roc_auc_score(members, scores), abs=1e-12)
    assert metrics.values["tpr_at_0.1%_fpr"] == pytest.approx(_sklearn_tpr_at(members, scores, 0.001))
    assert metrics.values["tpr_at_1%_fpr"] == pytest.approx(_sklearn_tpr_at(members, scores, 0.01))
    best = np.max((ref_tpr + 1 - ref_fpr) / 2)
    assert metrics.values["balanced_accuracy"] == pytest.approx(best)


def test_small_case_worked_out_by_hand() -> None:
    # members 0.9, 0.8, 0.4; non-members 0.7, 0.3, 0.2, 0.1.
    # AUC: of the 12 member/non-member pairs only (0.4, 0.7) is misordered -> 11/12.
    # No false positive is allowed at FPR <= 1% of 4 non-members: threshold 0.8 -> TPR 2/3.
    # Balanced accuracy: threshold 0.4 gives TPR 1, FPR 1/4 -> (1 + 3/4) / 2 = 0.875.
    members = np.array([True, True, True, False, False, False, False])
    scores = np.array([0.9, 0.8, 0.4, 0.7, 0.3, 0.2, 0.1])
    metrics = membership_metrics(members, scores, resamples=0)
    assert metrics.values == pytest.approx(
        {"auc": 11 / 12, "tpr_at_0.1%_fpr": 2 / 3, "tpr_at_1%_fpr": 2 / 3, "balanced_accuracy": 0.875}
    )
    assert (metrics.num_members, metrics.num_non_members) == (3, 4)
    # a tie between a member and a non-member counts one half
    tied = membership_metrics(np.array([True, False]), np.array([0.5, 0.5]), resamples=0)
    assert tied.values["auc"] == 0.5 and tied.values["tpr_at_1%_fpr"] == 0.0


def test_bootstrap_is_seeded_stratified_and_brackets_the_value() -> None:
    rng = np.random.default_rng(0)
    members = np.r_[np.ones(300, bool), np.zeros(300, bool)]
    scores = rng.normal(size=600) + members
    key = MembershipKey(members, np.where(members, np.arange(600), -1))
    first = score_membership(key, scores, resamples=200, seed=7)
    again = score_membership(key, scores, resamples=200, seed=7)
    other = score_membership(key, scores, resamples=200, seed=8)
    assert first.all.intervals == again.all.intervals
    assert first.all.intervals != other.all.intervals
    for name, (low, high) in first.all.intervals.items():
        assert low <= first.all.values[name] <= high, name
    low, high = first.all.intervals["auc"]
    assert 0.02 < high - low < 0.15  # about +-2 standard errors of an AUC near 0.76 over 300 + 300
    assert first.bootstrap == {"resamples": 200, "confidence": 0.95, "seed": 7, "stratified": True}


def test_reliability_rule_needs_ten_false_positives() -> None:
    assert min_non_members(0.001) == 10_000 and min_non_members(0.01) == 1000
    for non_members, expected in ((999, (False, False)), (1000, (False, True)), (10_000, (True, True))):
        members = np.r_[np.ones(10, bool), np.zeros(non_members, bool)]
        metrics = membership_metrics(members, np.arange(len(members), dtype=float), resamples=0)
        assert (metrics.reliable["tpr_at_0.1%_fpr"], metrics.reliable["tpr_at_1%_fpr"]) == expected


def test_init_members_are_scored_separately_and_json_round_trips() -> None:
    members = np.array([True, True, True, True, False, False, False, False])
    init = np.array([True, True, False, False, False, False, False, False])
    scores = np.array([10.0, 9.0, 0.0, 0.1, 5.0, 4.0, 3.0, 2.0])  # init members on top, the others at the bottom
    key = MembershipKey(members, np.array([0, 1, 2, 3, -1, -1, -1, -1]), init)
    result = score_membership(key, scores, resamples=50)
    assert result.all.values["auc"] == pytest.approx(0.5)
    assert result.init is not None and result.init.values["auc"] == 1.0
    assert (result.init.num_members, result.init.num_non_members) == (2, 4)
    assert MembershipScores.from_json(result.to_json()) == result
    assert score_membership(MembershipKey(members, key.private_index), scores, resamples=0).init is None


def test_bad_scores_are_one_line_errors() -> None:
    key = MembershipKey(np.array([True, False, False]), np.array([0, -1, -1]))
    with pytest.raises(InputFileError, match=r"shape \(2,\), expected \(3,\)"):
        score_membership(key, np.zeros(2))
    with pytest.raises(InputFileError, match="1 NaN/inf score"):
        score_membership(key, np.array([0.0, np.nan, 1.0]))
    with pytest.raises(InputFileError, match="expected floats"):
        score_membership(key, np.array(["a", "b", "c"]))
