"""Batches produced ahead in a thread: same order, errors raised where they are consumed, nothing left running."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from instahide_bench.core.training.prefetch import prefetched


def test_items_come_in_order_whatever_the_depth() -> None:
    for depth in (0, 1, 3):
        assert list(prefetched(iter(range(50)), depth)) == list(range(50))


def test_an_error_of_the_producer_is_raised_in_the_consumer() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("bad batch")

    items = prefetched(failing())
    assert next(items) == 1
    with pytest.raises(ValueError, match="bad batch"):
        next(items)


def test_stopping_early_stops_the_thread() -> None:
    produced = []

    def endless() -> Iterator[int]:
        count = 0
        while True:
            produced.append(count)
            yield count
            count += 1

    for item in prefetched(endless(), depth=2):
        if item == 3:
            break
    time.sleep(0.3)
    assert not [t for t in threading.enumerate() if t.name == "batch-prefetch"]
    assert len(produced) <= 3 + 2 + 2  # at most depth ahead, plus the one being put
