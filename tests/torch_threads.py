"""One torch thread for a block of test code, restored afterwards.

On 2 shared cores two torch threads spin against each other (measured in the carlini tests:
100 colour-fit steps 1.5 s on one thread, 19 s on two under load); the attack worker sets the
same from an attack's ``threads`` setting, so in-process tests mirror it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def one_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
