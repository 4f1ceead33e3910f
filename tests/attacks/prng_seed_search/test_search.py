"""Seed ranges, engines and the search: found around the true seed, locally and on Dask; nothing on secure data."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
import torch

from instahide_bench.attacks.prng_seed_search.engines import torch_shards
from instahide_bench.attacks.prng_seed_search.evidence import Evidence
from instahide_bench.attacks.prng_seed_search.ranges import SEED_SPACE, SeedRange, parse_seed_range
from instahide_bench.attacks.prng_seed_search.search import SearchResult, SearchSettings, search_seeds
from instahide_bench.attacks.prng_seed_search.target import SeedTarget
from instahide_bench.benchmark.cli import main
from instahide_bench.core.errors import ConfigError, InstaHideBenchError
from instahide_bench.core.instahide import InstaHideConfig
from tests.attacks.prng_seed_search.conftest import SEED


@pytest.fixture(scope="module")
def target(small_2020) -> SeedTarget:
    return SeedTarget.from_challenge(small_2020.public_view())


def narrowed(radius: int, **values: object) -> SearchSettings:
    return SearchSettings(seed_range=SeedRange(SEED - radius, SEED + radius), **values)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10:20", (10, 20)),
        (":0x10", (0, 16)),
        ("4294967200:", (4294967200, SEED_SPACE)),
        ("0:2**32", (0, SEED_SPACE)),
        (" 1_000 : 2_000 ", (1000, 2000)),
    ],
)
def test_parse_seed_range(text: str, expected: tuple[int, int]) -> None:
    parsed = parse_seed_range(text)
    assert (parsed.start, parsed.stop) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("12", "must look like A:B"),
        ("a:5", "not an integer"),
        ("7:7", "is empty"),
        ("9:3", "is empty"),
        ("-5:3", "leaves the 32-bit seed space"),
        ("0:4294967297", "leaves the 32-bit seed space"),
    ],
)
def test_parse_seed_range_errors_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        parse_seed_range(text)


def test_shards_cover_the_range_in_order() -> None:
    shards = list(SeedRange(5, 30).shards(10))
    assert [(s.start, s.stop) for s in shards] == [(5, 15), (15, 25), (25, 30)]


def test_local_search_finds_the_seed_and_stops_early(target: SeedTarget) -> None:
    result = search_seeds(
        target, SearchSettings(SeedRange(SEED - 1000, SEED + 2**20), "local", shard_size=4096, workers=2)
    )
    assert result.seed == SEED and not result.rejected_candidates
    assert result.seeds_searched <= 1000 + 4096 < result.seed_range.size  # the shards after the seed never ran
    assert result.seeds_per_second > 0 and result.projected_full_space_seconds is not None


def test_dask_local_cluster_gives_the_local_answer(target: SeedTarget) -> None:
    local = search_seeds(target, narrowed(3000, engine="local"))
    on_dask = search_seeds(target, narrowed(3000, engine="dask", workers=2, shard_size=1000))
    assert on_dask.seed == local.seed == SEED
    assert on_dask.engine.startswith("dask LocalCluster, 2 worker")


def test_search_on_a_running_scheduler(target: SeedTarget) -> None:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1, threads_per_worker=2, dashboard_address=None, scheduler_kwargs={"dashboard_address": ":0"}
    ) as cluster:
        address = cluster.scheduler_address
        result = search_seeds(target, narrowed(3000, engine="dask", scheduler=address, shard_size=1000))
    assert result.seed == SEED and result.engine == f"dask {address}, 2 worker thread(s)"
    assert result.cpu_seconds is None  # other machines' CPU time is not ours to measure


def test_unreachable_scheduler_is_a_clear_error(target: SeedTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    from instahide_bench.attacks.common import dask_cluster

    monkeypatch.setattr(dask_cluster, "CONNECT_TIMEOUT_SECONDS", 1)
    with pytest.raises(InstaHideBenchError, match=re.escape("cannot reach the Dask scheduler tcp://127.0.0.1:9")):
        search_seeds(target, narrowed(10, scheduler="tcp://127.0.0.1:9"))


def test_torch_engine_finds_the_seed_on_the_cpu(target: SeedTarget) -> None:
    (result,) = torch_shards([SeedRange(SEED - 300, SEED + 300)], target.evidence, "cpu", 256)
    assert result.candidates.tolist() == [SEED]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_search_finds_the_seed(target: SeedTarget) -> None:
    result = search_seeds(target, narrowed(1 << 22, device="cuda"))
    assert result.seed == SEED and result.engine == "torch on cuda"


def test_secure_challenge_gives_no_seed(secure_encoded) -> None:
    target = SeedTarget.from_challenge(secure_encoded.public_view())
    result = search_seeds(target, SearchSettings(SeedRange(0, 1 << 20), "local"))
    assert result.seed is None and result.seeds_searched == 1 << 20 and not result.rejected_candidates
    assert result.summary().startswith("no seed in [0, 1048576) reproduces label.npy")


def test_false_candidates_are_rejected_by_the_exact_replay(target: SeedTarget) -> None:
    # Boxes widened to 2**21 ulps with one compared row let ~1% of wrong seeds through the fast check.
    cfg = target.config
    loose = Evidence.from_labels(target.labels, cfg.n, cfg.k, cfg.upper, cfg.dom, check_rows=1, tolerance_ulps=1 << 21)
    result = search_seeds(replace(target, evidence=loose), SearchSettings(SeedRange(10_000, 30_000), "local"))
    assert result.seed is None and len(result.rejected_candidates) > 10


def test_search_result_round_trips_through_json(target: SeedTarget) -> None:
    result = search_seeds(target, narrowed(50, engine="local"))
    assert SearchResult.from_json(json.loads(json.dumps(result.to_json()))) == result


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="engine=dask"):
        SearchSettings(engine="local", scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(ConfigError, match="workers"):
        SearchSettings(workers=0)


def test_inside_dataset_labels_cannot_carry_the_check(small_2020) -> None:
    inside = InstaHideConfig(mode="inside", k=4, n=20, T=10, dom=None)
    with pytest.raises(ConfigError, match="two-private-slot"):
        SeedTarget.from_labels(inside, small_2020.labels)


def test_seed_search_command(small_2020_dir, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "seed-search",
        "--challenge",
        str(small_2020_dir),
        "--seed-range",
        f"{SEED - 500}:{SEED + 500}",
        "--engine",
        "local",
    ]
    assert main([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["seed"] == SEED
    assert main([*args[:4], "0:1000", *args[5:]]) == 1
    assert capsys.readouterr().out.startswith("no seed in [0, 1000) reproduces label.npy")
