#!/usr/bin/env python
"""The claim "the attacks do not apply to federated learning", answered end to end.

    python scripts/bench_gradient_chain.py [--preset instahide-cross] [--n 20] [--T 20] [--batch-size 4]
        [--model mlp] [--then carlini-graph,mixup-sign-recovery] [--private SOURCE] [--then-set K=V ...]

An InstaHide client trains with FedSGD on its n private images for T epochs (every image
encoded afresh each epoch), B rows per step, and the server sees every update. For each
release attack X it measures, against the same private images (docs/specification.md §4 Max_SSIM, rows matched
within steps):

* the chain: ``attack gradient-inversion --then X`` (inputs and labels recovered from the
  updates, decoded by X as a derived release);
* X on the directly released encodings of the same rows with their true labels: the chain's
  upper bound (what X gets when the encodings themselves are published, as in the 2020 challenge);
* the grey baseline.

Everything runs through the sandboxed runner; the key is read here only to build the upper
bound's release and to score.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from instahide_bench.benchmark.chain import run_chain, write_derived_release
from instahide_bench.benchmark.generate import GradientRequest, generate
from instahide_bench.benchmark.runner import run_attack
from instahide_bench.core.challenge import load_challenge, load_key
from instahide_bench.core.config import parse_assignments
from instahide_bench.core.scoring import score_decryption


def true_labels(challenge_dir: Path) -> np.ndarray:
    """The fed rows' released labels (sum over private slots of float32 coefficient x one-hot), from the key."""
    challenge = load_challenge(challenge_dir)
    key = load_key(challenge_dir, challenge.num_rows)
    labels = np.zeros((challenge.num_rows, challenge.meta.num_classes), np.float32)
    rows = np.arange(challenge.num_rows)
    for slot in range(key.private_index.shape[1]):
        np.add.at(
            labels, (rows, key.private_labels[key.private_index[:, slot]]), key.coefficients[:, slot].astype(np.float32)
        )
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="instahide-cross")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--T", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--then", default="carlini-graph,mixup-sign-recovery")
    parser.add_argument("--then-set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--private", default="embedded")
    parser.add_argument("--public", default="embedded")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    rows = args.n * args.T
    if rows % args.batch_size:
        raise SystemExit(f"n*T = {rows} is not a multiple of the batch size {args.batch_size}")
    then_overrides = parse_assignments(args.then_set)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-chain-") as scratch:
        root = Path(scratch)
        clock = time.perf_counter()
        request = GradientRequest(batch_size=args.batch_size, steps=rows // args.batch_size, model=args.model)
        challenge_dir, _ = generate(
            args.preset,
            root / "fl",
            overrides={"n": args.n, "T": args.T},
            private_source=args.private,
            public_source=args.public,
            gradients=request,
        )
        generated = time.perf_counter() - clock
        challenge = load_challenge(challenge_dir)
        key = load_key(challenge_dir, challenge.num_rows)
        assert key.inputs is not None
        direct = write_derived_release(challenge, key.inputs, true_labels(challenge_dir), root / "direct")
        grey = challenge.pixels.from_unit(np.full((challenge.num_rows, 32, 32, 3), 0.5, np.float32))
        grey_score = score_decryption(challenge, key, grey).scores.max_ssim
        print(
            f"{args.preset}, n={args.n}, T={args.T}, B={args.batch_size}, {request.steps} steps on {args.model}; "
            f"generated in {generated:.0f} s; grey {grey_score:.4f}",
            flush=True,
        )
        for then in args.then.split(","):
            clock = time.perf_counter()
            chained = run_chain(
                "gradient-inversion",
                then,
                challenge_dir,
                root / f"chain-{then}",
                then_overrides=then_overrides,
                score=True,
            )
            chain_seconds = time.perf_counter() - clock
            clock = time.perf_counter()
            upper = run_attack(then, direct, root / f"direct-{then}", overrides=then_overrides, exclude=[challenge_dir])
            upper_seconds = time.perf_counter() - clock
            upper_score = score_decryption(
                challenge, key, np.load(root / f"direct-{then}" / "decryption.npy")
            ).scores.max_ssim
            scores = chained.scores or {}
            row = {
                "then": then,
                "chain_max_ssim": scores.get("max_ssim"),
                "inputs_ssim": scores.get("inputs_ssim"),
                "direct_max_ssim": upper_score,
                "grey_max_ssim": grey_score,
                "chain_seconds": chain_seconds,
                "direct_seconds": upper_seconds,
                "succeeded": chained.succeeded and upper.succeeded,
            }
            results.append(row)
            print(
                f"  {then:<22} chain {row['chain_max_ssim']:.4f} (inputs SSIM {row['inputs_ssim']:.4f}, "
                f"{chain_seconds:.0f} s)   direct release {upper_score:.4f} ({upper_seconds:.0f} s)   "
                f"chain - grey {row['chain_max_ssim'] - grey_score:+.4f}",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
