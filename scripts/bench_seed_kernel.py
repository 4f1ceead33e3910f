#!/usr/bin/env python
"""Seeds per second of the prng-seed-search fast check, and the projected time for 2**32 seeds.

    python scripts/bench_seed_kernel.py [--seeds 16777216] [--torch-seeds 1048576]
                                        [--torch-block 1048576] [--repeat 3] [--fp-seeds 0]
                                        [--compare-with DIR] [--runs-per-process 2]

1. Builds challenge-2020 labels (n=100, k=6, upper 0.65, dom 0.3, 10 classes) for a seed.
2. Warms up (numba's cache, torch), then times, side by side in one run, the numba kernel with
   1 and 2 threads on ``--seeds`` seeds and the torch path on the CPU (1 thread and torch's
   default) on ``--torch-seeds``; prints the best and the median of ``--repeat`` runs, the
   projected time for all 2**32 seeds and the load average. On a shared machine the wall
   clock understates the kernel, so each line also gives the rate its CPU time implies on
   dedicated cores (seeds x threads / CPU seconds).
3. Checks that the integer phase is vectorised: compiles a fresh copy of it and counts the
   32-bit multiplies on 512-bit registers (``vpmulld ... %zmm``) in its assembly.
4. With ``--fp-seeds N``: runs N wrong seeds through the fast check with one compared row
   (typical labels and labels whose rows 0-2 are one-valued at 1-ulp boxes, typical labels at
   4096-ulp boxes) and prints the passes next to the analytic estimate
   (``Evidence.false_positive_rate``) and the default check's expected false candidates.

With ``--compare-with DIR`` (another checkout of this project, e.g. one from before a change)
it instead times that checkout's kernel ("old") against this one's ("new") in the same run, for
the numba path with 1 and 2 threads and the torch path on the CPU with 1 thread (skipped with
``--torch-seeds 0``). Both trees name the package ``instahide_bench``, so the runs go in fresh
subprocesses with ``PYTHONPATH`` set to their tree, each keeping the best of
``--runs-per-process`` runs; for each of ``--repeat`` repeats and each path, old and new go back
to back, the order flipping every repeat, so both see the same load on a shared machine. It
prints seeds/s for old and new (best wall clock; CPU time in brackets), the new/old ratio of the
best wall-clock rates, the median (and range) of the ratios of the back-to-back pairs and the
ratio of the CPU-time rates, and compares fresh compiles of the integer phase in both trees (the
assembly, symbol names aside, and its ``vpmulld`` counts). Each tree's numba cache lives in the
temporary directory (the other checkout is never written to); the first run compiles (minutes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
import torch

try:
    from instahide_bench.attacks.prng_seed_search import mt19937 as integer_phase
    from instahide_bench.attacks.prng_seed_search.cpu_check import search_block
    from instahide_bench.attacks.prng_seed_search.evidence import Evidence
    from instahide_bench.attacks.prng_seed_search.reference import synthetic_labels
    from instahide_bench.attacks.prng_seed_search.torch_check import search_block_torch
except ImportError:  # a checkout from before the kernel's split (an "old" run of --compare-with)
    from instahide_bench.attacks.prng_seed_search import kernel as integer_phase
    from instahide_bench.attacks.prng_seed_search.kernel import (
        Evidence,
        search_block,
        search_block_torch,
        synthetic_labels,
    )

N, K, UPPER, DOM, CLASSES = 100, 6, 0.65, 0.3, 10
ALL_SEEDS = 2**32


def challenge_labels(seed: int, same_class_rows: int = 0) -> np.ndarray:
    """Two epochs of challenge-2020 labels for ``seed``; the first rows optionally one-valued."""
    return synthetic_labels(seed, N, K, UPPER, DOM, CLASSES, epochs=2, same_class_rows=tuple(range(same_class_rows)))


def timed(run, repeat: int) -> list[tuple[float, float]]:
    """(wall seconds, process CPU seconds) of each of ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    return times


