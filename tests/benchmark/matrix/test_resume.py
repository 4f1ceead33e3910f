"""A real ``instahide-bench matrix`` killed with SIGKILL mid-run, then resumed with ``--resume``.

The matrix has two quick cells and one that naps (a throwaway plugin attack); the process is
killed once the quick cells are recorded and the nap has started. The resumed run must reuse
the finished cells (same records, no second leaderboard entry), rerun the rest, and find no
half-written file anywhere.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from instahide_bench.benchmark.matrix.run import CELL_RECORD, MatrixResult, clean_leftovers
from tests.plugin_dist import write_plugin_distribution

NAP_SOURCE = '''
"""A throwaway attack that takes its time (to be killed in the middle of)."""
import time
from dataclasses import dataclass

import numpy as np

from instahide_bench.attacks import Attack, AttackResult


@dataclass(frozen=True)
class NapConfig:
    seconds: float = 120.0


class NapAttack(Attack):
    name = "throwaway-nap"
    Config = NapConfig

    def run(self, challenge, context):
        time.sleep(self.config.seconds)
        return AttackResult(np.zeros_like(challenge.encryption))
'''


def _plugin(root: Path) -> Path:
    entries = {"throwaway-nap": "nap_attack:NapAttack"}
    return write_plugin_distribution(root, "nap_attack", NAP_SOURCE, entries, "instahide_bench.attacks")


def _matrix(out: Path, plugin: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "instahide_bench.benchmark.cli",
        "matrix",
        "--encoders",
        "mixup",
        "--attacks",
        "zero,abs-rescale,throwaway-nap",
        "--set-encoder",
        "n=12",
        "--set-encoder",
        "T=2",
        "--workers",
        "2",  # cells run in no fixed order: the quick ones must not wait for the nap
        "--out",
        str(out),
        *extra,
    ]


def _wait_for(condition, what: str, timeout: float = 240) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def _every_file_is_whole(out: Path) -> int:
    """Every visible JSON and .npy under ``out`` parses; returns how many were checked."""
    checked = 0
    for path in out.rglob("*"):
        if any(part.startswith(".") for part in path.relative_to(out).parts):
            continue
        if path.suffix == ".json":
            json.loads(path.read_text())
            checked += 1
        elif path.suffix == ".npy":
            np.load(path, allow_pickle=False)
            checked += 1
    return checked


def test_matrix_killed_mid_run_resumes_from_its_finished_cells(tmp_path: Path) -> None:
    plugin = _plugin(tmp_path / "plugin")
    out = tmp_path / "m"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin), os.environ.get("PYTHONPATH", "")])}
    first = subprocess.Popen(
        _matrix(out, plugin),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        records = lambda: sorted(out.glob(f"cells/*/{CELL_RECORD}"))  # noqa: E731
        _wait_for(lambda: len(records()) >= 2, "the two quick cells")
        _wait_for(lambda: list(out.glob("cells/*throwaway-nap/.staging-*")), "the napping cell to start")
        os.kill(first.pid, signal.SIGKILL)
        assert first.wait(timeout=30) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
    finished = {path.parent.name: path.read_bytes() for path in records()}
    assert sorted(finished) == ["mixup__abs-rescale", "mixup__zero"]
    assert not (out / "matrix.json").exists()
    checked = _every_file_is_whole(out)
    entries_before = sorted(p.name for p in out.glob("leaderboard/entries/*/*.json"))
    assert len(entries_before) == 2

    done = subprocess.run(
        _matrix(out, plugin, "--resume", "--set-attack", "throwaway-nap.seconds=0"),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = MatrixResult.load(out / "matrix.json")
    reused = {cell.attack: cell.reused for cell in result.cells}
    assert reused == {"zero": True, "abs-rescale": True, "throwaway-nap": False}
    assert all(cell.status == "ok" for cell in result.cells)
    for name, content in finished.items():  # the finished records were reused as they were
        assert (out / "cells" / name / CELL_RECORD).read_bytes() == content
    entries_after = sorted(p.name for p in out.glob("leaderboard/entries/*/*.json"))
    assert set(entries_before) < set(entries_after) and len(entries_after) == 3  # one entry per cell
    assert _every_file_is_whole(out) > checked
    assert not clean_leftovers(out), "the resumed run left temporary files or staging directories"
