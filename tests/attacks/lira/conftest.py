"""One torch thread for the lira tests (2 shared cores: two threads spin against each other)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import torch_threads


@pytest.fixture(scope="package", autouse=True)
def one_torch_thread() -> Iterator[None]:
    with torch_threads.one_torch_thread():
        yield
