"""``seed-search``: only the seed search of ``prng-seed-search``, on a challenge's public files."""

from __future__ import annotations

import argparse

from instahide_bench.benchmark.cli._options import COUNT, print_json, whole_number


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    search = subparsers.add_parser(
        "seed-search",
        help="search the 32-bit seed of a legacy-seeded challenge (public files only)",
        description="Find the seed whose numpy RandomState stream reproduces label.npy (docs/specification.md §3.1), "
        "on this machine's cores, a GPU, or a Dask cluster. Prints the confirmed seed or 'no seed in [A, B)'; "
        "exits 0 when a seed was found, 1 when none was.",
    )
    search.add_argument("--challenge", required=True, help="challenge directory (only its public files are read)")
    search.add_argument(
        "--seed-range",
        default=None,
        metavar="A:B",
        help="seeds A .. B-1 (default: all 2**32; either side may be empty)",
    )
    search.add_argument(
        "--engine",
        choices=("dask", "local"),
        default="dask",
        help="dask: shards as Dask tasks (default); local: threads of this process",
    )
    search.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="a running Dask scheduler (default: start a LocalCluster)",
    )
    search.add_argument(
        "--workers",
        type=whole_number(1, 4096),
        default=None,
        help="LocalCluster workers or local threads (default: all cores)",
    )
    search.add_argument("--shard-size", type=COUNT, default=None, help="seeds per shard / Dask task")
    search.add_argument(
        "--check-rows", type=whole_number(1, 10**6), default=None, help="label rows the fast check compares (default 2)"
    )
    search.add_argument("--device", default="auto", help="auto (a CUDA GPU when present), cpu, cuda, cuda:N")
    search.add_argument("--json", action="store_true", help="print the result as JSON")
    search.set_defaults(func=run_seed_search)


def run_seed_search(args: argparse.Namespace) -> int:
    from instahide_bench.attacks.prng_seed_search import PrngSeedSearchConfig, SeedTarget, search_seeds
    from instahide_bench.benchmark.runner import resolve_device
    from instahide_bench.core.challenge import load_challenge
    from instahide_bench.core.config import apply_overrides

    options = {
        "seed_range": args.seed_range,
        "engine": args.engine,
        "scheduler": args.scheduler,
        "workers": args.workers,
        "shard_size": args.shard_size,
        "check_rows": args.check_rows,
    }
    config = apply_overrides(PrngSeedSearchConfig(), {k: v for k, v in options.items() if v is not None})
    config.validate()
    challenge = load_challenge(args.challenge)
    target = SeedTarget.from_challenge(challenge, config.check_rows)
    result = search_seeds(target, config.search_settings(resolve_device(args.device)))
    if args.json:
        print_json(
            {
                "challenge_id": challenge.meta.challenge_id,
                **result.to_json(),
                "false_positive_rate": target.false_positive_rate(),
            }
        )
        return 0 if result.found else 1
    print(result.summary())
    projected = result.projected_full_space_seconds
    cpu = "" if result.cpu_seconds is None else f", {result.cpu_seconds:.1f} CPU s"
    print(
        f"  engine: {result.engine}; {result.seeds_searched:,} seeds in {result.seconds:.1f} s{cpu} "
        f"(+{result.startup_seconds:.1f} s start-up): {result.seeds_per_second / 1e6:.2f} M seeds/s"
    )
    if projected is not None:
        print(f"  at this rate all 2**32 seeds take {projected / 60:.1f} min")
    if result.rejected_candidates:
        print(
            f"  {len(result.rejected_candidates)} false candidate(s) passed the fast check and failed the exact "
            f"replay: {list(result.rejected_candidates)}"
        )
    return 0 if result.found else 1
