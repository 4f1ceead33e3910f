"""A tiny challenge-2020 set from the embedded photographs, and cheap learned-inversion settings.

Tests that read the key use it only to judge what the attack produced, never as its input.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from instahide_bench.core.challenge import EncodedChallenge, write_challenge
from tests import torch_threads
from tests.conftest import tiny_encoded

#: n=12 private tiles, T=4 epochs (E=48 rows), a 60-patch public pool.
TINY_SET = {"n": 12, "T": 4, "pool_size": 60}
SEED = 5
#: Whole-attack settings that run in a few seconds on one thread (quality is not the point here).
FAST = {"aux_images": 10, "aux_T": 3, "steps": 15, "width": 4, "batch": 8, "threads": 1}


@pytest.fixture(scope="package")
def tiny_set() -> EncodedChallenge:
    return tiny_encoded("challenge-2020", seed=SEED, **TINY_SET)


@pytest.fixture(scope="package")
def tiny_dir(tiny_set: EncodedChallenge, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("learned-inversion") / "tiny-2020"
    write_challenge(path, tiny_set)
    return path


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One torch thread (what the worker process sets from FAST's ``threads``): on 2 shared cores two
    threads spin against each other; restored afterwards."""
    with torch_threads.one_torch_thread():
        yield
