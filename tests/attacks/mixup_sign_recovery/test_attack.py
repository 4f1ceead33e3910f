"""mixup-sign-recovery end to end: quality on real photographs, determinism, the isolated runner."""

from __future__ import annotations

import numpy as np
import pytest

from instahide_bench.attacks import ATTACKS, AttackContext
from instahide_bench.attacks.mixup_sign_recovery import MixupSignRecoveryAttack, MixupSignRecoveryConfig
from instahide_bench.benchmark.runner import run_attack
from instahide_bench.core.challenge import EncodedChallenge, load_challenge, load_key, write_challenge
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.metric import ssim, to_unit_images
from instahide_bench.core.scoring import score_decryption
from tests.conftest import tiny_encoded


@pytest.fixture(scope="module")
def small_mixup() -> EncodedChallenge:
    """Inside-dataset Mixup (k=4, no mask) of 20 photograph tiles, 10 encryptions each (seeded: reproducible)."""
    return tiny_encoded("mixup", seed=104, rng="legacy-seeded", n=20, T=10)


def best_match_ssim(recovered: np.ndarray, private: np.ndarray, encoded: EncodedChallenge) -> np.ndarray:
    """For every private image, the SSIM of the recovered image that resembles it most."""
    unit_recovered, unit_private = to_unit_images(recovered, encoded.pixels), to_unit_images(private, encoded.pixels)
    table = np.array([ssim(unit_recovered, np.repeat(image[None], len(recovered), axis=0)) for image in unit_private])
    return table.max(axis=1)


def test_mixup_is_broken(small_mixup: EncodedChallenge) -> None:
    result = MixupSignRecoveryAttack().run(small_mixup.public_view(), AttackContext(seed=1))
    scores = score_decryption(small_mixup.public_view(), small_mixup.key, result.decryption).scores
    baseline = ATTACKS.get("abs-rescale")().run(small_mixup.public_view(), AttackContext())
    floor = score_decryption(small_mixup.public_view(), small_mixup.key, baseline.decryption).scores
    assert scores.max_ssim > 0.95 and floor.max_ssim < 0.5
    # every private image is recovered exactly, even though the attack never saw one
    assert best_match_ssim(result.recovered, small_mixup.key.private, small_mixup).min() > 0.999
    assert result.assignment.shape == (small_mixup.encryption.shape[0], 2)


def test_cross_dataset_unit_range_is_broken() -> None:
    encoded = tiny_encoded("instahide-unit-range", seed=7, rng="legacy-seeded", n=16, T=25)
    result = MixupSignRecoveryAttack().run(encoded.public_view(), AttackContext())
    scores = score_decryption(encoded.public_view(), encoded.key, result.decryption).scores
    assert scores.max_ssim > 0.8
    assert result.info["sign_method"] == "exact"


def test_same_seed_same_answer(small_mixup: EncodedChallenge) -> None:
    first = MixupSignRecoveryAttack().run(small_mixup.public_view(), AttackContext(seed=3))
    second = MixupSignRecoveryAttack().run(small_mixup.public_view(), AttackContext(seed=3))
    np.testing.assert_array_equal(first.decryption, second.decryption)


def test_config_is_checked() -> None:
    with pytest.raises(ConfigError):
        MixupSignRecoveryAttack(MixupSignRecoveryConfig(refine_rounds=-1))


def test_runs_through_the_isolated_runner(tmp_path) -> None:
    challenge_dir = write_challenge(
        tmp_path / "challenge", tiny_encoded("mixup", seed=3, rng="legacy-seeded", n=16, T=8)
    )
    report = run_attack("mixup-sign-recovery", challenge_dir, tmp_path / "out", overrides={"refine_rounds": "3"})
    assert report.succeeded and report.config["refine_rounds"] == 3
    decryption = np.load(tmp_path / "out" / "decryption.npy")
    assert decryption.shape == (128, 32, 32, 3)
    assert np.load(tmp_path / "out" / "recovered.npy").shape == (16, 32, 32, 3)
    scores = score_decryption(load_challenge(challenge_dir), load_key(challenge_dir), decryption).scores
    assert scores.max_ssim > 0.8


@pytest.mark.slow
def test_cifar_mixup_reaches_the_target(tmp_path) -> None:
    from tests.conftest import CIFAR_DIR, needs_shared_data

    if not CIFAR_DIR.is_dir():
        pytest.skip(needs_shared_data.kwargs["reason"])
    from instahide_bench.benchmark.generate import build_challenge

    encoded, _ = build_challenge("mixup", private_source=f"cifar10:{CIFAR_DIR}")
    result = MixupSignRecoveryAttack().run(encoded.public_view(), AttackContext())
    assert score_decryption(encoded.public_view(), encoded.key, result.decryption).scores.max_ssim >= 0.95
