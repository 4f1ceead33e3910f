"""Fixtures of the release encoders' tests: a tiny labelled private set and one torch thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from instahide_bench.core.data import parse_source
from instahide_bench.core.data.base import ImageSet
from tests import torch_threads

#: Private images of the tiny release problems (the embedded photographs: 8 classes, >= 3 each at seed 0).
TINY_N = 40


@pytest.fixture(scope="session")
def tiny_private() -> ImageSet:
    """40 tiles of the embedded photographs (one class per photograph), loaded once."""
    return parse_source("embedded", "private").load(TINY_N, 0)


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """One torch thread: on 2 shared cores two threads spin against each other; restored afterwards."""
    with torch_threads.one_torch_thread():
        yield
