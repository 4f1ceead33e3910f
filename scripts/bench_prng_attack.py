#!/usr/bin/env python
"""The prng-seed-search attack on a 5000-row challenge-2020 set: search speed, solve time, scores.

    python scripts/bench_prng_attack.py [--challenge DIR | --seed S [--draw-order NAME] [--original-layout]]
                                        [--range-bits 26] [--workers 2] [--skip-throughput]
                                        [--full-space | --slice-bits 28]

1. Uses ``--challenge DIR`` or generates a challenge-2020 set (n=100, T=50, E=5000) with seed
   ``--seed``: CIFAR-10 + ImageNet-folder patches when ../shared/data is beside the checkout,
   the embedded photographs otherwise. The true seed is read from the key, for this report only.
2. Throughput, side by side on the same ``2**range-bits`` seeds just past the true seed (no
   early stop): the local engine (numba threads) and Dask (a LocalCluster of ``--workers``
   processes). Prints wall time, CPU time of the process tree, seeds/s on the wall clock and
   per CPU-second, and the projected time for all 2**32 seeds (wall clock on this machine, and
   on ``--workers`` dedicated cores from the CPU time: the machine may be shared).
3. The attack itself (in this process, default Dask engine) on ``2**range-bits`` seeds centred
   on the true seed: seed found, search and solve times, and the four metrics (docs/specification.md §4).
   ``--draw-order`` makes the challenge in another known draw order (e.g. ``authors-code``, the
   authors' training code's) and ``--original-layout`` saves it without challenge.json, as the
   2020 release was: the attack is told neither, and reports the order it recognised.
4. ``--full-space`` searches all 2**32 seeds with Dask; ``--slice-bits B`` a slice of 2**B seeds
   ending at the true seed, projected to 2**32 (for machines where the whole space takes long).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from instahide_bench.attacks import AttackContext
from instahide_bench.attacks.prng_seed_search import (
    SEED_SPACE,
    PrngSeedSearchAttack,
    PrngSeedSearchConfig,
    SearchResult,
    SearchSettings,
    SeedRange,
    SeedTarget,
    search_seeds,
)
from instahide_bench.benchmark.generate import generate
from instahide_bench.core.challenge import load_challenge, load_key
from instahide_bench.core.instahide import DRAW_ORDERS
from instahide_bench.core.scoring import score_decryption

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CIFAR_DIR = SHARED_DATA / "cifar10-subset" / "cifar-10-batches-py"
IMAGENET_DIR = SHARED_DATA / "imagenet-samples"


def make_challenge(out: Path, seed: int, draw_order: str = "spec-3.1", original_layout: bool = False) -> Path:
    if CIFAR_DIR.is_dir() and IMAGENET_DIR.is_dir():
        sources = {"private_source": f"cifar10:{CIFAR_DIR}", "public_source": f"folder:{IMAGENET_DIR}"}
    else:
        print("(../shared/data not found: using the embedded photographs)")
        sources = {}
    clock = time.perf_counter()
    path, _ = generate(
        "challenge-2020",
        out,
        overrides={"draw_order": draw_order},
        seed=seed,
        overwrite=True,
        original_layout=original_layout,
        **sources,
    )
    layout = "original layout (no challenge.json)" if original_layout else "with challenge.json"
    print(
        f"generated {path} ({sources.get('private_source', 'embedded')}, draw order {draw_order}, {layout}) "
        f"in {time.perf_counter() - clock:.1f} s"
    )
    return path


def report(name: str, result: SearchResult, workers: int) -> None:
    """One line: wall and CPU time, rates, and projections for 2**32 seeds."""
    wall_rate = result.seeds_per_second
    line = (
        f"{name:<34} {result.seeds_searched:>13,d} seeds  {result.seconds:7.1f} s wall "
        f"(+{result.startup_seconds:.1f} s start-up)  {wall_rate / 1e6:6.2f} M/s -> 2**32 in "
        f"{SEED_SPACE / wall_rate / 60:6.1f} min"
    )
    if result.cpu_seconds:
        per_cpu = result.seeds_searched / result.cpu_seconds
        line += (
            f" | {result.cpu_seconds:7.1f} CPU s, {per_cpu / 1e6:5.2f} M/CPU-s -> 2**32 on {workers} dedicated "
            f"cores in {SEED_SPACE / per_cpu / workers / 60:6.1f} min"
        )
    print(line + f"  load avg {os.getloadavg()[0]:.1f}")


def throughput(target: SeedTarget, true_seed: int, bits: int, workers: int) -> None:
    first = min(true_seed + 1, SEED_SPACE - (1 << bits))
    seeds = SeedRange(first, first + (1 << bits))
    for engine in ("local", "dask"):
        result = search_seeds(target, SearchSettings(seeds, engine, workers=workers))
        assert result.seed is None or result.seed == true_seed
        report(f"{engine} ({workers} {'threads' if engine == 'local' else 'workers'})", result, workers)


def attack_and_score(path: Path, true_seed: int, bits: int, workers: int) -> None:
    half = 1 << (bits - 1)
    start = max(0, true_seed - half)
    config = PrngSeedSearchConfig(seed_range=f"{start}:{min(SEED_SPACE, start + 2 * half)}", workers=workers)
    challenge = load_challenge(path)
    clock = time.perf_counter()
    result = PrngSeedSearchAttack(config).run(challenge, AttackContext())
    total = time.perf_counter() - clock
    info = result.info
    print(f"attack (dask, {config.seed_range}): {result.message}; {total:.1f} s in all")
    print(
        f"  draw order: {info.get('draw_order')}; label rows not replayed, per order tried: "
        f"{info.get('label_mismatches_by_draw_order')}"
    )
    print(
        f"  seed found: {'yes' if info.get('seed') == true_seed else 'NO'} ({info.get('seed')}); "
        f"search {info['search_seconds']:.1f} s, solve {info.get('solve_seconds', float('nan')):.1f} s, "
        f"{info.get('unknowns')} unknowns, relative residual {info.get('relative_residual', float('nan')):.1e}"
    )
    scores = score_decryption(challenge, load_key(path), result.decryption).scores
    print(
        f"  Max_SSIM {scores.max_ssim:.4f}  Mean_SSIM {scores.mean_ssim:.4f}  Min_L2 {scores.min_l2:.6f}  "
        f"Mean_L2 {scores.mean_l2:.4f}"
    )


def big_search(target: SeedTarget, true_seed: int, bits: int | None, workers: int) -> None:
    seeds = SeedRange(0, SEED_SPACE) if bits is None else SeedRange(max(0, true_seed + 1 - (1 << bits)), true_seed + 1)
    name = "full space" if bits is None else f"slice of 2**{bits} ending at the seed"
    cpu_clock, clock = time.process_time(), time.perf_counter()
    result = search_seeds(target, SearchSettings(seeds, "dask", workers=workers))
    print(
        f"{name}: {result.summary()}; {time.perf_counter() - clock:.1f} s in all "
        f"(this process: {time.process_time() - cpu_clock:.1f} CPU s)"
    )
    report(f"dask {name}", result, workers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--challenge", type=Path, default=None, help="an existing challenge-2020 directory (with key)")
    parser.add_argument("--seed", type=int, default=3_141_592_653, help="encoder seed when generating")
    parser.add_argument("--range-bits", type=int, default=26, help="log2 of the narrowed ranges' size")
    parser.add_argument("--workers", type=int, default=2, help="threads / Dask workers")
    parser.add_argument(
        "--draw-order",
        default="spec-3.1",
        choices=[order.name for order in DRAW_ORDERS],
        help="draw order of the generated challenge (the attack is not told)",
    )
    parser.add_argument("--original-layout", action="store_true", help="generate without challenge.json")
    parser.add_argument("--skip-throughput", action="store_true", help="only the attack (step 3)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--full-space", action="store_true", help="also search all 2**32 seeds (Dask)")
    group.add_argument("--slice-bits", type=int, default=None, help="also search 2**B seeds ending at the seed (Dask)")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-prng-") as scratch:
        path = options.challenge or make_challenge(
            Path(scratch) / "c2020", options.seed, options.draw_order, options.original_layout
        )
        true_seed = load_key(path).seed
        if true_seed is None:
            raise SystemExit(f"{path} has no seed in its key: not a legacy-seeded challenge")
        target = SeedTarget.from_challenge(load_challenge(path))
        print(
            f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}; evidence false-positive rate "
            f"{target.false_positive_rate():.2g} per seed"
        )
        if not options.skip_throughput:
            throughput(target, true_seed, options.range_bits, options.workers)
        attack_and_score(path, true_seed, options.range_bits, options.workers)
        if options.full_space or options.slice_bits is not None:
            big_search(target, true_seed, None if options.full_space else options.slice_bits, options.workers)


if __name__ == "__main__":
    main()
