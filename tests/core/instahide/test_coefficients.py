"""Coefficients drawn in the authors' order: the vectorised first pass changes no bit of the loop's output."""

from __future__ import annotations

import numpy as np
import pytest

from instahide_bench.core.errors import ConfigError
from instahide_bench.core.instahide.coefficients import (
    acceptance_rate,
    check_coefficient_acceptance,
    draw_coefficients,
    is_rejected,
    normalise,
)


def _row_by_row(seed: int, n: int, k: int, upper: float, dom: float | None) -> np.ndarray:
    """The authors' loop, written plainly: every row normalised alone, rejected rows redrawn in order."""
    rng = np.random.RandomState(seed)
    first = rng.normal(0, 1, size=(n, k))
    lam = np.empty((n, k))
    for row in range(n):
        current = normalise(first[row])
        while is_rejected(current, upper, dom):
            current = normalise(rng.normal(0, 1, size=(1, k)).reshape(k))
        lam[row] = current
    return lam


@pytest.mark.parametrize(
    ("k", "upper", "dom"),
    [(2, 0.65, None), (4, 0.65, None), (4, 0.65, 0.65), (6, 0.3, None), (9, 1.0, None), (12, 0.3, None)],
)
def test_bit_for_bit_the_authors_loop(k: int, upper: float, dom: float | None) -> None:
    rng = np.random.RandomState(k)
    drawn = draw_coefficients(lambda shape: rng.normal(0, 1, size=shape), 2000, k, upper, dom)
    np.testing.assert_array_equal(drawn, _row_by_row(k, 2000, k, upper, dom))
    assert (drawn.max(axis=1) <= upper).all()


def test_a_row_that_is_never_accepted_stops_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    from instahide_bench.core.instahide import coefficients

    monkeypatch.setattr(coefficients, "MAX_REDRAWS", 50)
    always_dominant = lambda shape: np.tile([10.0, 1.0, 1.0, 1.0], int(np.prod(shape)) // 4).reshape(shape)  # noqa: E731
    with pytest.raises(ConfigError, match="rejected 50 times"):
        draw_coefficients(always_dominant, 3, 4, 0.65, None)


def test_settings_almost_never_accepted_are_refused_up_front() -> None:
    assert acceptance_rate(4, 0.65, None) > 0.5  # the published setting keeps most rows
    with pytest.raises(ConfigError, match="rejection sampling would not finish"):
        check_coefficient_acceptance(6, 0.65, 0.95)
