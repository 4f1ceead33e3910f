"""generate --membership and score --scores from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from instahide_bench.benchmark.cli import main


@pytest.fixture(scope="module")
def challenge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "vanilla"
    assert (
        main(
            [
                "generate",
                "--preset",
                "vanilla",
                "--set",
                "n=12",
                "--membership",
                "--candidates",
                "20",
                "--out",
                str(path),
            ]
        )
        == 0
    )
    return path


def test_generate_then_score_perfect_and_reversed_scores(
    challenge: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    truth = np.load(challenge / "key" / "membership.npy")
    assert truth.shape == (20,) and truth.sum() == 10
    perfect, reversed_ = tmp_path / "perfect.npy", tmp_path / "reversed.npy"
    np.save(perfect, truth.astype(np.float64))
    np.save(reversed_, -truth.astype(np.float64))
    assert main(["score", "--challenge", str(challenge), "--scores", str(perfect), "--json", "--resamples", "50"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["auc"] == 1.0 and report["tpr_at_0.1%_fpr"] == 1.0 and report["num_candidates"] == 20
    assert report["reliable"] == {"tpr_at_0.1%_fpr": False, "tpr_at_1%_fpr": False}
    assert main(["score", "--challenge", str(challenge), "--scores", str(reversed_), "--resamples", "0"]) == 0
    out = capsys.readouterr().out
    assert "auc                0.000" in out and "† fewer than 10 false positives" in out


def test_record_and_render(challenge: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scores = tmp_path / "scores.npy"
    np.save(scores, np.arange(20, dtype=np.float64))
    board = tmp_path / "board"
    args = ["score", "--challenge", str(challenge), "--scores", str(scores), "--record", "--leaderboard", str(board)]
    assert main([*args, "--name", "counting", "--resamples", "20"]) == 0
    [entry] = (board / "membership").glob("*.json")
    assert json.loads(entry.read_text())["command"].startswith("instahide-bench score")
    assert entry.with_suffix(".png").is_file()
    assert main(["leaderboard", "render", "--root", str(board)]) == 0
    readme = (board / "README.md").read_text()
    assert "## Membership inference" in readme and "| counting | " in readme


def test_bad_scores_and_options_are_one_line_errors(
    challenge: Path, tiny_challenge_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    short = tmp_path / "short.npy"
    np.save(short, np.zeros(5))
    assert main(["score", "--challenge", str(challenge), "--scores", str(short)]) == 2
    err = capsys.readouterr().err.strip()
    assert str(short) in err and "expected (20,)" in err and "\n" not in err
    assert main(["score", "--challenge", str(tiny_challenge_dir), "--scores", str(short)]) == 2
    assert "not a membership challenge" in capsys.readouterr().err
    out = tmp_path / "x"
    assert main(["generate", "--preset", "vanilla", "--candidates", "4", "--out", str(out)]) == 2
    assert "--candidates and --non-members need --membership" in capsys.readouterr().err
