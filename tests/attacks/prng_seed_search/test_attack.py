"""The prng-seed-search attack: breaks a small challenge-2020 set, fails honestly elsewhere, runs isolated."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from instahide_bench.api import abs_rescaled
from instahide_bench.attacks import ATTACKS, AttackContext
from instahide_bench.attacks.prng_seed_search import PrngSeedSearchAttack, PrngSeedSearchConfig
from instahide_bench.benchmark.runner import run_attack
from instahide_bench.core.config import apply_overrides
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.instahide import DRAW_ORDERS
from instahide_bench.core.scoring import score_decryption
from tests.attacks.prng_seed_search.conftest import SEED
from tests.attacks.prng_seed_search.made_elsewhere import made_elsewhere
from tests.conftest import CIFAR_DIR, IMAGENET_DIR, needs_shared_data, tiny_encoded


def attack(seed_range: str, **values: object) -> PrngSeedSearchAttack:
    return PrngSeedSearchAttack(
        apply_overrides(PrngSeedSearchConfig(), {"seed_range": seed_range, "engine": "local", **values})
    )


def test_registered() -> None:
    assert ATTACKS.get("prng-seed-search") is PrngSeedSearchAttack


def test_breaks_a_small_challenge(small_2020) -> None:
    result = attack(f"{SEED - 2000}:{SEED + 2000}").run(small_2020.public_view(), AttackContext())
    assert result.succeeded and result.info["seed"] == SEED, result.message
    assert np.array_equal(result.assignment, small_2020.key.private_index[:, :2])
    assert result.recovered.shape == small_2020.key.private.shape
    assert np.array_equal(result.decryption, result.recovered[result.assignment[:, 0]])
    assert result.info["version_warnings"] == [] and result.info["relative_residual"] < 1e-5
    scores = score_decryption(small_2020.public_view(), small_2020.key, result.decryption).scores
    assert scores.max_ssim > 0.99 and scores.min_l2 < 1e-6


@pytest.mark.parametrize("order", DRAW_ORDERS, ids=[order.name for order in DRAW_ORDERS])
def test_breaks_challenges_made_elsewhere_in_each_known_draw_order(order) -> None:
    """End to end on an independent generator's challenge: seed, draw order, then the private images."""
    public, private = made_elsewhere(SEED, authors_order=order.public_first, base_seed_draws=order.loader_seed_draws)
    result = attack(f"{SEED - 500}:{SEED + 500}").run(public, AttackContext())
    assert result.succeeded and result.info["seed"] == SEED, result.message
    assert result.info["draw_order"] == order.name and order.name in result.message
    assert result.info["label_mismatches_by_draw_order"][order.name] == 0
    assert result.info["relative_residual"] < 1e-5
    np.testing.assert_allclose(result.recovered, private, atol=1e-4)


def test_secure_preset_gives_no_seed(secure_encoded) -> None:
    result = attack("0:100000").run(secure_encoded.public_view(), AttackContext())
    assert not result.succeeded and result.info["seed"] is None and result.info["rejected_candidates"] == []
    assert result.message == "no seed in [0, 100000) reproduces label.npy (challenge.json says rng=secure)"
    assert np.array_equal(result.decryption, abs_rescaled(secure_encoded.encryption, secure_encoded.pixels))


def test_inside_dataset_challenge_is_declined_not_crashed() -> None:
    encoded = tiny_encoded("mixup", rng="legacy-seeded", seed=5)
    result = attack("0:10").run(encoded.public_view(), AttackContext())
    assert not result.succeeded and result.message.startswith("no seed search: the seed check reads two-private-slot")


def test_version_mismatch_is_reported(small_2020) -> None:
    public = small_2020.public_view()
    made_elsewhere = replace(public, meta=replace(public.meta, versions={"numpy": "1.19.2", "torch": "1.7.0"}))
    result = attack(f"{SEED - 10}:{SEED + 10}").run(made_elsewhere, AttackContext())
    assert result.succeeded and len(result.info["version_warnings"]) == 2
    assert result.message.endswith("2 version warning(s)")


