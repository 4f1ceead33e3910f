"""Shared fixtures: tiny challenges built from real photographs bundled with scikit-image."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from instahide_bench.attacks import ATTACKS
from instahide_bench.benchmark.generate import build_challenge
from instahide_bench.core.challenge import EncodedChallenge, write_challenge
from instahide_bench.encoders import ENCODERS
from tests import torch_threads

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The real CIFAR-10 / ImageNet samples shipped beside a checkout (absent on a fresh machine).
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
CIFAR_DIR = SHARED_DATA / "cifar10-subset" / "cifar-10-batches-py"
IMAGENET_DIR = SHARED_DATA / "imagenet-samples"

needs_shared_data = pytest.mark.skipif(
    not CIFAR_DIR.is_dir() or not IMAGENET_DIR.is_dir(), reason="../shared/data is not present beside this checkout"
)

#: Small sizes every preset accepts: n private images, T epochs, a small public pool.
TINY = {"n": 12, "T": 3, "pool_size": 24}


def tiny_encoded(preset: str, seed: int | None = None, **overrides: object) -> EncodedChallenge:
    """A tiny challenge of ``preset`` from the embedded photographs (seed only for legacy presets)."""
    params = {**TINY, **overrides}
    from instahide_bench.encoders import get_preset

    if get_preset(preset).config.rng != "legacy-seeded" and "rng" not in overrides:
        seed = None
    encoded, _ = build_challenge(preset, overrides=params, seed=seed)
    return encoded


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread_per_worker() -> Iterator[None]:
    """Under pytest-xdist each worker process gets one torch thread: the workers already fill the cores,
    and more threads than cores spin against each other (tests/torch_threads.py)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield
        return
    with torch_threads.one_torch_thread():
        yield


@pytest.fixture(scope="session", autouse=True)
def isolated_patch_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tests never read or fill the user's patch cache."""
    path = tmp_path_factory.mktemp("patch-cache")
    patcher = pytest.MonkeyPatch()
    patcher.setenv("INSTAHIDE_BENCH_CACHE", str(path))
    yield path
    patcher.undo()


@pytest.fixture(autouse=True)
def no_plugin_left_registered() -> Iterator[None]:
    """Fail the test that leaves an attack or encoder registered (or removes one).

    A test that registers a throwaway plugin wraps it in ``ATTACKS.scoped()`` /
    ``ENCODERS.scoped()``; a leak would show up later as an unknown plugin in a listing or a
    matrix run. Comparing the names costs a sorted set per registry (the entry points are
    read once, by the first test).
    """
    before = {"attacks": ATTACKS.names(), "encoders": ENCODERS.names()}
    yield
    after = {"attacks": ATTACKS.names(), "encoders": ENCODERS.names()}
    for kind in before:
        added = sorted(set(after[kind]) - set(before[kind]))
        removed = sorted(set(before[kind]) - set(after[kind]))
        assert not added and not removed, (
            f"the test changed the global {kind} registry (added {added}, removed {removed}); "
            "register throwaway plugins inside ATTACKS.scoped() / ENCODERS.scoped()"
        )


@pytest.fixture(scope="session")
def tiny_challenge_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny challenge-2020 directory (n=12, T=3) written once per test session."""
    path = tmp_path_factory.mktemp("challenges") / "tiny-2020"
    write_challenge(path, tiny_encoded("challenge-2020", seed=20201))
    return path