def report(name: str, seeds: int, times: list[tuple[float, float]], threads: int) -> float:
    """Print wall-clock rates and the rate the run's CPU time implies on dedicated cores."""
    walls = [wall for wall, _ in times]
    best, median = min(walls), statistics.median(walls)
    cpu = min(cpu for _, cpu in times)
    rate = seeds / best
    dedicated = seeds * threads / cpu
    print(
        f"{name:<22} {seeds:>11,d} seeds  best {rate / 1e6:6.2f} M/s  median {seeds / median / 1e6:6.2f} M/s"
        f"  -> 2**32 in {ALL_SEEDS / rate / 60:7.1f} min   | per CPU time: {dedicated / 1e6:6.2f} M/s"
        f" -> 2**32 in {ALL_SEEDS / dedicated / 60:7.1f} min"
    )
    return rate


def integer_phase_assembly() -> str:
    """The assembly of a fresh (uncached) compile of the integer phase."""
    fresh = numba.njit(error_model="numpy")(integer_phase._fill_uniforms.py_func)
    fill, _ = integer_phase._workspace(64, 48, K)
    fresh(fill)
    return next(iter(fresh.inspect_asm().values()))


def vectorisation_check(assembly: str | None = None) -> str:
    """Count AVX-512 32-bit multiplies in a fresh (uncached) compile of the integer phase."""
    assembly = integer_phase_assembly() if assembly is None else assembly
    zmm = len(re.findall(r"vpmulld\s+[^\n]*%zmm", assembly))
    ymm = len(re.findall(r"vpmulld\s+[^\n]*%ymm", assembly))
    scalar = len(re.findall(r"imull\s+\$1812433253", assembly))
    return (
        f"integer phase: {zmm} vpmulld on zmm (16 seeds each), {ymm} on ymm (8 seeds each; LLVM prefers 256-bit"
        f" vectors on some CPUs), {scalar} scalar imull (loop remainders)"
    )


def assembly_digest(assembly: str) -> str:
    """A hash of the assembly without what spells the module: symbol names (and the sizes of the
    strings that hold them), comments and debug directives."""
    text = re.sub(r"_ZN[\w$.]+", "SYMBOL", assembly)
    kept = [
        line
        for line in text.splitlines()
        if not line.strip().startswith(("#", ".file", ".loc", ".ident"))
        and not (line.strip().startswith(".size") and "SYMBOL" in line)
    ]
    return hashlib.sha256("\n".join(kept).encode()).hexdigest()[:16]


def false_positive_check(seed: int, seeds: int) -> None:
    """Wrong seeds that pass one compared row, measured and estimated, on two label sets."""
    start = 1 << 30
    settings = (("typical labels", 0, 1), ("rows 0-2 one-valued", 3, 1), ("typical labels", 0, 1 << 12))
    for name, same_class, tolerance in settings:
        labels = challenge_labels(seed, same_class_rows=same_class)
        evidence = Evidence.from_labels(labels, N, K, UPPER, DOM, check_rows=1, tolerance_ulps=tolerance)
        estimate = evidence.false_positive_rate()
        began = time.perf_counter()
        passed = search_block(start, start + seeds, evidence).size
        took = time.perf_counter() - began
        print(
            f"{name:<20} check_rows=1, {tolerance:>4} ulp: {passed:>6} of {seeds:,d} wrong seeds passed, "
            f"estimate {estimate * seeds:9.3g} ({-np.log2(estimate):4.1f} bits; {took:.0f} s)"
        )
        default = Evidence.from_labels(labels, N, K, UPPER, DOM)
        print(
            f"{'':<20} default check (2 rows, 1 ulp): {default.false_positive_rate():.3g} per seed, "
            f"{default.false_positive_rate() * ALL_SEEDS:.3g} false candidates expected over 2**32"
        )


# --------------------------------------------------------------------------------------------
# --compare-with: the kernels of two checkouts, side by side
# --------------------------------------------------------------------------------------------

#: (label, kind, threads) of each timed path; torch's is left out with --torch-seeds 0.
COMPARED_PATHS = (
    ("numba, 1 thread", "numba", 1),
    ("numba, 2 threads", "numba", 2),
    ("torch CPU, 1 thread", "torch", 1),
)
START = 3_000_000_000


