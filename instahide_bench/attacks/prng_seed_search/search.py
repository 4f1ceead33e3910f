"""Seed-space search: shard a range, run the fast check on an engine, confirm, stop early.

Every seed that passes the fast check (:mod:`.cpu_check`, :mod:`.torch_check`) is confirmed
with numpy's own generator against all of ``label.npy`` (:meth:`SeedTarget.confirm`); the first
confirmed seed ends the search. Wrong seeds pass the fast check with probability around 1e-19 per seed
(:meth:`Evidence.false_positive_rate`), and none survives the confirmation.

Engines (:mod:`.engines`): ``local`` runs the numba kernel on this machine's cores, or the
torch kernel when the device is a GPU; ``dask`` runs shards as Dask tasks on a new
``LocalCluster`` or on the cluster behind ``scheduler``. A CUDA device without a scheduler
takes the GPU path under either engine: one GPU outruns a CPU LocalCluster many times over.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import psutil

from instahide_bench.attacks.prng_seed_search.engines import (
    ShardResult,
    cpu_shards,
    dask_client,
    dask_shards,
    torch_shards,
    warm_up_workers,
)
from instahide_bench.attacks.prng_seed_search.ranges import SEED_SPACE, SeedRange, parse_seed_range
from instahide_bench.attacks.prng_seed_search.target import SeedTarget
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.progress import progress_bar

logger = logging.getLogger(__name__)

EngineName = Literal["dask", "local"]
ENGINES: tuple[str, ...] = ("dask", "local")
#: Seeds per shard: under a second of one CPU thread, so progress and early stops stay prompt
#: (a running shard cannot be interrupted) while per-task overhead stays negligible.
DEFAULT_SHARD_SIZE = 1 << 22
#: Seeds per torch batch on a GPU (about 3.3 GiB of device memory, see search_block_torch).
DEFAULT_GPU_BLOCK = 1 << 22
#: Seconds between progress lines in the log (the progress bar only shows on a terminal).
LOG_INTERVAL_SECONDS = 30.0
#: False candidates listed in run.json (all of them are counted); a weak check can pass millions.
REJECTED_KEPT = 100

BarFactory = Callable[..., Any]
ShardRunner = Callable[[Iterable[SeedRange]], Generator[ShardResult, None, None]]


@dataclass(frozen=True)
class SearchSettings:
    """Which seeds to search and where."""

    seed_range: SeedRange = field(default_factory=lambda: SeedRange(0, SEED_SPACE))
    engine: EngineName = "dask"
    scheduler: str | None = None
    workers: int | None = None
    shard_size: int = DEFAULT_SHARD_SIZE
    device: str = "cpu"
    gpu_block: int = DEFAULT_GPU_BLOCK

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"workers must be positive, got {self.workers}")
        if self.shard_size < 1 or self.gpu_block < 1:
            raise ConfigError("shard_size and gpu_block must be positive")
        if self.scheduler is not None and self.engine != "dask":
            raise ConfigError("a scheduler address needs engine=dask")

    @classmethod
    def from_text(cls, seed_range: str, **values: Any) -> SearchSettings:
        return cls(seed_range=parse_seed_range(seed_range), **values)

    @property
    def parallelism(self) -> int:
        return self.workers or os.cpu_count() or 1

    @property
    def on_gpu(self) -> bool:
        return self.device.startswith("cuda") and self.scheduler is None


@dataclass(frozen=True)
class SearchResult:
    """The search's answer and what it cost."""

    seed: int | None
    seed_range: SeedRange
    seeds_searched: int
    seconds: float
    startup_seconds: float
    cpu_seconds: float | None
    engine: str
    rejected_candidates: tuple[int, ...] = ()
    rejected_count: int = 0

    @property
    def found(self) -> bool:
        return self.seed is not None

    @property
    def seeds_per_second(self) -> float:
        return self.seeds_searched / self.seconds if self.seconds > 0 else 0.0

    @property
    def projected_full_space_seconds(self) -> float | None:
        """Time for all 2**32 seeds at this search's rate."""
        rate = self.seeds_per_second
        return SEED_SPACE / rate if rate > 0 else None

    def summary(self) -> str:
        rate = f"{self.seeds_per_second / 1e6:.2f} M seeds/s"
        if self.found:
            return f"seed {self.seed} reproduces label.npy ({self.seeds_searched:,} seeds searched, {rate})"
        return f"no seed in {self.seed_range} reproduces label.npy ({self.seeds_searched:,} seeds searched, {rate})"

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "seed_range": [self.seed_range.start, self.seed_range.stop],
            "seeds_searched": self.seeds_searched,
            "search_seconds": self.seconds,
            "startup_seconds": self.startup_seconds,
            "cpu_seconds": self.cpu_seconds,
            "seeds_per_second": self.seeds_per_second,
            "projected_full_space_seconds": self.projected_full_space_seconds,
            "engine": self.engine,
            "rejected_candidates": list(self.rejected_candidates),
            "rejected_candidate_count": self.rejected_count,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SearchResult:
        """Inverse of :meth:`to_json` (for resumed runs)."""
        start, stop = obj["seed_range"]
        return cls(
            obj["seed"],
            SeedRange(int(start), int(stop)),
            int(obj["seeds_searched"]),
            float(obj["search_seconds"]),
            float(obj["startup_seconds"]),
            obj.get("cpu_seconds"),
            str(obj["engine"]),
            tuple(int(seed) for seed in obj.get("rejected_candidates", ())),
            int(obj.get("rejected_candidate_count", len(obj.get("rejected_candidates", ())))),
        )


