"""The check's evidence from label.npy, and the analytic false-positive rate against measured passes."""

from __future__ import annotations

import math

import pytest

from instahide_bench.attacks.prng_seed_search.cpu_check import search_block
from instahide_bench.attacks.prng_seed_search.evidence import Evidence
from tests.attacks.prng_seed_search.fast_check_cases import DOM, UPPER, K, N, make_labels


def test_wrong_seed_pass_rate_matches_estimate() -> None:
    # Widened boxes make the rate measurable; the estimate is the same formula as for 1 ulp.
    evidence = Evidence.from_labels(make_labels(99), N, K, UPPER, DOM, check_rows=1, tolerance_ulps=1 << 18)
    count = 1 << 18
    passed = search_block(5_000_000, 5_000_000 + count, evidence).size
    expected = evidence.false_positive_rate() * count
    assert abs(passed - expected) < 4 * math.sqrt(expected) + 0.15 * expected
    tight = Evidence.from_labels(make_labels(99), N, K, UPPER, DOM)
    assert tight.false_positive_rate() * 2**32 < 1e-3  # default check: no false candidates expected


def test_evidence_rejects_non_label_rows() -> None:
    labels = make_labels(1)
    labels[0, :3] = 0.2
    with pytest.raises(ValueError):
        Evidence.from_labels(labels, N, K, UPPER, DOM)