def worker(kind: str, threads: int, seeds: int, seed: int, torch_block: int, runs: int) -> None:
    """Timed runs in this process (a --compare-with subprocess); prints one JSON line.

    ``kind`` "numba" or "torch": a warm-up (cache load, thread start), then ``runs`` timed runs
    on ``seeds`` seeds, of which the best wall and CPU times are kept; "assembly": a fresh
    compile of the integer phase.
    """
    if kind == "assembly":
        assembly = integer_phase_assembly()
        print(json.dumps({"digest": assembly_digest(assembly), "vectorisation": vectorisation_check(assembly)}))
        return
    evidence = Evidence.from_labels(challenge_labels(seed), N, K, UPPER, DOM)
    if kind == "numba":
        search_block(0, 1 << 16, evidence, threads=threads)

        def run() -> object:
            return search_block(START, START + seeds, evidence, threads=threads)

    else:
        torch.set_num_threads(threads)
        search_block_torch(0, 1000, evidence)

        def run() -> object:
            return search_block_torch(START, START + seeds, evidence, block_size=torch_block)

    times = timed(run, runs)
    print(json.dumps({"wall": min(wall for wall, _ in times), "cpu": min(cpu for _, cpu in times)}))


def run_worker(tree: Path, cache: Path, options: argparse.Namespace, kind: str, threads: int, seeds: int) -> dict:
    """Run :func:`worker` in a subprocess that imports ``instahide_bench`` from ``tree``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))
    env["NUMBA_CACHE_DIR"] = str(cache)
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--worker-threads", str(threads)]
    command += ["--seeds", str(seeds), "--seed", str(options.seed), "--torch-block", str(options.torch_block)]
    command += ["--repeat", str(options.runs_per_process)]
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the {kind} run on {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(options: argparse.Namespace) -> None:
    """Time the kernel of the checkout ``options.compare_with`` ("old") against this one ("new")."""
    trees = {"old": Path(options.compare_with).resolve(), "new": Path(__file__).resolve().parents[1]}
    if not (trees["old"] / "instahide_bench").is_dir():
        raise SystemExit(f"{trees['old']} is not a checkout of this project (no instahide_bench/)")
    caches = {
        name: Path(tempfile.gettempdir())
        / "bench_seed_kernel-numba-cache"
        / f"{name}-{hashlib.sha1(str(tree).encode()).hexdigest()[:12]}"
        for name, tree in trees.items()
    }
    for name, tree in trees.items():
        print(f"{name}: {tree} (numba cache {caches[name]})")
    paths = [path for path in COMPARED_PATHS if path[1] == "numba" or options.torch_seeds]
    sizes = {"numba": options.seeds, "torch": options.torch_seeds}

    began = time.perf_counter()
    compiled = {}
    for name, tree in trees.items():  # compiles or loads each tree's kernels, once
        compiled[name] = run_worker(tree, caches[name], options, "assembly", 1, 0)
        for _, kind, threads in paths:
            run_worker(tree, caches[name], options, kind, threads, 1 << 16)
    print(f"warm-up (numba compile or cache load in both trees, torch): {time.perf_counter() - began:.1f} s")

    runs: dict[tuple[str, str], list[dict]] = {(label, name): [] for label, _, _ in paths for name in trees}
    for repeat in range(options.repeat):
        order = ("old", "new") if repeat % 2 == 0 else ("new", "old")
        for label, kind, threads in paths:
            for name in order:
                runs[label, name].append(run_worker(trees[name], caches[name], options, kind, threads, sizes[kind]))

    print(
        f"seeds/s, best of {options.repeat} subprocesses x {options.runs_per_process} runs (in brackets: by CPU time,"
        " seeds x threads / CPU seconds); old and new back to back"
    )
    for label, kind, threads in paths:
        seeds = sizes[kind]
        best = {name: seeds / min(run["wall"] for run in runs[label, name]) for name in trees}
        by_cpu = {name: seeds * threads / min(run["cpu"] for run in runs[label, name]) for name in trees}
        pairs = sorted(old["wall"] / new["wall"] for old, new in zip(runs[label, "old"], runs[label, "new"]))
        print(
            f"{label:<20} {seeds:>11,d} seeds  old {best['old'] / 1e6:6.2f} M/s ({by_cpu['old'] / 1e6:6.2f})"
            f"  new {best['new'] / 1e6:6.2f} M/s ({by_cpu['new'] / 1e6:6.2f})"
            f"  new/old {best['new'] / best['old']:.3f} best, {statistics.median(pairs):.3f} median pair"
            f" ({pairs[0]:.2f}-{pairs[-1]:.2f}), {by_cpu['new'] / by_cpu['old']:.3f} CPU time"
        )
    same = compiled["old"]["digest"] == compiled["new"]["digest"]
    print(
        f"integer phase, fresh compiles: assembly {'identical' if same else 'DIFFERENT'} in old and new"
        f" (symbol names aside); old {compiled['old']['vectorisation']}; new {compiled['new']['vectorisation']}"
    )
    print(f"load average now {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=1 << 24)
    parser.add_argument("--torch-seeds", type=int, default=1 << 20)
    parser.add_argument("--torch-block", type=int, default=1 << 20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fp-seeds", type=int, default=0)
    parser.add_argument("--seed", type=int, default=2_020_11_13)
    parser.add_argument("--compare-with", metavar="DIR", help="time this checkout's kernel against the one in DIR")
    parser.add_argument(
        "--runs-per-process", type=int, default=2, help="with --compare-with: timed runs per subprocess (best kept)"
    )
    parser.add_argument("--worker", choices=("numba", "torch", "assembly"), help=argparse.SUPPRESS)
    parser.add_argument("--worker-threads", type=int, default=1, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        worker(options.worker, options.worker_threads, options.seeds, options.seed, options.torch_block, options.repeat)
        return

    print(f"cpus: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} (the machine may be shared)")
    try:
        with open("/proc/self/autogroup") as handle:
            group = handle.read().split()[0]
        with open("/proc/sys/kernel/sched_autogroup_enabled") as handle:
            enabled = handle.read().strip() == "1"
    except OSError:
        enabled = False
    if enabled:
        print(
            f"scheduler autogroups on (this session: {group}): busy sessions share the CPUs fairly, so while "
            "others run, a second thread adds little wall-clock speed; see the CPU-time column"
        )
    if options.compare_with:
        compare(options)
        return
    evidence = Evidence.from_labels(challenge_labels(options.seed), N, K, UPPER, DOM)
    began = time.perf_counter()
    search_block(0, 1000, evidence)
    search_block_torch(0, 1000, evidence)
    print(f"warm-up (numba cache load or compile, torch): {time.perf_counter() - began:.1f} s")

    start = START
    rates = {}
    for threads in (1, 2):
        times = timed(
            lambda threads=threads: search_block(start, start + options.seeds, evidence, threads=threads),
            options.repeat,
        )
        rates[threads] = report(f"numba, {threads} thread(s)", options.seeds, times, threads)
    torch_threads = torch.get_num_threads()
    for threads in sorted({1, torch_threads}):
        torch.set_num_threads(threads)
        times = timed(
            lambda: search_block_torch(start, start + options.torch_seeds, evidence, block_size=options.torch_block),
            options.repeat,
        )
        report(f"torch CPU, {threads} thread(s)", options.torch_seeds, times, threads)
    torch.set_num_threads(torch_threads)
    print(
        f"numba 2-thread speed-up {rates[2] / rates[1]:.2f}x; target 7.2 M/s (2**32 in 10 min) with 2 threads: "
        f"{'reached' if rates[2] >= 7.2e6 else 'NOT reached'} on the wall clock; "
        f"load average now {os.getloadavg()[0]:.1f}"
    )
    print(vectorisation_check())
    if options.fp_seeds:
        false_positive_check(options.seed, options.fp_seeds)


if __name__ == "__main__":
    main()
