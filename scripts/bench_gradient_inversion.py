#!/usr/bin/env python
"""Gradient inversion per client encoding, batch size and model: what a FedSGD server recovers.

    python scripts/bench_gradient_inversion.py [--presets vanilla,mixup,instahide-inside,instahide-cross]
        [--batch-sizes 1,4,16] [--models small-cnn,small-cnn/eval,mlp] [--steps 2] [--iterations 1000]
        [--private embedded] [--json OUT.json]

For every combination it generates a gradient challenge (``generate --gradients``; n = 16
private images, ``--steps`` updates of B rows; ``MODEL/eval`` runs the client's BatchNorm on
running statistics instead of batch statistics), runs ``gradient-inversion`` through the
sandboxed runner, and prints stage 1 (recovered inputs against the fed rows: SSIM, PSNR over
each row's range), stage 2 (the attack's own row-wise decode against the private images:
docs/specification.md §4 Max_SSIM), the grey baseline (a mid-grey decryption, the floor of Max_SSIM), and the
attack's seconds per step. Rows within a step are matched to the fed rows before scoring.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from instahide_bench.benchmark.generate import GradientRequest, generate
from instahide_bench.benchmark.runner import RunOptions, run_attack
from instahide_bench.core.challenge import load_challenge, load_key
from instahide_bench.core.scoring import score_decryption


def grey_max_ssim(challenge_dir: Path) -> float:
    challenge = load_challenge(challenge_dir)
    grey = challenge.pixels.from_unit(np.full((challenge.num_rows, 32, 32, 3), 0.5, np.float32))
    return score_decryption(challenge, load_key(challenge_dir, challenge.num_rows), grey).scores.max_ssim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default="vanilla,mixup,instahide-inside,instahide-cross")
    parser.add_argument("--batch-sizes", default="1,4,16")
    parser.add_argument("--models", default="small-cnn,small-cnn/eval,mlp")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--private", default="embedded")
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args()
    rows = []
    print(
        f"{'preset':<18} {'B':>3} {'model':<15} {'in SSIM':>8} {'in PSNR':>8} {'Max_SSIM':>9} {'grey':>6} {'s/step':>7}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-gi-") as scratch:
        root = Path(scratch)
        for preset in args.presets.split(","):
            for batch in map(int, args.batch_sizes.split(",")):
                for model_spec in args.models.split(","):
                    model, _, mode = model_spec.partition("/")
                    label = f"{preset}-{batch}-{model}-{mode or 'train'}"
                    request = GradientRequest(
                        batch_size=batch, steps=args.steps, model=model, batchnorm=mode or "train"
                    )
                    challenge, _ = generate(
                        preset,
                        root / label,
                        overrides={"n": args.n},
                        private_source=args.private,
                        public_source="embedded",
                        gradients=request,
                    )
                    clock = time.perf_counter()
                    report = run_attack(
                        "gradient-inversion",
                        challenge,
                        root / f"{label}-out",
                        overrides={"iterations": args.iterations},
                        options=RunOptions(),
                        score=True,
                    )
                    wall = time.perf_counter() - clock
                    scores = report.scores or {}
                    row = {
                        "preset": preset,
                        "batch_size": batch,
                        "model": model,
                        "batchnorm": mode or "train",
                        "steps": args.steps,
                        "method": report.info.get("method"),
                        "inputs_ssim": scores.get("inputs_ssim"),
                        "inputs_psnr": scores.get("inputs_psnr"),
                        "max_ssim": scores.get("max_ssim"),
                        "grey_max_ssim": grey_max_ssim(challenge),
                        "seconds_per_step": report.info.get("seconds_per_step"),
                        "wall_seconds": wall,
                    }
                    rows.append(row)
                    print(
                        f"{preset:<18} {batch:>3} {model_spec:<15} {row['inputs_ssim']:8.3f} {row['inputs_psnr']:8.2f} "
                        f"{row['max_ssim']:9.3f} {row['grey_max_ssim']:6.3f} {row['seconds_per_step']:7.1f}",
                        flush=True,
                    )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
