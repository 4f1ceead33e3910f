"""A Dask client for attacks whose work splits into independent tasks: a running scheduler, or a new LocalCluster.

Inside the attack runner's sandbox a LocalCluster lives on the attack's private loopback, and its
worker processes inherit the sandbox; a remote scheduler is reachable only when the user set its
address (an ``Endpoint`` field), and its workers run outside the sandbox (docs/isolation.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from instahide_bench.core.errors import InstaHideBenchError
from instahide_bench.core.logs import quiet_logger

if TYPE_CHECKING:
    from distributed import Client

logger = logging.getLogger(__name__)

#: How long to wait for a remote scheduler and its first worker (seconds).
CONNECT_TIMEOUT_SECONDS = 30


@contextmanager
def dask_client(scheduler: str | None, workers: int) -> Iterator[Client]:
    """A client of ``scheduler`` (tcp://HOST:PORT), or of a new LocalCluster of ``workers`` processes."""
    with quiet_logger("distributed", logging.WARNING):
        if scheduler:
            with remote_client(scheduler) as client:
                yield client
        else:
            with local_cluster_client(workers) as client:
                yield client


@contextmanager
def remote_client(scheduler: str) -> Iterator[Client]:
    """A client of a running scheduler with at least one worker; the cluster stays up afterwards.

    Its workers need instahide-bench installed; they receive the evidence, never files.
    """
    from distributed import Client

    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_SECONDS)
    except OSError as exc:
        raise InstaHideBenchError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
    with client:
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_SECONDS)
        except TimeoutError:
            raise InstaHideBenchError(
                f"the Dask scheduler {scheduler} has no workers (waited {CONNECT_TIMEOUT_SECONDS}"
                f" s); start some with `dask worker {scheduler}`"
            ) from None
        logger.info("connected to Dask scheduler %s (%d worker threads)", scheduler, sum(client.nthreads().values()))
        yield client


@contextmanager
def local_cluster_client(workers: int) -> Iterator[Client]:
    """A client of a new LocalCluster of single-threaded worker processes, closed afterwards.

    The workers are Python subprocesses: inside the attack runner they inherit its key guard
    (PYTHONPATH/sitecustomize). No dashboard; the scheduler's HTTP endpoint takes a free port
    (several clusters may run at once). Workers log errors only: cancelling running shards at
    an early stop is expected.
    """
    from distributed import Client, LocalCluster

    started = time.perf_counter()
    worker_logs = logging.DEBUG if logger.isEnabledFor(logging.DEBUG) else logging.ERROR
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},
            silence_logs=worker_logs,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(workers)
        logger.info("started a Dask LocalCluster of %d workers in %.1f s", workers, time.perf_counter() - started)
        yield client


__all__ = ["CONNECT_TIMEOUT_SECONDS", "dask_client", "local_cluster_client", "remote_client"]
