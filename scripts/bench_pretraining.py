#!/usr/bin/env python
"""The defenders' pretraining claim at CPU scale: pretrain on public classes, fine-tune on encodings of the others.

    python scripts/bench_pretraining.py [--private mnist5k | cifar10:PATH] [--public-classes 0-4]
        [--private-classes 5-9] [--preset instahide-inside] [--T 10] [--pretrain-epochs 30]
        [--attacks carlini-graph,learned-inversion] [--n 100] [--out bench-pretraining] [--json FILE]

InstaHide's authors answer the attacks with: pretrain a ResNet-18 on CIFAR-100, then fine-tune
it for 10 epochs on InstaHide encodings of CIFAR-10 (83% accuracy), so that T = 10 encryptions
of each private image suffice where the attacks need more. The proxy here keeps the protocol's
shape at CPU scale: the clean images of the *public* classes (default 0-4) are the public
labelled set; the private images are those of the other classes (5-9), encoded T times (one
epoch per encryption); the test images are the private classes' test split. Three utility runs
(each through ``run_utility``, with the recipe's defaults, small-cnn):

* fine-tuned: pretrained on the public classes, then T epochs on encodings of the private ones;
* from scratch: T epochs on the same encodings, no pretraining;
* the baselines each run trains alongside (the same recipe without encoding).

Beside them, the privacy side at the same T: a challenge of ``--n`` private images of the
private classes, encoded T times by the same preset, attacked by each of ``--attacks`` with
its defaults through the sandboxed runner and scored (Max_SSIM), with the grey baseline. The
attack is the same whether or not the model was pretrained: pretraining only changes how few
encryptions the defender needs.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from instahide_bench.benchmark.generate import generate
from instahide_bench.benchmark.runner import run_attack
from instahide_bench.benchmark.utility import UtilityRequest, default_augmentation, run_utility
from instahide_bench.core.challenge import load_challenge, load_key
from instahide_bench.core.errors import InstaHideBenchError
from instahide_bench.core.scoring import score_decryption
from instahide_bench.core.training import TrainConfig


def with_classes(source: str, classes: str) -> str:
    """``mnist5k`` + ``5-9`` -> ``mnist5k?classes=5-9`` (keeping any options already there)."""
    return f"{source}{'&' if '?' in source else '?'}classes={classes}"


def utility_runs(args: argparse.Namespace, out: Path) -> list[dict[str, object]]:
    private = with_classes(args.private, args.private_classes)
    rows = []
    for label, pretrain in (("fine-tuned", with_classes(args.private, args.public_classes)), ("from scratch", None)):
        config = TrainConfig(
            model=args.model, epochs=args.T, seed=args.seed, lr=args.lr, augment=default_augmentation(private)
        )
        request = UtilityRequest(
            encoder=args.preset,
            overrides={"T": args.T},
            private=private,
            public=args.public,
            train=config,
            pretrain=pretrain,
            pretrain_epochs=args.pretrain_epochs if pretrain else None,
        )
        clock = time.perf_counter()
        result = run_utility(request, out / label.replace(" ", "-"), resume=True)
        row = {
            "run": label,
            "accuracy": result.accuracy,
            "baseline_accuracy": result.baseline_accuracy,
            "pretrain_accuracy": result.pretrain_accuracy,
            "epochs": result.epochs,
            "seconds": time.perf_counter() - clock,
            "curve": [epoch["test_accuracy"] for epoch in result.history],
        }
        rows.append(row)
        print(
            f"  {label:<13} accuracy {result.accuracy:.4f} (baseline {result.baseline_accuracy or float('nan'):.4f}"
            + (f", pretrained model {result.pretrain_accuracy:.4f} on its own classes" if pretrain else "")
            + f") in {row['seconds']:.0f} s",
            flush=True,
        )
    return rows


def attack_runs(args: argparse.Namespace, out: Path) -> list[dict[str, object]]:
    challenge_dir = out / "challenge"
    if not (challenge_dir / "challenge.json").is_file():  # kept: a rerun attacks the same set
        generate(
            args.preset,
            challenge_dir,
            overrides={"n": args.n, "T": args.T},
            private_source=with_classes(args.private, args.private_classes),
            public_source=args.public,
            overwrite=True,
        )
    challenge = load_challenge(challenge_dir)
    key = load_key(challenge_dir, challenge.num_rows)
    grey = challenge.pixels.from_unit(np.full((challenge.num_rows, 32, 32, 3), 0.5, np.float32))
    rows: list[dict[str, object]] = [
        {"attack": "grey", "max_ssim": score_decryption(challenge, key, grey).scores.max_ssim, "seconds": 0.0}
    ]
    for name in filter(None, args.attacks.split(",")):
        clock = time.perf_counter()
        try:
            report = run_attack(name, challenge_dir, out / f"attack-{name}", score=True)
        except InstaHideBenchError as exc:  # e.g. an attack that does not take this preset
            rows.append({"attack": name, "max_ssim": None, "seconds": time.perf_counter() - clock, "error": str(exc)})
            continue
        scores = report.scores or {}
        rows.append({"attack": name, "max_ssim": scores.get("max_ssim"), "seconds": time.perf_counter() - clock})
    for row in rows:
        score = "n/a (" + str(row["error"])[:80] + ")" if row["max_ssim"] is None else f"{row['max_ssim']:.4f}"
        print(f"  {row['attack']:<20} Max_SSIM {score} in {row['seconds']:.0f} s", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--private", default="mnist5k", help="a labelled source with a test split")
    parser.add_argument("--public", default="embedded", help="public pool of cross-dataset presets")
    parser.add_argument("--public-classes", default="0-4", help="pretrained on, clean")
    parser.add_argument("--private-classes", default="5-9", help="encoded, fine-tuned on and tested")
    parser.add_argument("--preset", default="instahide-cross", help="the challenge's form, which the attacks take")
    parser.add_argument("--lr", type=float, default=0.1, help="initial learning rate of every stage (recipe: 0.1)")
    parser.add_argument("--T", type=int, default=10)
    parser.add_argument("--pretrain-epochs", type=int, default=30)
    parser.add_argument("--model", default="small-cnn")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--attacks", default="carlini-graph,learned-inversion")
    parser.add_argument("--n", type=int, default=100, help="private images of the attacked challenge")
    parser.add_argument("--out", default="bench-pretraining")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    out = Path(args.out)
    print(
        f"{args.preset}, T={args.T}: pretrain on {args.private} classes {args.public_classes} "
        f"({args.pretrain_epochs} epochs), fine-tune and test on classes {args.private_classes}",
        flush=True,
    )
    utility = utility_runs(args, out)
    attacks = attack_runs(args, out)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "utility": utility, "attacks": attacks}, indent=2))


if __name__ == "__main__":
    main()
