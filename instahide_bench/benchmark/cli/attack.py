"""``attacks`` and ``attack``: list the registered attacks, run one on a challenge."""

from __future__ import annotations

import argparse
import sys

from instahide_bench.benchmark.cli._options import POSITIVE, SEED, add_set_option, print_json
from instahide_bench.core.config import parse_assignments


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    listing = subparsers.add_parser("attacks", help="list the registered attacks and their config fields")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    _add_plugins_option(listing)
    listing.set_defaults(func=run_list)

    run = subparsers.add_parser(
        "attack",
        help="run an attack on a challenge (isolated from its key)",
        description="Run an attack in a child process that only sees the challenge's public files; "
        "write decryption.npy (and extras) to --out.",
    )
    run.add_argument("name", help="attack name (see `instahide-bench attacks`)")
    run.add_argument("--challenge", required=True, help="challenge directory")
    run.add_argument("--out", required=True, help="output directory")
    add_set_option(run, "override an attack config field (repeatable)")
    run.add_argument("--score", action="store_true", help="score the decryption against the challenge's key")
    run.add_argument("--record", action="store_true", help="score and record a leaderboard entry")
    run.add_argument(
        "--leaderboard", default="leaderboard", help="leaderboard root for --record (default ./leaderboard)"
    )
    run.add_argument(
        "--name", dest="entry_name", default=None, help="leaderboard entry name (default: the attack's name)"
    )
    run.add_argument("--device", default="auto", help="torch device: auto (cuda when present), cpu, cuda, cuda:N")
    run.add_argument("--seed", type=SEED, default=0, help="the attack's own seed (training, sampling)")
    run.add_argument("--resume", action="store_true", help="reuse the attack's cached stages in OUT/work")
    run.add_argument(
        "--time-limit", type=POSITIVE, default=None, metavar="SECONDS", help="stop the attack after this long"
    )
    run.add_argument(
        "--memory-limit",
        type=POSITIVE,
        default=None,
        metavar="MIB",
        help="stop the attack when its processes hold more resident memory than this",
    )
    run.add_argument(
        "--isolation",
        choices=("auto", "landlock", "audit-hook"),
        default="auto",
        help="keep the attack from the key with Landlock (auto: where the kernel has it, else the audit hook "
        "with a warning), require Landlock, or use only the audit hook (see docs/isolation.md)",
    )
    _add_plugins_option(run)
    run.add_argument(
        "--then",
        default=None,
        metavar="ATTACK",
        help="gradient challenges: decode what the attack recovered (its inputs and labels, as a derived "
        "release) with this release attack, e.g. carlini-graph; the chain is scored as a whole",
    )
    run.add_argument(
        "--then-set",
        dest="then_overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field of the --then attack (repeatable)",
    )
    run.add_argument("--json", action="store_true", help="print the run report as JSON")
    run.set_defaults(func=run_attack_command)


def _add_plugins_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--plugins",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of untrusted attack packages (with their .dist-info): importable inside the sandbox "
        "only, never by this process (repeatable; see docs/isolation.md)",
    )


def run_list(args: argparse.Namespace) -> int:
    from instahide_bench.benchmark.catalogue import list_attacks

    attacks, problems = list_attacks(plugin_paths=args.plugins)
    catalogue = {name: about.to_json() for name, about in attacks.items()}
    for name, problem in problems.items():
        print(f"could not load attack {name!r}: {problem}", file=sys.stderr)
    if args.json:
        print_json(catalogue)
        return 0
    for name, about in catalogue.items():
        kind = "  (membership)" if about["threat_model"] == "membership" else ""
        print(f"{name}  v{about['version']}  [{about['complexity']}]{kind}")
        if about["summary"]:
            print(f"    {about['summary']}")
        for field in about["config"]:
            print(f"    {field['name']:<22} = {field['default']!s:<14} ({field['type']}) {field['help']}")
        print()
    return 0


def run_attack_command(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from instahide_bench.benchmark.runner import RunOptions, run_attack

    options = RunOptions(
        time_limit=args.time_limit,
        memory_limit_bytes=None if args.memory_limit is None else int(args.memory_limit * 2**20),
        device=args.device,
        seed=args.seed,
        resume=args.resume,
        isolation=args.isolation,
        plugin_paths=tuple(args.plugins),
    )
    outcome = {
        "options": options,
        "score": args.score,
        "record": args.record,
        "leaderboard_root": args.leaderboard,
        "entry_name": args.entry_name,
    }
    overrides = parse_assignments(args.overrides)
    if args.then is not None:
        from instahide_bench.benchmark.chain import run_chain

        then_overrides = parse_assignments(args.then_overrides)
        report = run_chain(
            args.name,
            args.then,
            args.challenge,
            args.out,
            first_overrides=overrides,
            then_overrides=then_overrides,
            **outcome,
        )
    elif args.then_overrides:
        from instahide_bench.core.errors import ConfigError

        raise ConfigError("--then-set needs --then")
    else:
        report = run_attack(args.name, args.challenge, args.out, overrides=overrides, **outcome)
    if args.json:
        print_json(asdict(report))
        return 0
    status = "succeeded" if report.succeeded else "did not succeed"
    print(
        f"{report.attack} {status} in {report.runtime_seconds:.1f}s "
        f"(peak memory {report.peak_memory_bytes / 2**20:.0f} MiB, device {report.device}, "
        f"isolation {report.isolation})"
    )
    if report.message:
        print(f"  {report.message}")
    if report.threat_model == "membership":
        print(f"  membership scores: {report.out_dir}/membership_scores.npy")
        if report.scores:
            from instahide_bench.benchmark.cli.score import print_membership_report

            print_membership_report({"challenge_id": report.challenge_id, **report.scores})
        if report.entry_path:
            print(f"  leaderboard entry: {report.entry_path}")
        return 0
    print(f"  decryption: {report.out_dir}/decryption.npy")
    if report.scores:
        s = report.scores
        print(
            f"  Max_SSIM {s['max_ssim']:.4f}  Mean_SSIM {s['mean_ssim']:.4f}  "
            f"Min_L2 {s['min_l2']:.4f}  Mean_L2 {s['mean_l2']:.4f}"
        )
        if "inputs_ssim" in s:
            print(f"  recovered inputs: SSIM {s['inputs_ssim']:.4f}  PSNR {s['inputs_psnr']:.2f} dB")
    if report.entry_path:
        print(f"  leaderboard entry: {report.entry_path}")
    return 0
