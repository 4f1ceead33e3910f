"""Score an attack run against the challenge's key and, if asked, record a leaderboard entry.

The one place where a :class:`~.runner.RunReport` meets the scorer and the leaderboard, so
that ``attack --score/--record``, the matrix and the demo all record the same way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from instahide_bench.core.challenge import load_challenge, load_key
from instahide_bench.core.provenance import Provenance, hardware_info, scoring_versions, utc_now_iso
from instahide_bench.core.scoring import score_decryption
from instahide_bench.core.submission import load_decryption

if TYPE_CHECKING:
    from instahide_bench.benchmark.runner import RunReport


def record_run(
    report: RunReport,
    challenge_dir: str | os.PathLike[str],
    decryption_path: str | os.PathLike[str],
    *,
    record: bool,
    leaderboard_root: str | os.PathLike[str] | None,
    entry_name: str | None,
    command_line: str,
    entry_stem: str | None = None,
) -> None:
    """Fill ``report.scores`` (and ``report.entry_path`` when ``record``) in place.

    ``entry_stem`` fixes the entry's file name (see :func:`~.leaderboard.store.record_entry`).
    """
    challenge = load_challenge(challenge_dir)
    key = load_key(challenge_dir, challenge.num_rows)
    decryption = load_decryption(decryption_path, challenge)
    result = score_decryption(challenge, key, decryption, per_row=record)
    report.scores = result.scores.to_json()
    inputs_path = Path(decryption_path).with_name("inputs.npy")
    if challenge.gradients is not None and key.inputs is not None and inputs_path.is_file():
        from instahide_bench.core.gradient_scoring import score_inputs

        inputs = score_inputs(challenge, key, load_decryption(inputs_path, challenge))
        report.scores.update({k: v for k, v in inputs.to_json().items() if k != "num_rows"})
    if not record:
        return
    from instahide_bench.benchmark.leaderboard import AttackInfo, GridSource, measured_entry, record_entry

    attack = AttackInfo(report.attack, report.attack_version, report.config, report.complexity)
    fields = _entry_fields(report, command_line)
    fields["extras"].update({k: v for k, v in report.scores.items() if k.startswith("inputs_")})
    entry = measured_entry(entry_name or report.attack, attack, challenge, result.scores, **fields)
    root = Path(leaderboard_root) if leaderboard_root is not None else Path("leaderboard")
    grid = GridSource(challenge, key, decryption, result.rows)
    report.entry_path = str(record_entry(entry, root, grid=grid, stem=entry_stem))


def _entry_fields(report: RunReport, command_line: str) -> dict[str, Any]:
    """What an attack entry and a membership entry record alike about the run: time, memory,
    provenance, notes and the attack's scalar figures."""
    provenance = Provenance(
        hardware=hardware_info(),
        versions=scoring_versions(),
        date=utc_now_iso(),
        command=command_line,
        isolation=report.isolation,
    )
    return {
        "runtime_seconds": report.runtime_seconds,
        "peak_memory_bytes": report.peak_memory_bytes,
        "provenance": provenance,
        "notes": report.message if report.succeeded else f"attack did not succeed: {report.message}",
        "extras": {"succeeded": report.succeeded, "device": report.device, **_numeric(report.info)},
    }


def _numeric(info: dict) -> dict:
    """The attack's scalar figures (e.g. a found seed, sign accuracy) worth keeping in the entry."""
    return {k: v for k, v in info.items() if isinstance(v, (int, float, str, bool)) and not isinstance(v, bytes)}


def record_membership_run(
    report: RunReport,
    challenge_dir: str | os.PathLike[str],
    scores_path: str | os.PathLike[str],
    *,
    record: bool,
    leaderboard_root: str | os.PathLike[str] | None,
    entry_name: str | None,
    command_line: str,
    entry_stem: str | None = None,
) -> None:
    """The membership counterpart of :func:`record_run`: fill ``report.scores`` (and ``entry_path``)."""
    from instahide_bench.core.membership import load_membership_key
    from instahide_bench.core.membership_scoring import load_scores, score_membership

    challenge = load_challenge(challenge_dir)
    assert challenge.membership is not None  # the runner refuses a membership attack otherwise
    key = load_membership_key(challenge_dir, challenge)
    scores = load_scores(scores_path, len(challenge.membership))
    result = score_membership(key, scores, source=str(scores_path))
    report.scores = result.to_json()
    if not record:
        return
    from instahide_bench.benchmark.leaderboard import AttackInfo
    from instahide_bench.benchmark.leaderboard.membership import membership_entry, record_membership_entry

    attack = AttackInfo(report.attack, report.attack_version, report.config, report.complexity)
    entry = membership_entry(
        entry_name or report.attack, attack, challenge, result, **_entry_fields(report, command_line)
    )
    root = Path(leaderboard_root) if leaderboard_root is not None else Path("leaderboard")
    report.entry_path = str(record_membership_entry(entry, root, roc=(key, scores), stem=entry_stem))
