"""``score``: score a decryption file against a challenge's key, optionally recording it."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from instahide_bench.benchmark.cli._options import SEED, print_json, real_number, whole_number
from instahide_bench.benchmark.leaderboard.layout import DEFAULT_ROOT
from instahide_bench.core.errors import InputFileError

if TYPE_CHECKING:
    import numpy as np

    from instahide_bench.core.challenge import ChallengeKey, PublicChallenge
    from instahide_bench.core.scoring import ScoreResult


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    score = subparsers.add_parser(
        "score",
        help="score a decryption (docs/specification.md §4 metric) or membership scores against a challenge",
        description="Compare each row of a decryption (.npy, E x 32 x 32 x 3, float or uint8) with the two private "
        "images of that encryption; print Max_SSIM, Mean_SSIM, Min_L2 and Mean_L2 averaged over the rows. "
        "With --scores (a membership challenge): ROC AUC, TPR at 0.1% and 1% FPR and balanced accuracy, with "
        "bootstrap intervals (docs/membership.md).",
    )
    score.add_argument("--challenge", required=True, metavar="DIR", help="challenge directory (with key/)")
    answer = score.add_mutually_exclusive_group(required=True)
    answer.add_argument("--decryption", metavar="FILE", help="decryption .npy, one image per encryption")
    answer.add_argument(
        "--scores", metavar="FILE", help="membership_scores.npy: one float per candidate, higher = member"
    )
    score.add_argument(
        "--resamples",
        type=whole_number(0, 10**6),
        default=1000,
        metavar="N",
        help="--scores: bootstrap resamples (default 1000; 0: no intervals)",
    )
    score.add_argument(
        "--inputs",
        metavar="FILE",
        help="gradient challenges: also score recovered model inputs (.npy, one per fed row) against the fed rows",
    )
    score.add_argument("--bootstrap-seed", type=SEED, default=0, help="--scores: seed of the bootstrap (default 0)")
    score.add_argument("--name", help="entry name for --record (default: the decryption file's stem)")
    score.add_argument("--json", action="store_true", help="print the scores as JSON")
    score.add_argument("--per-row", metavar="CSV", help="also write per-row scores to this CSV file")
    score.add_argument("--record", action="store_true", help="add a leaderboard entry (JSON + PNG grid)")
    score.add_argument(
        "--leaderboard",
        default=str(DEFAULT_ROOT),
        metavar="DIR",
        help=f"leaderboard root for --record (default: ./{DEFAULT_ROOT})",
    )
    record = score.add_argument_group("entry details for --record")
    record.add_argument("--attack", default="external", help="attack name (default: external)")
    record.add_argument("--attack-version", default="", help="attack version")
    record.add_argument("--complexity", default="", metavar="TEXT", help="the attack's stated time complexity")
    record.add_argument("--runtime", type=real_number(0.0), metavar="SECONDS", help="the attack's measured runtime")
    record.add_argument(
        "--peak-memory", type=whole_number(0, 2**62), metavar="BYTES", help="the attack's measured peak memory"
    )
    record.add_argument("--notes", default="", help="free text shown with the entry")
    score.set_defaults(func=run_score)


def _command_words(args: argparse.Namespace) -> list[str]:
    """The arguments that produced an entry, rebuilt from the parsed options (works in-process too)."""
    words = ["score", "--challenge", args.challenge]
    words += ["--scores", args.scores] if args.scores else ["--decryption", args.decryption]
    for option, value in (
        ("--name", args.name),
        ("--per-row", args.per_row),
        ("--attack", args.attack),
        ("--attack-version", args.attack_version),
        ("--complexity", args.complexity),
        ("--runtime", args.runtime),
        ("--peak-memory", args.peak_memory),
        ("--notes", args.notes),
    ):
        if value not in (None, ""):
            words += [option, str(value)]
    if args.record:
        words += ["--record", "--leaderboard", args.leaderboard]
    return words


def run_score(args: argparse.Namespace) -> int:
    from instahide_bench.core.challenge import check_output_file, refuse_inside_challenge

    if args.per_row:
        check_output_file(args.per_row, "--per-row", (args.decryption, args.inputs, args.scores))
    if args.record:
        refuse_inside_challenge(args.leaderboard, "the leaderboard")
    if args.scores:
        return _run_membership_score(args)
    from instahide_bench.core.challenge import load_challenge, load_key
    from instahide_bench.core.scoring import score_decryption, write_per_row_csv
    from instahide_bench.core.submission import load_decryption

    challenge = load_challenge(args.challenge, mmap=True)
    key = load_key(args.challenge, challenge.num_rows)
    decryption = load_decryption(args.decryption, challenge)
    result = score_decryption(challenge, key, decryption, per_row=bool(args.per_row or args.record))
    report: dict[str, Any] = {
        "challenge_id": challenge.meta.challenge_id,
        "decryption": args.decryption,
        **result.scores.to_json(),
    }
    if args.inputs:
        from instahide_bench.core.gradient_scoring import score_inputs

        if challenge.gradients is None:
            raise InputFileError(args.inputs, "--inputs applies to gradient challenges only")
        report.update(score_inputs(challenge, key, load_decryption(args.inputs, challenge)).to_json())
    if args.per_row and result.rows is not None:
        with _reported_as_input_error(args.per_row):
            write_per_row_csv(result.rows, args.per_row)
        report["per_row"] = args.per_row
    if args.record:
        with _reported_as_input_error(args.leaderboard):
            report["entry"] = str(_record(args, challenge, key, decryption, result))
    if args.json:
        print_json(report)
    else:
        _print_report(report, challenge.num_rows)
    return 0


@contextlib.contextmanager
def _reported_as_input_error(path: str) -> Iterator[None]:
    """An unwritable output (permissions, full disk) is a one-line error naming it, not a traceback."""
    try:
        yield
    except OSError as exc:
        raise InputFileError(path, f"cannot write: {exc.strerror or exc}") from None


def _record(
    args: argparse.Namespace, challenge: PublicChallenge, key: ChallengeKey, decryption: np.ndarray, result: ScoreResult
) -> Path:
    from instahide_bench.benchmark.leaderboard import AttackInfo, GridSource, measured_entry, record_entry
    from instahide_bench.core.provenance import collect_provenance

    entry = measured_entry(
        args.name or Path(args.decryption).stem,
        AttackInfo(args.attack, args.attack_version, {}, args.complexity),
        challenge,
        result.scores,
        runtime_seconds=args.runtime,
        peak_memory_bytes=args.peak_memory,
        provenance=collect_provenance(_command_words(args)),
        notes=args.notes,
    )
    return record_entry(entry, args.leaderboard, grid=GridSource(challenge, key, decryption, result.rows))


def _run_membership_score(args: argparse.Namespace) -> int:
    from instahide_bench.core.challenge import load_challenge
    from instahide_bench.core.membership import load_membership_key
    from instahide_bench.core.membership_scoring import load_scores, score_membership

    if args.per_row:
        raise InputFileError(args.per_row, "--per-row applies to decryptions, not to --scores")
    challenge = load_challenge(args.challenge, mmap=True)
    key = load_membership_key(args.challenge, challenge)
    assert challenge.membership is not None
    values = load_scores(args.scores, len(challenge.membership))
    result = score_membership(key, values, resamples=args.resamples, seed=args.bootstrap_seed, source=args.scores)
    report: dict[str, Any] = {"challenge_id": challenge.meta.challenge_id, "scores": args.scores, **result.to_json()}
    if args.record:
        from instahide_bench.benchmark.leaderboard import AttackInfo
        from instahide_bench.benchmark.leaderboard.membership import membership_entry, record_membership_entry
        from instahide_bench.core.provenance import collect_provenance

        entry = membership_entry(
            args.name or Path(args.scores).stem,
            AttackInfo(args.attack, args.attack_version, {}, args.complexity),
            challenge,
            result,
            runtime_seconds=args.runtime,
            peak_memory_bytes=args.peak_memory,
            provenance=collect_provenance(_command_words(args)),
            notes=args.notes,
        )
        with _reported_as_input_error(args.leaderboard):
            report["entry"] = str(record_membership_entry(entry, args.leaderboard, roc=(key, values)))
    if args.json:
        print_json(report)
    else:
        print_membership_report(report)
    return 0


def print_membership_report(report: dict[str, Any]) -> None:
    """The membership figures as a short text table (also used by ``attack --score``)."""
    from instahide_bench.benchmark.leaderboard.membership import format_metric
    from instahide_bench.core.membership_scoring import FPR_LEVELS, MIN_FALSE_POSITIVES

    print(f"challenge   {report['challenge_id']}")
    if "scores" in report:
        print(f"scores      {report['scores']}")
    sections = [("all members", report)]
    if report.get("init"):
        sections.append(("init members", report["init"]))
    for title, figures in sections:
        print(f"{title}: {figures['num_members']} members, {figures['num_non_members']} non-members")
        for name in ("auc", *FPR_LEVELS, "balanced_accuracy"):
            interval = figures["intervals"].get(name)
            reliable = figures["reliable"].get(name, True)
            print(f"  {name:<18} {format_metric(figures[name], interval, reliable)}")
    if not all(report["reliable"].values()):
        print(f"  † fewer than {MIN_FALSE_POSITIVES} false positives allowed at that FPR: too few non-members")
    if "entry" in report:
        print(f"recorded    {report['entry']}")


def _print_report(report: dict[str, Any], num_rows: int) -> None:
    print(f"challenge   {report['challenge_id']} ({num_rows} rows)")
    print(f"decryption  {report['decryption']}")
    for label, field in (
        ("Max_SSIM", "max_ssim"),
        ("Mean_SSIM", "mean_ssim"),
        ("Min_L2", "min_l2"),
        ("Mean_L2", "mean_l2"),
    ):
        print(f"{label:<11} {report[field]:.4f}")
    if "inputs_ssim" in report:
        print(
            f"inputs      SSIM {report['inputs_ssim']:.4f}, PSNR {report['inputs_psnr']:.2f} dB (against the fed rows)"
        )
    if "per_row" in report:
        print(f"per-row     {report['per_row']}")
    if "entry" in report:
        print(f"recorded    {report['entry']}")