@pytest.mark.parametrize(
    ("drift", "problem"),
    [
        ({"private": lambda replay: np.roll(replay.private, 1, axis=0)}, "no known draw order replays label.npy"),
        ({"mask": lambda replay: replay.mask[::-1]}, "replayed masks do not fit the encryptions"),
    ],
)
def test_other_torch_streams_are_declined(small_2020, monkeypatch: pytest.MonkeyPatch, drift, problem) -> None:
    from instahide_bench.attacks.prng_seed_search import replay as replay_module

    true_replay = replay_module.replay_seed

    def drifted(seed, config, order):  # what another torch release might draw for the same seed
        replay = true_replay(seed, config, order)
        return replace(replay, **{name: change(replay) for name, change in drift.items()})

    monkeypatch.setattr(replay_module, "replay_seed", drifted)
    result = attack(f"{SEED - 10}:{SEED + 10}").run(small_2020.public_view(), AttackContext())
    assert not result.succeeded and result.info["seed"] == SEED and problem in result.message


def test_resume_reuses_the_cached_search(small_2020, tmp_path) -> None:
    context = AttackContext(workdir=tmp_path)
    first = attack(f"{SEED - 50}:{SEED + 50}").run(small_2020.public_view(), context)
    again = attack(f"{SEED - 50}:{SEED + 50}").run(
        small_2020.public_view(), AttackContext(workdir=tmp_path, resume=True)
    )
    assert again.info["search_seconds"] == first.info["search_seconds"] and again.info["seed"] == SEED


@pytest.mark.parametrize(
    "overrides",
    [
        {"seed_range": "9"},
        {"engine": "spark"},
        {"check_rows": 0},
        {"engine": "local", "scheduler": "tcp://127.0.0.1:8786"},
    ],
)
def test_bad_config_is_refused_up_front(overrides: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        PrngSeedSearchAttack(apply_overrides(PrngSeedSearchConfig(), overrides))


def test_end_to_end_through_the_isolated_runner(small_2020_dir, tmp_path) -> None:
    report = run_attack(
        "prng-seed-search",
        small_2020_dir,
        tmp_path / "out",
        overrides={"seed_range": f"{SEED - 100}:{SEED + 100}", "engine": "local"},
        score=True,
    )
    assert report.succeeded and report.info["seed"] == SEED
    assert report.scores is not None and report.scores["max_ssim"] >= 0.99
    assert (tmp_path / "out" / "recovered.npy").exists() and (tmp_path / "out" / "assignment.npy").exists()


@pytest.mark.slow
def test_dask_workers_run_under_the_runners_key_guard(small_2020_dir, tmp_path) -> None:
    report = run_attack(
        "prng-seed-search",
        small_2020_dir,
        tmp_path / "out",
        overrides={"seed_range": f"{SEED - 5000}:{SEED + 5000}", "workers": 2, "shard_size": 2000},
    )
    assert report.succeeded and report.info["seed"] == SEED and report.info["engine"].startswith("dask")


@pytest.mark.slow
@needs_shared_data
def test_full_size_challenge_2020_from_cifar_and_imagenet(tmp_path) -> None:
    from instahide_bench.benchmark.generate import generate

    seed = 3_141_592_653
    path, _ = generate(
        "challenge-2020",
        tmp_path / "c2020",
        private_source=f"cifar10:{CIFAR_DIR}",
        public_source=f"folder:{IMAGENET_DIR}",
        seed=seed,
    )
    report = run_attack(
        "prng-seed-search",
        path,
        tmp_path / "out",
        overrides={"seed_range": f"{seed - 2**22}:{seed + 2**22}", "workers": 2},
        score=True,
    )
    assert report.succeeded and report.info["seed"] == seed
    assert report.scores is not None and report.scores["max_ssim"] >= 0.98
    assert report.info["solve_seconds"] >= 0  # (its speed: scripts/bench_prng_attack.py, not asserted)


def test_two_image_mixup_is_searched_without_a_crash() -> None:
    """k = 2 has no unseen coefficients: the false-positive estimate is skipped, not fatal."""
    from instahide_bench.attacks import ATTACKS, AttackContext
    from tests.conftest import tiny_encoded

    encoded = tiny_encoded("mixup", k=2)
    result = ATTACKS.get("prng-seed-search")(
        ATTACKS.get("prng-seed-search").Config(seed_range="0:4096", engine="local")
    ).run(encoded.public_view(), AttackContext())
    assert not result.succeeded and "no seed in" in result.message
    assert result.info["false_positive_rate"] is None
