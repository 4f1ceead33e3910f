"""Least squares after the replay: the design, exact recovery, public images as noise, a bad replay shows."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from instahide_bench.attacks.prng_seed_search.replay import replay_seed
from instahide_bench.attacks.prng_seed_search.solve import build_model, solve_private_images
from instahide_bench.core.challenge import EncodedChallenge
from instahide_bench.core.instahide import InstaHideConfig
from instahide_bench.core.scoring import score_decryption
from tests.attacks.prng_seed_search.conftest import SEED, small_challenge


def solve(encoded: EncodedChallenge, seed: int = SEED):
    config = InstaHideConfig.from_public_params(encoded.params)
    replay = replay_seed(seed, config)
    return replay, solve_private_images(encoded.encryption, replay, config.n)


def max_ssim(encoded: EncodedChallenge, images: np.ndarray, replay) -> float:
    decryption = encoded.pixels.clip(images)[replay.private[:, 0]]
    return score_decryption(encoded.public_view(), encoded.key, decryption).scores.max_ssim


def test_design_has_private_and_repeated_public_columns(small_2020) -> None:
    replay = replay_seed(SEED, InstaHideConfig.from_public_params(small_2020.params))
    model = build_model(replay, 20)
    used = np.unique(replay.public)
    assert np.array_equal(model.public_ids, used)  # epoch reuse: each drawn public fills k-2 slots
    assert model.single_uses == 0 and model.num_unknowns == 20 + used.size
    assert np.allclose(model.matrix.sum(axis=1), replay.coefficients.astype(np.float32).sum(axis=1), atol=1e-6)


def test_private_images_are_recovered_exactly(small_2020) -> None:
    replay, solution = solve(small_2020)
    assert np.abs(solution.images - small_2020.key.private).max() < 1e-4
    assert solution.relative_residual < 1e-5
    assert max_ssim(small_2020, solution.images, replay) > 0.999


def test_single_use_public_images_are_noise() -> None:
    fresh = small_challenge(public_reuse="fresh")
    replay, solution = solve(fresh)
    assert solution.repeated_publics == 0 and solution.single_public_uses == 200 * 4
    assert solution.num_unknowns == 20 + 1  # the private images and the single-use publics' mean
    assert max_ssim(fresh, solution.images, replay) > 0.5


def test_wrong_masks_leave_a_large_residual(small_2020) -> None:
    replay = replay_seed(SEED, InstaHideConfig.from_public_params(small_2020.params))
    flipped = replace(replay, mask=np.ones_like(replay.mask))
    assert solve_private_images(small_2020.encryption, flipped, 20).relative_residual > 0.1
