"""Produce the next batches in a background thread while the model trains on the current one.

Re-encoding every epoch (augmenting, mixing, masking) is numpy work that releases the GIL, as
the model's forward and backward passes do in torch: overlapping the two hides most of the
encoding's cost (``scripts/bench_utility.py throughput`` measures it against a plain torch loop).
The order of the batches, and so every result, is the same as without the thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


def prefetched(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """``items`` in order, the next ``depth`` produced ahead in a daemon thread; its errors re-raised here.

    Closing the iterator early (a ``break``, an exception in the consumer) stops the thread after
    at most one more item.
    """
    if depth < 1:
        yield from items
        return
    ahead: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        ahead.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ahead.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            ahead.put(exc)

    worker = threading.Thread(target=produce, name="batch-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = ahead.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while worker.is_alive():
            try:
                ahead.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.1)


__all__ = ["prefetched"]
