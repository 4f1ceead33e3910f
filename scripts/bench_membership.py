"""Membership inference across releases: loss-threshold AUC and TPR at low FPR, with intervals.

For each release (an encoder preset), writes a membership challenge from the same private
images (``--members`` of the source, and as many held-out non-members of it), runs an attack
through the isolated runner, scores it, and prints one table with the wall times and the
machine's load (2 shared cores: every figure is comparable only to the load beside it).

    python scripts/bench_membership.py --private cifar10:../shared/data/cifar10-subset \\
        --members 1000 --releases vanilla,random-subset,instahide-inside --out /tmp/bench-membership

Release settings: ``vanilla`` releases all ``--members`` private images; ``random-subset`` and
``dc-*`` release ``--per-class`` images per class made from them; InstaHide presets encrypt each
of them ``--T`` times (``instahide-inside``: k = 4 private images per mixture, no public pool).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from instahide_bench.benchmark.generate import MembershipRequest, generate
from instahide_bench.benchmark.runner import RunOptions, run_attack
from instahide_bench.core.challenge import load_challenge
from instahide_bench.core.membership_scoring import FPR_LEVELS
from instahide_bench.encoders import get_preset


def load_text() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def overrides_for(preset: str, members: int, per_class: int, encryptions: int) -> dict[str, object]:
    fields = get_preset(preset).config.__dataclass_fields__
    out: dict[str, object] = {"n": members}
    if "images_per_class" in fields:
        out["images_per_class"] = per_class
    if "T" in fields:
        out["T"] = encryptions
    return out


def cell(figures: dict, name: str) -> str:
    low, high = figures["intervals"][name]
    dagger = "" if figures["reliable"].get(name, True) else " †"
    return f"{figures[name]:.3f} [{low:.3f}, {high:.3f}]{dagger}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--private", help="private source, e.g. cifar10:../shared/data/cifar10-subset")
    parser.add_argument("--members", type=int, default=1000, help="private images (all are member candidates)")
    parser.add_argument("--releases", default="vanilla,random-subset,instahide-inside", help="comma-separated presets")
    parser.add_argument("--attack", default="loss-threshold")
    parser.add_argument("--epochs", type=int, default=30, help="the attack's training epochs over the release")
    parser.add_argument("--per-class", type=int, default=10, help="release rows per class (random-subset, dc-*)")
    parser.add_argument("--T", type=int, default=2, help="encryptions per private image (InstaHide presets)")
    parser.add_argument("--threads", type=int, default=1, help="the attack's torch threads")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra attack settings")
    parser.add_argument("--out", help="working directory (challenges, runs, results.json)")
    parser.add_argument(
        "--print", nargs="+", metavar="RESULTS", help="only print the table of earlier results.json files"
    )
    parser.add_argument("--data-seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.print:
        results = [item for path in args.print for item in json.loads(Path(path).read_text())]
        print_table(results, "earlier runs: " + ", ".join(args.print))
        return 0
    if not args.private or not args.out:
        parser.error("--private and --out are required (unless --print)")

    import torch

    # This process only generates (dataset condensation trains ConvNets); on 2 shared cores two torch
    # threads spin against the other jobs (docs/encoders.md measured 4x the CPU time), so use one.
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    attack_overrides = {"epochs": str(args.epochs), "threads": str(args.threads)}
    attack_overrides.update(dict(item.split("=", 1) for item in args.set))
    results = []
    for preset in [p.strip() for p in args.releases.split(",") if p.strip()]:
        directory = out / f"challenge-{preset}"
        clock = time.perf_counter()
        generate(
            preset,
            directory,
            overrides=overrides_for(preset, args.members, args.per_class, args.T),
            private_source=args.private,
            data_seed=args.data_seed,
            seed=None if getattr(get_preset(preset).config, "rng", "legacy-seeded") != "legacy-seeded" else 1,
            overwrite=True,
            membership=MembershipRequest(),
        )
        generate_seconds = time.perf_counter() - clock
        load_before = load_text()
        report = run_attack(
            args.attack,
            directory,
            out / f"run-{preset}",
            overrides=attack_overrides,
            options=RunOptions(device="cpu"),
            score=True,
        )
        assert report.scores is not None
        rows = load_challenge(directory).num_rows
        results.append(
            {
                "release": preset,
                "attack": args.attack,
                "attack_config": report.config,
                "rows": rows,
                "generate_seconds": generate_seconds,
                "attack_seconds": report.runtime_seconds,
                "load_before": load_before,
                "load_after": load_text(),
                "scores": report.scores,
                "info": report.info,
            }
        )
        (out / "results.json").write_text(json.dumps(results, indent=2))
        print(f"done {preset}: AUC {report.scores['auc']:.3f} in {report.runtime_seconds:.0f} s", file=sys.stderr)

    print_table(results, f"{args.members} members + {args.members} non-members of {args.private}")
    return 0


def print_table(results: list[dict], title: str) -> None:
    names = ["auc", *FPR_LEVELS, "balanced_accuracy"]
    print(title)
    print(
        "| release | rows | attack settings | " + " | ".join(names) + " | init AUC | attack time | load (1/5/15 min) |"
    )
    print("|---" * (len(names) + 6) + "|")
    for item in results:
        s = item["scores"]
        init = s.get("init")
        init_text = "—" if not init else f"{cell(init, 'auc')} ({init['num_members']})"
        config = item.get("attack_config", {})
        settings = f"{item.get('attack', '?')} {config.get('epochs', '?')} ep, {config.get('augment', '?')}"
        print(
            f"| {item['release']} | {item['rows']} | {settings} | "
            + " | ".join(cell(s, name) for name in names)
            + f" | {init_text} | {item['attack_seconds']:.0f} s | {item['load_before']} -> {item['load_after']} |"
        )
    print("† fewer than 10 false positives allowed at that FPR among the non-members: not a reliable figure")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
