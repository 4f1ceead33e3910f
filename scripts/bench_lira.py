"""LiRA (offline and online) against several releases of the same private images: AUC and TPR at
low FPR with intervals, the shadows' wall time and the machine's load.

For each release (an encoder preset) a membership challenge is written from ``--members`` private
images of ``--private`` (all of them candidates, with as many held-out non-members of the same
source); then ``lira`` runs through the isolated runner, offline first and online second in the
same work directory, so that the online run reuses the target model from the cache. Releases run
``--jobs`` at a time (each run is one process; 2 shared cores: keep it at 1 or 2).

    python scripts/bench_lira.py --private cifar10:../shared/data/cifar10-subset/cifar-10-batches-py \\
        --aux 'cifar10:../shared/data/cifar10-subset/cifar-10-batches-py?split=test' --out /tmp/bench-lira

The defaults are the scale that fits 30 minutes on 2 CPU cores (100 members, 8 shadows per
variant, 15 epochs); on a GPU use ``--shadows 16`` or more and the recipe's full epochs.
Release settings: ``vanilla`` releases all members; ``random-subset`` and ``dc-*`` release
``--per-class`` images per class made from them (``dc-*`` with ``--dc-iterations`` steps); InstaHide
presets encrypt each member ``--T`` times.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

from instahide_bench.benchmark.generate import MembershipRequest, generate
from instahide_bench.benchmark.runner import RunOptions, run_attack
from instahide_bench.core.challenge import load_challenge
from instahide_bench.core.membership_scoring import FPR_LEVELS
from instahide_bench.encoders import get_preset


def load_text() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def overrides_for(preset: str, args: argparse.Namespace) -> dict[str, object]:
    fields = get_preset(preset).config.__dataclass_fields__
    out: dict[str, object] = {"n": args.members}
    if "images_per_class" in fields:
        out["images_per_class"] = args.per_class
    if "iterations" in fields:
        out["iterations"] = args.dc_iterations
    if "T" in fields:
        out["T"] = args.T
    return out


def cell(figures: dict[str, Any], name: str) -> str:
    low, high = figures["intervals"][name]
    dagger = "" if figures["reliable"].get(name, True) else " †"
    return f"{figures[name]:.3f} [{low:.2f}, {high:.2f}]{dagger}"


def one_release(preset: str, args: argparse.Namespace, out: Path) -> list[dict[str, Any]]:
    directory = out / f"challenge-{preset}"
    clock = time.perf_counter()
    if not (args.keep_challenges and (directory / "challenge.json").is_file()):
        generate(
            preset,
            directory,
            overrides=overrides_for(preset, args),
            private_source=args.private,
            data_seed=args.data_seed,
            seed=None if getattr(get_preset(preset).config, "rng", "legacy-seeded") != "legacy-seeded" else 1,
            overwrite=True,
            membership=MembershipRequest(),
        )
    generate_seconds = time.perf_counter() - clock
    rows = load_challenge(directory).num_rows
    settings = {
        "shadows": args.shadows,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "aux": args.aux,
        "threads": args.threads,
        **dict(item.split("=", 1) for item in args.set),
    }
    results = []
    for variant in args.variants.split(","):
        load_before = load_text()
        started = time.perf_counter()
        report = run_attack(
            "lira",
            directory,
            out / f"run-{preset}",  # one work directory: the online run reuses the offline run's target
            overrides={**settings, "variant": variant},
            options=RunOptions(device=args.device, resume=True),
            score=True,
        )
        assert report.scores is not None
        results.append(
            {
                "release": preset,
                "variant": variant,
                "rows": rows,
                "generate_seconds": generate_seconds,
                "attack_seconds": report.runtime_seconds,
                "wall_seconds": time.perf_counter() - started,
                "load_before": load_before,
                "load_after": load_text(),
                "scores": report.scores,
                "info": report.info,
            }
        )
        print(
            f"done {preset} {variant}: AUC {report.scores['auc']:.3f} in {report.runtime_seconds:.0f} s",
            file=sys.stderr,
        )
    return results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--private", required=True, help="private source, e.g. cifar10:PATH (train split)")
    parser.add_argument("--aux", required=True, help="the shadows' auxiliary source, e.g. 'cifar10:PATH?split=test'")
    parser.add_argument("--members", type=int, default=100, help="private images (all are member candidates)")
    parser.add_argument("--releases", default="vanilla,random-subset,dc-real,instahide-inside", help="presets")
    parser.add_argument("--variants", default="offline,online", help="lira variants, in this order")
    parser.add_argument("--shadows", type=int, default=8, help="shadow models per variant (lira's CPU default)")
    parser.add_argument("--epochs", type=int, default=15, help="training epochs (target and shadows)")
    parser.add_argument("--batch-size", type=int, default=32, help="rows per SGD step (small releases: small batches)")
    parser.add_argument("--per-class", type=int, default=5, help="release rows per class (random-subset, dc-*)")
    parser.add_argument("--dc-iterations", type=int, default=50, help="distribution-matching steps (dc-*)")
    parser.add_argument("--T", type=int, default=2, help="encryptions per private image (InstaHide presets)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of each attack process")
    parser.add_argument("--jobs", type=int, default=2, help="releases run at the same time")
    parser.add_argument("--device", default="cpu", help="the attack's device (auto: a GPU when present)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra lira settings")
    parser.add_argument("--out", required=True, help="working directory (challenges, runs, results.json)")
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument(
        "--keep-challenges",
        action="store_true",
        help="reuse challenges already under --out (a rerun then takes finished shadows from the runs' caches)",
    )
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # generation (dataset condensation) runs in this process: one thread, as the attack processes, since
    # two threads spin against each other on 2 shared cores (docs/encoders.md measured 626 s against 82 s)
    torch.set_num_threads(args.threads)
    releases = [p.strip() for p in args.releases.split(",") if p.strip()]
    load_start, clock = load_text(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        per_release = list(pool.map(lambda preset: one_release(preset, args, out), releases))
    total = time.perf_counter() - clock
    results = [item for items in per_release for item in items]
    (out / "results.json").write_text(json.dumps(results, indent=2))

    names = ["auc", *FPR_LEVELS]
    print(
        f"lira, {args.shadows} shadows per variant, {args.epochs} epochs, batch {args.batch_size}; "
        f"{args.members} members + {args.members} non-members of {args.private}; aux {args.aux}"
    )
    print("| release | rows | variant | " + " | ".join(names) + " | init AUC | shadows IN/candidate | attack | load |")
    print("|---" * (len(names) + 7) + "|")
    for item in results:
        s, info = item["scores"], item["info"]
        init = s.get("init")
        init_text = "—" if not init else f"{cell(init, 'auc')} ({init['num_members']})"
        ins = f"{info.get('in_per_candidate_min')}–{info.get('in_per_candidate_max')}"
        print(
            f"| {item['release']} | {item['rows']} | {item['variant']} | "
            + " | ".join(cell(s, name) for name in names)
            + f" | {init_text} | {ins} | {item['attack_seconds']:.0f} s "
            + f"| {item['load_before']} -> {item['load_after']} |"
        )
    print("† fewer than 10 false positives allowed at that FPR among the non-members: not a reliable figure")
    print(
        f"whole evaluation: {total / 60:.1f} min wall, {args.jobs} release(s) at a time; "
        f"load {load_start} -> {load_text()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
