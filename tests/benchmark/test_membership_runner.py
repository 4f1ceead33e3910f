"""Membership attacks through the isolated runner: scores out, scored and recorded, the truth never read."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from instahide_bench.benchmark.generate import MembershipRequest, build_challenge
from instahide_bench.benchmark.isolation import AUDIT_HOOK
from instahide_bench.benchmark.landlock import abi_version
from instahide_bench.benchmark.leaderboard.membership import (
    load_membership_entries,
    membership_markdown,
    membership_rows,
)
from instahide_bench.benchmark.runner import AttackRunError, RunOptions, run_attack
from instahide_bench.core.challenge import write_challenge
from instahide_bench.core.errors import InputFileError
from tests.plugin_dist import installed_attacks, write_plugin_distribution

PLUGIN_SOURCE = textwrap.dedent(
    '''
    """Throwaway membership attacks for the runner tests."""
    import os
    from dataclasses import dataclass
    from pathlib import Path

    import numpy as np

    from instahide_bench.api import AttackResult, MembershipAttack


    @dataclass(frozen=True)
    class Empty:
        pass


    class NearestRowAttack(MembershipAttack):
        """Minus the distance to the nearest release row: exact for a release of the private images."""
        name = "throwaway-nearest"
        Config = Empty

        def run(self, challenge, context):
            candidates = challenge.membership.images.reshape(len(challenge.membership), -1)
            release = challenge.encryption.reshape(challenge.num_rows, -1)
            distance = ((candidates[:, None, :] - release[None, :, :]) ** 2).sum(-1).min(1)
            return AttackResult(membership_scores=-distance)


    def _try(action):
        try:
            return "READ" if action() is not None else "nothing"
        except FileNotFoundError:
            return "not found"
        except PermissionError as exc:
            return "blocked: " + str(exc)
        except Exception as exc:
            return "failed: " + type(exc).__name__


    class PeekTruthAttack(MembershipAttack):
        """Tries to read key/membership.npy beside, above and anywhere near its public copy."""
        name = "throwaway-peek-truth"
        Config = Empty

        def run(self, challenge, context):
            base = Path(challenge.path)
            attempts = {
                "beside": _try(lambda: np.load(base / "key" / "membership.npy")),
                "parent": _try(lambda: np.load(base.parent / "key" / "membership.npy")),
            }
            found = [os.path.realpath(p) for p in Path.cwd().parent.rglob("membership.npy")]
            forbidden = [p for p in os.environ.get("INSTAHIDE_BENCH_FORBIDDEN_PATHS", "").split(os.pathsep) if p]
            for index, key_dir in enumerate(forbidden):
                attempts[f"forbidden {index}"] = _try(lambda d=key_dir: np.load(Path(d) / "membership.npy"))
            attempts["told any path"] = "some" if forbidden else "nothing"
            read = [p for p in found if _try(lambda p=p: np.load(p)) == "READ"]
            scores = np.zeros(len(challenge.membership))
            return AttackResult(membership_scores=scores, info={"attempts": attempts, "read": read})


    class ShortAttack(MembershipAttack):
        name = "throwaway-short"
        Config = Empty

        def run(self, challenge, context):
            return AttackResult(membership_scores=np.zeros(3))
    '''
)
ENTRY_POINTS = {
    "throwaway-nearest": "NearestRowAttack",
    "throwaway-peek-truth": "PeekTruthAttack",
    "throwaway-short": "ShortAttack",
}


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    entries = {name: f"throwaway_membership:{cls}" for name, cls in ENTRY_POINTS.items()}
    return write_plugin_distribution(
        tmp_path_factory.mktemp("plugins"), "throwaway_membership", PLUGIN_SOURCE, entries, "instahide_bench.attacks"
    )


@pytest.fixture
def with_plugin(plugin_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with installed_attacks(plugin_path, monkeypatch):
        yield plugin_path


@pytest.fixture(scope="module")
def vanilla_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    encoded, _ = build_challenge("vanilla", overrides={"n": 12}, membership=MembershipRequest())
    return write_challenge(tmp_path_factory.mktemp("membership") / "vanilla", encoded)


def test_membership_attack_is_run_scored_and_recorded(with_plugin: Path, vanilla_dir: Path, tmp_path: Path) -> None:
    board = tmp_path / "board"
    report = run_attack("throwaway-nearest", vanilla_dir, tmp_path / "out", record=True, leaderboard_root=board)
    scores = np.load(tmp_path / "out" / "membership_scores.npy")
    assert scores.shape == (24,) and not (tmp_path / "out" / "decryption.npy").exists()
    assert report.threat_model == "membership" and report.scores is not None
    assert report.scores["auc"] == 1.0 and report.scores["tpr_at_0.1%_fpr"] == 1.0
    assert report.scores["num_candidates"] == 24 and report.scores["init"]["auc"] == 1.0
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["threat_model"] == "membership" and run["scores"]["num_members"] == 12
    [(entry, path)] = load_membership_entries(board)
    assert entry.scores.all.auc == 1.0 and entry.roc and (path.parent / entry.roc).is_file()
    assert entry.hardware != "unknown" and entry.command and entry.isolation
    readme = membership_markdown(membership_rows(board))
    assert "| throwaway-nearest | — | 1.000 [1.000, 1.000]" in readme  # no accuracy measured


def test_membership_attack_cannot_read_the_truth(with_plugin: Path, vanilla_dir: Path, tmp_path: Path) -> None:
    """Under the runner's default isolation (Landlock where the kernel has it, else the audit hook)."""
    isolation = "landlock" if abi_version() else AUDIT_HOOK
    report = run_attack("throwaway-peek-truth", vanilla_dir, tmp_path / "out", options=RunOptions(isolation=isolation))
    assert report.isolation == (AUDIT_HOOK if isolation == AUDIT_HOOK else f"landlock ABI {abi_version()}")
    attempts = report.info["attempts"]
    assert not [what for what, outcome in attempts.items() if outcome == "READ"], attempts
    key_dir = str((vanilla_dir / "key").resolve())
    assert not [p for p in report.info["read"] if p.startswith(key_dir)]
    if isolation == AUDIT_HOOK:
        assert attempts["told any path"] == "some", "the test should exercise the known key path"
        assert any(outcome.startswith("blocked") for outcome in attempts.values())
    assert (vanilla_dir / "key" / "membership.npy").exists()


def test_wrong_answers_and_wrong_challenges_are_refused(
    with_plugin: Path, vanilla_dir: Path, tiny_challenge_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(AttackRunError, match=r"shape \(3,\), expected \(24,\)"):
        run_attack("throwaway-short", vanilla_dir, tmp_path / "short")
    assert not (tmp_path / "short" / "membership_scores.npy").exists()
    with pytest.raises(InputFileError, match="not a membership challenge"):
        run_attack("throwaway-nearest", tiny_challenge_dir, tmp_path / "plain")
