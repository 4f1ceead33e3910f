"""Where the fast seed check runs: this machine's cores, a GPU, or Dask workers.

Every engine is a generator over shards that yields each shard's candidates (seeds that pass
the fast check) as the shard finishes; closing the generator stops the work. The caller
confirms candidates and closes the generator at the first confirmed seed, so a Dask search
cancels its queued shards (Dask keeps at most a small window of shards in flight).
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from instahide_bench.attacks.common.dask_cluster import dask_client, local_cluster_client, remote_client
from instahide_bench.attacks.prng_seed_search.cpu_check import search_block
from instahide_bench.attacks.prng_seed_search.evidence import Evidence
from instahide_bench.attacks.prng_seed_search.ranges import SeedRange
from instahide_bench.attacks.prng_seed_search.torch_check import search_block_torch

if TYPE_CHECKING:
    from distributed import Client

logger = logging.getLogger(__name__)

#: Shards each Dask worker thread has queued: enough to hide scheduling latency, few enough
#: that an early stop leaves little work to cancel.
SHARDS_IN_FLIGHT_PER_THREAD = 2
#: Seconds to wait for a remote scheduler before giving up.


@dataclass(frozen=True)
class ShardResult:
    """One finished shard: its seeds and those that passed the fast check."""

    shard: SeedRange
    candidates: np.ndarray


def cpu_shards(shards: Iterable[SeedRange], evidence: Evidence, threads: int) -> Generator[ShardResult, None, None]:
    """The numba kernel on this machine, ``threads`` threads per shard, shards in order."""
    for shard in shards:
        yield ShardResult(shard, search_block(shard.start, shard.stop, evidence, threads=threads))


def torch_shards(
    shards: Iterable[SeedRange], evidence: Evidence, device: str, block_size: int
) -> Generator[ShardResult, None, None]:
    """The torch kernel on ``device`` (a GPU), shards in order."""
    for shard in shards:
        yield ShardResult(shard, search_block_torch(shard.start, shard.stop, evidence, device, block_size=block_size))


def check_shard(start: int, stop: int, evidence: Evidence) -> tuple[int, int, np.ndarray]:
    """A Dask task: one shard on one worker thread (the numba kernel releases the GIL)."""
    return start, stop, search_block(start, stop, evidence, threads=1)


def dask_shards(shards: Iterable[SeedRange], evidence: Evidence, client: Client) -> Generator[ShardResult, None, None]:
    """Shards as Dask tasks, yielded as they complete; closing the generator cancels the rest."""
    from distributed import as_completed

    threads = max(1, sum(client.nthreads().values()))
    pending = iter(shards)
    evidence_future = client.scatter(evidence, broadcast=True, hash=False)
    outstanding = set()
    completed = as_completed()

    def submit_next() -> None:
        shard = next(pending, None)
        if shard is not None:
            future = client.submit(check_shard, shard.start, shard.stop, evidence_future, pure=False)
            outstanding.add(future)
            completed.add(future)

    try:
        for _ in range(SHARDS_IN_FLIGHT_PER_THREAD * threads):
            submit_next()
        for future in completed:
            start, stop, candidates = future.result()
            outstanding.discard(future)
            submit_next()
            yield ShardResult(SeedRange(start, stop), candidates)
    finally:
        if outstanding:
            logger.debug("cancelling %d queued shards", len(outstanding))
            client.cancel(list(outstanding))


def warm_up_workers(client: Client, evidence: Evidence) -> None:
    """Import the kernel and load its compiled code on every worker, so start-up is not billed to the search."""
    client.run(check_shard, 0, 1, evidence)


__all__ = [
    "ShardResult",
    "check_shard",
    "cpu_shards",
    "dask_client",
    "dask_shards",
    "local_cluster_client",
    "remote_client",
    "torch_shards",
    "warm_up_workers",
]