class RateLog:
    """Logs seeds searched, seeds/s and the ETA every ``interval`` seconds (for non-terminal runs)."""

    def __init__(self, total: int, interval: float = LOG_INTERVAL_SECONDS) -> None:
        self.total, self.interval = total, interval
        self.started = self.last = time.perf_counter()

    def update(self, searched: int) -> None:
        now = time.perf_counter()
        if now - self.last < self.interval:
            return
        self.last = now
        rate = searched / (now - self.started)
        eta = (self.total - searched) / rate if rate > 0 else float("inf")
        logger.info(
            "searched %d of %d seeds (%.1f%%), %.2f M seeds/s, ETA %.0f s",
            searched,
            self.total,
            100 * searched / self.total,
            rate / 1e6,
            eta,
        )


def process_tree_cpu_seconds() -> float:
    """User + system CPU seconds of this process and its live descendants (e.g. Dask workers)."""
    root = psutil.Process()
    total = sum(root.cpu_times()[:2])
    for child in root.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            continue
    return total


@dataclass(frozen=True)
class Engine:
    """An opened engine: what it is, how many shards it runs at once, and the shard runner."""

    description: str
    threads: int
    run: ShardRunner


@contextmanager
def open_engine(settings: SearchSettings, target: SeedTarget) -> Iterator[Engine]:
    """The engine ``settings`` asks for, opened (a Dask cluster is closed on exit).

    Each engine runs the kernel once on one seed first (imports, compiled-code loading), so
    that start-up is timed apart from the search.
    """
    evidence = target.evidence
    if settings.on_gpu:
        if settings.engine == "dask":
            logger.info(
                "device %s: searching on the GPU rather than a CPU LocalCluster (pass a scheduler to use Dask)",
                settings.device,
            )
        device, block = settings.device, settings.gpu_block
        list(torch_shards([SeedRange(0, 1)], evidence, device, block))
        yield Engine(f"torch on {device}", 1, lambda shards: torch_shards(shards, evidence, device, block))
    elif settings.engine == "local":
        threads = settings.parallelism
        list(cpu_shards([SeedRange(0, 1)], evidence, 1))
        yield Engine(f"local numba, {threads} thread(s)", threads, lambda shards: cpu_shards(shards, evidence, threads))
    else:
        with dask_client(settings.scheduler, settings.parallelism) as client:
            warm_up_workers(client, evidence)
            threads = sum(client.nthreads().values())
            yield Engine(
                f"dask {settings.scheduler or 'LocalCluster'}, {threads} worker thread(s)",
                threads,
                lambda shards: dask_shards(shards, evidence, client),
            )


def shard_size_for(settings: SearchSettings, threads: int) -> int:
    """Shards no larger than ``shard_size`` (on a GPU: at least one batch), and small enough
    that each of the engine's ``threads`` gets one."""
    if settings.on_gpu:
        return max(settings.shard_size, settings.gpu_block)
    return max(1, min(settings.shard_size, -(-settings.seed_range.size // threads)))


def search_seeds(target: SeedTarget, settings: SearchSettings, bar: BarFactory = progress_bar) -> SearchResult:
    """Search ``settings.seed_range`` for the seed that reproduces ``target``'s labels."""
    seed_range = settings.seed_range
    clock = time.perf_counter()
    seed: int | None = None
    searched = 0
    rejected: list[int] = []
    with open_engine(settings, target) as engine:
        startup = time.perf_counter() - clock
        logger.info("searching seeds %s (%d seeds) with %s", seed_range, seed_range.size, engine.description)
        cpu_before, clock = process_tree_cpu_seconds(), time.perf_counter()
        results = engine.run(seed_range.shards(shard_size_for(settings, engine.threads)))
        rate_log = RateLog(seed_range.size)
        try:
            with bar(desc="seed search", total=seed_range.size, unit="seed", unit_scale=True) as progress:
                for result in results:
                    searched += result.shard.size
                    progress.update(result.shard.size)
                    rate_log.update(searched)
                    seed = _first_confirmed(result.candidates, target, rejected)
                    if seed is not None:
                        break
        finally:
            results.close()
        seconds = time.perf_counter() - clock
        cpu = None if settings.scheduler else process_tree_cpu_seconds() - cpu_before
    outcome = SearchResult(
        seed,
        seed_range,
        searched,
        seconds,
        startup,
        cpu,
        engine.description,
        tuple(rejected[:REJECTED_KEPT]),
        len(rejected),
    )
    logger.info("%s in %.1f s", outcome.summary(), seconds)
    if rejected:
        logger.info("%d seeds passed the fast check but not numpy's exact replay (false candidates)", len(rejected))
    return outcome


def _first_confirmed(candidates: Iterable[int], target: SeedTarget, rejected: list[int]) -> int | None:
    """The first candidate that numpy's own generator confirms; the others go to ``rejected``."""
    for candidate in sorted(int(c) for c in candidates):
        if target.confirm(candidate):
            return candidate
        logger.debug("seed %d passed the fast check but not the exact replay (a false candidate)", candidate)
        rejected.append(candidate)
    return None


__all__ = [
    "DEFAULT_GPU_BLOCK",
    "DEFAULT_SHARD_SIZE",
    "ENGINES",
    "Engine",
    "SearchResult",
    "SearchSettings",
    "open_engine",
    "process_tree_cpu_seconds",
    "search_seeds",
]
