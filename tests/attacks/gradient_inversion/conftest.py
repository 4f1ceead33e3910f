"""One torch thread for the gradient-inversion tests (two spin against each other on 2 busy cores)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import torch_threads


@pytest.fixture(scope="package", autouse=True)
def one_torch_thread() -> Iterator[None]:
    with torch_threads.one_torch_thread():
        yield
