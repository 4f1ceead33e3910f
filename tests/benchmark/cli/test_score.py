"""``instahide-bench score``: output formats, per-row CSV, recording, and one-line errors for bad input."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from instahide_bench.benchmark.cli import main
from instahide_bench.benchmark.leaderboard import load_entries
from instahide_bench.core.scoring import per_row_columns
from tests.core.scoring_support import (
    BAD_DECRYPTIONS,
    abs_rescaled,
    photo_challenge,
    write_bad_decryption,
)

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def decryption_file(tmp_path: Path) -> Path:
    path = tmp_path / "decryption.npy"
    np.save(path, abs_rescaled(photo_challenge().encryption))
    return path


def _score(challenge: Path, decryption: Path, *extra: str) -> list[str]:
    return ["-q", "score", "--challenge", str(challenge), "--decryption", str(decryption), *extra]


def test_prints_the_four_numbers(
    photo_challenge_dir: Path, decryption_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_score(photo_challenge_dir, decryption_file)) == 0
    out = capsys.readouterr().out
    for label in ("Max_SSIM", "Mean_SSIM", "Min_L2", "Mean_L2"):
        assert label in out


def test_json_output_and_per_row_csv(
    photo_challenge_dir: Path, decryption_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows_csv = tmp_path / "rows.csv"
    assert main(_score(photo_challenge_dir, decryption_file, "--json", "--per-row", str(rows_csv))) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["num_rows"] == 40 and isinstance(report["max_ssim"], float)
    table = pd.read_csv(rows_csv)
    assert tuple(table.columns) == per_row_columns(2) and len(table) == 40
    assert table["max_ssim"].mean() == pytest.approx(report["max_ssim"], abs=1e-12)
    assert table["mean_l2"].mean() == pytest.approx(report["mean_l2"], abs=1e-12)


def test_record_writes_an_entry_with_its_grid(
    photo_challenge_dir: Path, decryption_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    board = tmp_path / "board"
    args = _score(
        photo_challenge_dir,
        decryption_file,
        "--record",
        "--leaderboard",
        str(board),
        "--name",
        "abs e",
        "--attack",
        "abs",
        "--runtime",
        "1.5",
        "--complexity",
        "O(E)",
    )
    assert main(args) == 0
    [stored] = load_entries(board)
    entry = stored.entry
    assert (entry.name, entry.attack.name, entry.status, entry.runtime_seconds) == ("abs e", "abs", "measured", 1.5)
    assert entry.attack.time_complexity == "O(E)"
    assert entry.command is not None and "--record" in entry.command and "score" in entry.command
    assert stored.grid_path is not None and stored.grid_path.read_bytes().startswith(b"\x89PNG")
    assert entry.challenge.encryption_sha256 and len(entry.challenge.encryption_sha256) == 64


@pytest.mark.parametrize("case", sorted(BAD_DECRYPTIONS))
def test_bad_decryption_exits_2_with_one_line(
    case: str, photo_challenge_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, message = write_bad_decryption(case, tmp_path, 40)
    assert main(_score(photo_challenge_dir, path)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("instahide-bench: error: ") and str(path) in err and message in err
    assert "\n" not in err


def test_missing_challenge_and_missing_key(
    decryption_file: Path, tmp_path: Path, photo_challenge_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_score(tmp_path / "nowhere", decryption_file)) == 2
    assert "challenge directory not found" in capsys.readouterr().err
    public_only = tmp_path / "public-only"
    public_only.mkdir()
    for name in ("challenge.json", "encryption.npy", "label.npy"):
        (public_only / name).write_bytes((photo_challenge_dir / name).read_bytes())
    assert main(_score(public_only, decryption_file)) == 2
    assert "no key directory" in capsys.readouterr().err


def test_unwritable_outputs_are_one_line_errors(
    photo_challenge_dir: Path, decryption_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inside_a_file = decryption_file / "rows.csv"  # its parent is a file: cannot be created
    assert main(_score(photo_challenge_dir, decryption_file, "--per-row", str(inside_a_file))) == 2
    assert f"{inside_a_file}: cannot write" in capsys.readouterr().err
    assert main(_score(photo_challenge_dir, decryption_file, "--record", "--leaderboard", str(decryption_file))) == 2
    assert f"{decryption_file}: cannot write" in capsys.readouterr().err


def _cli_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT), "INSTAHIDE_BENCH_PROGRESS": "0"}


def test_subprocess_reports_a_bad_file_without_traceback(photo_challenge_dir: Path, tmp_path: Path) -> None:
    path, message = write_bad_decryption("nchw", tmp_path, 40)
    done = subprocess.run(  # noqa: PLW1510 - the exit code is what the test checks
        [
            sys.executable,
            "-m",
            "instahide_bench",
            "score",
            "--challenge",
            str(photo_challenge_dir),
            "--decryption",
            str(path),
        ],
        capture_output=True,
        text=True,
        env=_cli_env(),
        timeout=120,
    )
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def _record_in_child(args: list[str]) -> int:
    return main(args)


def test_parallel_recorders_lose_no_entry(photo_challenge_dir: Path, decryption_file: Path, tmp_path: Path) -> None:
    board = tmp_path / "board"
    jobs = [
        _score(photo_challenge_dir, decryption_file, "--record", "--leaderboard", str(board), "--name", "same")
        for _ in range(6)
    ]
    with multiprocessing.get_context("fork").Pool(6) as pool:
        assert pool.map(_record_in_child, jobs) == [0] * 6
    entries = load_entries(board)
    assert len(entries) == 6
    assert len({stored.path for stored in entries}) == 6
    assert all(stored.grid_path is not None and stored.grid_path.is_file() for stored in entries)
    assert not [p for p in board.rglob("*") if p.name.startswith(".")], "no temporary files left behind"


@pytest.mark.slow
def test_parallel_cli_processes_lose_no_entry(photo_challenge_dir: Path, decryption_file: Path, tmp_path: Path) -> None:
    board = tmp_path / "board"
    command = [
        sys.executable,
        "-m",
        "instahide_bench",
        "-q",
        "score",
        "--challenge",
        str(photo_challenge_dir),
        "--decryption",
        str(decryption_file),
        "--record",
        "--leaderboard",
        str(board),
    ]
    processes = [subprocess.Popen(command, env=_cli_env(), stdout=subprocess.DEVNULL) for _ in range(4)]
    assert [process.wait(timeout=300) for process in processes] == [0] * 4
    assert len(load_entries(board)) == 4
