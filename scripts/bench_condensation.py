#!/usr/bin/env python
"""Releases on real CIFAR-10: condensation time, identity-attack scores, and the utility of each release.

    python scripts/bench_condensation.py --cifar ../shared/data/cifar10-subset/cifar-10-batches-py \
        [--presets dc-real,dc-noise,random-subset] [--n 1000] [--seed 0] [--threads 2] \
        [--epochs 30] [--batch-size 32] [--set iterations=200 ...] [--no-utility] [--out DIR]

For each preset, in one process:

1. ``generate``: the release is made from ``--n`` private images of the training batches (the
   ones ``generate --private cifar10:PATH --set n=N`` picks with data seed 0: about n/10 per class)
   and written as a challenge; the encode time (wall) and the process's CPU time are printed with
   the load average (``uptime``) before and after, and the torch thread count.
2. ``attack identity`` (in process, the same attack class the runner runs) scored with the
   docs/specification.md §4 metric against the key: Max/Mean SSIM, Min/Mean L2 (one slot per row, so max = mean).
3. ``utility --encoder PRESET --private cifar10:PATH --rows N --no-baseline`` (the library call
   behind it): small-cnn trained on the release (made again from the same N images, with the
   utility run's own seed) for ``--epochs`` epochs, clean test accuracy on ``test_batch``.

The figures go to stdout as a table; utility.json files stay under ``--out``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from instahide_bench.attacks.baselines import IdentityAttack
from instahide_bench.benchmark.generate import generate
from instahide_bench.benchmark.utility import UtilityRequest, run_utility
from instahide_bench.core.attack import AttackContext
from instahide_bench.core.challenge import load_challenge, load_key
from instahide_bench.core.config import parse_assignments
from instahide_bench.core.scoring import score_decryption
from instahide_bench.core.training import TrainConfig


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}/{five:.2f}/{fifteen:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cifar", required=True, help="cifar-10-batches-py directory")
    parser.add_argument("--presets", default="dc-real,dc-noise,random-subset")
    parser.add_argument("--n", type=int, default=1000, help="private images (about n/10 per class)")
    parser.add_argument("--seed", type=int, default=0, help="encoder seed of the scored release")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the process is this script's)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="preset override, repeatable")
    parser.add_argument("--no-utility", action="store_true")
    parser.add_argument("--out", default="runs/bench-condensation")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    source = f"cifar10:{args.cifar}"
    print(
        f"CIFAR-10 {args.cifar}: n={args.n} private images, "
        f"torch threads {torch.get_num_threads()}, cpu count {os.cpu_count()}"
    )
    rows = []
    for preset in args.presets.split(","):
        overrides = {"n": str(args.n), **parse_assignments(args.overrides)}
        load_before = load_average()
        clock, cpu = time.perf_counter(), time.process_time()
        path, times = generate(
            preset, out / preset, overrides=overrides, private_source=source, seed=args.seed, overwrite=True
        )
        wall, cpu = time.perf_counter() - clock, time.process_time() - cpu
        load_after = load_average()
        challenge, key = load_challenge(path), load_key(path)
        counts = np.bincount(key.private_labels, minlength=challenge.meta.num_classes)
        decryption = IdentityAttack().run(challenge, AttackContext(seed=0)).decryption
        scores = score_decryption(challenge, key, decryption).scores
        print(
            f"{preset}: {challenge.num_rows} release rows from {len(key.private)} private images "
            f"({counts.min()}-{counts.max()} per class); encode {times.encode:.1f} s (generate {wall:.1f} s, "
            f"{cpu:.1f} CPU s), "
            f"load average {load_before} before, {load_after} after; identity Max_SSIM {scores.max_ssim:.4f} "
            f"Mean_SSIM {scores.mean_ssim:.4f} Min_L2 {scores.min_l2:.4f} Mean_L2 {scores.mean_l2:.4f}",
            flush=True,
        )
        accuracy = float("nan")
        if not args.no_utility:
            config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, device="cpu", seed=0)
            request = UtilityRequest(
                preset, overrides=overrides, private=source, rows=args.n, baseline=False, train=config
            )
            clock = time.perf_counter()
            result = run_utility(request, out / f"{preset}-utility")
            accuracy = result.accuracy
            print(
                f"{preset}: utility accuracy {accuracy:.4f} on {result.test_rows} test images "
                f"({args.epochs} epochs, batch {args.batch_size}, {time.perf_counter() - clock:.1f} s with the "
                f"release remade), load average {load_average()}",
                flush=True,
            )
        rows.append((preset, times.encode, cpu, load_before, load_after, scores, accuracy))
    print()
    print(
        "| preset | encode s | generate CPU s | load before / after | Max_SSIM | Mean_SSIM | Min_L2 | Mean_L2 "
        "| utility accuracy |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for preset, seconds, cpu_seconds, before, after, s, accuracy in rows:
        print(
            f"| {preset} | {seconds:.1f} | {cpu_seconds:.1f} | {before} / {after} | {s.max_ssim:.4f} | "
            f"{s.mean_ssim:.4f} | {s.min_l2:.4f} | {s.mean_l2:.4f} | {accuracy:.4f} |"
        )


if __name__ == "__main__":
    main()
