"""What the seed check compares with: k = 2 challenges, whose one-valued rows carry no evidence."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from instahide_bench.attacks.prng_seed_search.reference import fast_check_reference, synthetic_labels
from instahide_bench.attacks.prng_seed_search.target import SeedTarget
from instahide_bench.core.instahide import InstaHideConfig

CONFIG = InstaHideConfig(mode="inside", k=2, n=40, T=1, upper=0.65, dom=None)


def _pass_rate(target: SeedTarget, check_rows: int | None = None, seeds: int = 400) -> float:
    evidence = target.evidence if check_rows is None else replace(target.evidence, check_rows=check_rows)
    wrong = np.random.default_rng(5).integers(1_000_000, 2**32, size=seeds)
    return sum(fast_check_reference(int(seed), evidence) for seed in wrong) / seeds


def test_k2_check_compares_every_first_draw_row_so_one_valued_rows_do_not_let_wrong_seeds_through() -> None:
    # Rows 0-3 hold two images of one class: lam0 + lam1 = 1 matches any accepted k=2 draw.
    labels = synthetic_labels(7, CONFIG.n, CONFIG.k, CONFIG.upper, None, same_class_rows=(0, 1, 2, 3))
    target = SeedTarget.from_labels(CONFIG, labels, check_rows=2)
    assert target.evidence.check_rows == CONFIG.n
    assert _pass_rate(target, check_rows=2) > 0.2  # the plain two-row check: most wrong seeds pass
    assert _pass_rate(target) < 0.02
    assert target.confirm(7) and fast_check_reference(7, target.evidence)


def test_k3_keeps_the_requested_check_rows() -> None:
    config = replace(CONFIG, mode="cross", k=3)
    labels = synthetic_labels(7, config.n, config.k, config.upper, None)
    assert SeedTarget.from_labels(config, labels, check_rows=2).evidence.check_rows == 2
