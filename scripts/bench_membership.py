"""Privacy at known utility: membership inference against several releases of the same private images.

For each release (an encoder preset: by default dataset condensation, a random subset, InstaHide
and the private images themselves) a membership challenge is written from ``--members`` private
images of ``--private`` (all of them candidates, with as many held-out non-members of the same
source as it has left). Then every attack of ``--attacks`` runs on it through the isolated
runner, with one training recipe for every model (the target and LiRA's shadows), and is scored.
Each attack also measures its target model's accuracy on ``--test`` (the attack's ``eval_data``):
the release's utility, so that privacy is compared at known accuracy.

    python scripts/bench_membership.py --private cifar10:../shared/data/cifar10-subset/cifar-10-batches-py \\
        --out /tmp/bench-membership

prints the one table (a column per release: its accuracy, then each attack's AUC and TPR at 0.1%
and 1% FPR with 95% intervals, and the AUC of the members that initialised a release row), then
a row per run with the wall times and the machine's load, and writes ``results.json`` and a
privacy-utility figure (``privacy-utility.png``: accuracy against AUC and TPR at 1% FPR);
``--record ROOT`` also writes a leaderboard membership entry (with its ROC curve) per run, and
``--print RESULTS.json ...`` prints the tables of earlier runs.

The defaults are the scale of the whole evaluation that fits 30 minutes on 2 CPU cores: 1,000
members, 8 shadow models (online LiRA), 30 epochs with batches of 32, condensation with 50
distribution-matching steps. On a GPU use ``--device auto --shadows 16`` (or more). Release
settings: ``vanilla`` releases all members; ``random-subset`` and ``dc-*`` release ``--per-class``
images per class made from them; InstaHide presets encrypt each member ``--T`` times.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from instahide_bench.benchmark.generate import MembershipRequest, generate
from instahide_bench.benchmark.runner import RunOptions, run_attack
from instahide_bench.benchmark.utility import default_test_source
from instahide_bench.core.challenge import load_challenge
from instahide_bench.core.membership_scoring import FPR_LEVELS
from instahide_bench.encoders import get_preset

RELEASES = "dc-real,random-subset,instahide-inside,vanilla"
ATTACKS = "loss-threshold,lira"


def load_text() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def overrides_for(preset: str, args: argparse.Namespace) -> dict[str, object]:
    """The release's size settings, for whichever of them the preset's encoder has."""
    fields = get_preset(preset).config.__dataclass_fields__
    out: dict[str, object] = {"n": args.members}
    if "images_per_class" in fields:
        out["images_per_class"] = args.per_class
    if "iterations" in fields:
        out["iterations"] = args.dc_iterations
    if "T" in fields:
        out["T"] = args.T
    return out


def attack_settings(attack: str, args: argparse.Namespace) -> dict[str, str]:
    """One recipe for every model of every attack, plus each attack's own settings."""
    settings = {
        "epochs": str(args.epochs),
        "batch_size": str(args.batch_size),
        "threads": str(args.threads),
        "eval_data": args.test,
    }
    if attack == "lira":
        settings.update(shadows=str(args.shadows), aux=args.aux, variant=args.lira_variant)
    settings.update(dict(item.split("=", 1) for item in args.set))
    return settings


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
    results = []
    for attack in [a.strip() for a in args.attacks.split(",") if a.strip()]:
        load_before, started = load_text(), time.perf_counter()
        settings = attack_settings(attack, args)
        # a rerun with the same settings replaces its entry; other settings (another recipe) get their own
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
        report = run_attack(
            attack,
            directory,
            out / f"run-{preset}-{attack}",
            overrides=settings,
            options=RunOptions(device=args.device, resume=True),
            score=True,
            record=args.record is not None,
            leaderboard_root=args.record,
            entry_name=f"{attack} on {preset}",
            entry_stem=f"{Path(args.private.partition('?')[0]).name}-{preset}-{attack}-{digest}",
        )
        assert report.scores is not None
        results.append(
            {
                "release": preset,
                "attack": attack,
                "attack_config": report.config,
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
            f"done {preset} {attack}: AUC {report.scores['auc']:.3f} in {report.runtime_seconds:.0f} s", file=sys.stderr
        )
    return results


def cell(figures: dict[str, Any], name: str) -> str:
    low, high = figures["intervals"][name]
    dagger = "" if figures["reliable"].get(name, True) else " †"
    return f"{figures[name]:.3f} [{low:.2f}, {high:.2f}]{dagger}"


def attack_label(item: dict[str, Any]) -> str:
    config = item.get("attack_config", {})
    if item["attack"] == "lira":
        return f"lira ({config.get('variant', '?')}, {config.get('shadows', '?')} shadows)"
    return str(item["attack"])


def one_table(results: list[dict[str, Any]]) -> list[str]:
    """A column per release: its accuracy, then per attack AUC, TPR@0.1%/1% FPR and the init AUC."""
    releases = list(dict.fromkeys(item["release"] for item in results))
    by = {(item["release"], attack_label(item)): item for item in results}
    attacks = list(dict.fromkeys(attack_label(item) for item in results))
    lines = ["| | " + " | ".join(releases) + " |", "|---" * (len(releases) + 1) + "|"]
    lines.append("| release rows | " + " | ".join(str(by_release(by, r, attacks)["rows"]) for r in releases) + " |")
    accuracy = []
    for release in releases:
        measured = sorted(
            {
                f"{by[(release, a)]['info']['test_accuracy']:.3f}"
                for a in attacks
                if "test_accuracy" in by.get((release, a), {}).get("info", {})
            }
        )
        accuracy.append(" / ".join(measured) or "—")
    lines.append("| accuracy of the release-trained model | " + " | ".join(accuracy) + " |")
    for attack in attacks:
        for name, title in (("auc", "AUC"), *((level, f"TPR at {rate:.1%} FPR") for level, rate in FPR_LEVELS.items())):
            row = [cell(by[(r, attack)]["scores"], name) if (r, attack) in by else "—" for r in releases]
            lines.append(f"| {attack}: {title} | " + " | ".join(row) + " |")
        init = []
        for release in releases:
            scores = by.get((release, attack), {}).get("scores", {})
            init.append(
                f"{cell(scores['init'], 'auc')} ({scores['init']['num_members']})" if scores.get("init") else "—"
            )
        lines.append(f"| {attack}: init members' AUC | " + " | ".join(init) + " |")
    return lines


def by_release(by: dict[tuple[str, str], dict[str, Any]], release: str, attacks: list[str]) -> dict[str, Any]:
    return next(by[(release, a)] for a in attacks if (release, a) in by)


def run_table(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| release | attack | candidates (members / non-members) | test images | attack time | load (1/5/15 min) |"
    ]
    lines.append("|---" * 6 + "|")
    for item in results:
        s, info = item["scores"], item["info"]
        lines.append(
            f"| {item['release']} | {attack_label(item)} | {s['num_members']} / {s['num_non_members']} "
            f"| {info.get('test_images', '—')} | {item['attack_seconds']:.0f} s "
            f"| {item['load_before']} -> {item['load_after']} |"
        )
    return lines


def draw_figure(results: list[dict[str, Any]], path: Path) -> Path:
    """Privacy against utility, a point per release and attack with its 95% interval: AUC (all members,
    filled; init members, hollow) and TPR at 1% FPR on x, the release-trained model's accuracy on y."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4.2), dpi=110)
    FigureCanvasAgg(figure)
    auc_axes, tpr_axes = figure.subplots(1, 2, sharey=True)
    releases = list(dict.fromkeys(item["release"] for item in results))
    colours = {release: f"C{index}" for index, release in enumerate(releases)}
    markers = dict(zip(dict.fromkeys(attack_label(item) for item in results), "os^Dv", strict=False))
    for item in results:
        accuracy = item["info"].get("test_accuracy")
        if accuracy is None:
            continue
        scores, colour, marker = item["scores"], colours[item["release"]], markers.get(attack_label(item), "o")
        panels = [(auc_axes, scores, "auc", colour), (tpr_axes, scores, "tpr_at_1%_fpr", colour)]
        if scores.get("init") and item["release"] != "vanilla":
            panels.append((auc_axes, scores["init"], "auc", "none"))
        for axes, figures, name, face in panels:
            low, high = figures["intervals"][name]
            value = figures[name]
            axes.errorbar(
                value,
                accuracy,
                xerr=[[value - low], [high - value]],
                fmt=marker,
                color=colour,
                markerfacecolor=face,
                capsize=2,
                markersize=6,
            )
    for release, colour in colours.items():
        auc_axes.plot([], [], "-", color=colour, linewidth=5, label=release)
    for label, marker in markers.items():
        auc_axes.plot([], [], marker, color="grey", label=label)
    auc_axes.plot([], [], "o", color="grey", markerfacecolor="none", label="init members only")
    auc_axes.axvline(0.5, color="grey", linestyle=":", linewidth=1)
    tpr_axes.axvline(0.01, color="grey", linestyle=":", linewidth=1, label="chance (TPR = FPR)")
    auc_axes.set_xlabel("membership AUC (0.5: chance)")
    tpr_axes.set_xlabel("TPR at 1% FPR")
    auc_axes.set_ylabel("accuracy of the release-trained model")
    auc_axes.legend(fontsize=7, loc="best")
    tpr_axes.legend(fontsize=7, loc="best")
    for axes in (auc_axes, tpr_axes):
        axes.grid(True, alpha=0.3)
    figure.suptitle("Privacy at known utility: each release, each membership attack (95% intervals)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, metadata={"Software": None})
    return path


def print_tables(results: list[dict[str, Any]], title: str) -> None:
    print(title)
    print("\n".join(one_table(results)))
    print("† fewer than 10 false positives allowed at that FPR among the non-members: not a reliable figure")
    print()
    print("\n".join(run_table(results)))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--private", help="private source, e.g. cifar10:PATH (its training split)")
    parser.add_argument("--test", help="held-out labelled images for the accuracy (default: --private's test split)")
    parser.add_argument("--aux", help="LiRA's auxiliary images for the shadows (default: --test)")
    parser.add_argument("--members", type=int, default=1000, help="private images (all are member candidates)")
    parser.add_argument("--releases", default=RELEASES, help="comma-separated presets")
    parser.add_argument("--attacks", default=ATTACKS, help="comma-separated membership attacks")
    parser.add_argument("--lira-variant", default="online", help="online or offline")
    parser.add_argument("--shadows", type=int, default=8, help="LiRA's shadow models (its CPU default)")
    parser.add_argument("--epochs", type=int, default=30, help="training epochs of every model")
    parser.add_argument("--batch-size", type=int, default=32, help="rows per SGD step (small releases: small batches)")
    parser.add_argument("--per-class", type=int, default=10, help="release rows per class (random-subset, dc-*)")
    parser.add_argument("--dc-iterations", type=int, default=50, help="distribution-matching steps (dc-*)")
    parser.add_argument("--T", type=int, default=2, help="encryptions per private image (InstaHide presets)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of each attack process")
    parser.add_argument("--jobs", type=int, default=2, help="releases run at the same time (2 shared cores: 1 or 2)")
    parser.add_argument("--device", default="cpu", help="the attacks' device (auto: a GPU when present)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="extra settings of every attack"
    )
    parser.add_argument("--record", metavar="ROOT", help="write a membership entry per run under this leaderboard")
    parser.add_argument("--out", help="working directory (challenges, runs, results.json)")
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument(
        "--keep-challenges",
        action="store_true",
        help="reuse challenges already under --out (a rerun then takes finished models from the runs' caches)",
    )
    parser.add_argument("--print", nargs="+", metavar="RESULTS", help="only print the tables of results.json files")
    parser.add_argument("--figure", metavar="PNG", help="the privacy-utility figure (default: OUT/privacy-utility.png)")
    args = parser.parse_args(argv)
    if args.print:
        results = [item for path in args.print for item in json.loads(Path(path).read_text())]
        print_tables(results, "earlier runs: " + ", ".join(args.print))
        if args.figure:
            print(f"figure: {draw_figure(results, Path(args.figure))}")
        return 0
    if not args.private or not args.out:
        parser.error("--private and --out are required (unless --print)")
    args.test = args.test or default_test_source(args.private)
    args.aux = args.aux or args.test

    import torch

    # generation (dataset condensation) runs in this process: one thread, as the attack processes, since
    # two threads spin against each other on 2 shared cores (docs/encoders.md measured 626 s against 82 s)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    releases = [p.strip() for p in args.releases.split(",") if p.strip()]
    load_start, clock = load_text(), time.perf_counter()
    # The longest runs first (encryptions: T rows per member), so that the others fill the second worker.
    longest_first = sorted(releases, key=lambda preset: "T" not in get_preset(preset).config.__dataclass_fields__)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        per_release = dict(zip(longest_first, pool.map(lambda preset: one_release(preset, args, out), longest_first)))
    total = time.perf_counter() - clock
    results = [item for preset in releases for item in per_release[preset]]
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print_tables(
        results,
        f"{args.members} members of {args.private}, held-out non-members of the same source; accuracy on {args.test}; "
        f"every model: small-cnn, {args.epochs} epochs, batch {args.batch_size}",
    )
    print(f"figure: {draw_figure(results, Path(args.figure) if args.figure else out / 'privacy-utility.png')}")
    print(
        f"whole evaluation: {total / 60:.1f} min wall, {args.jobs} release(s) at a time; "
        f"load {load_start} -> {load_text()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
