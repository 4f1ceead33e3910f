"""The project's own regression thresholds, run as CI runs them, and a weakened encoder caught."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from instahide_bench.benchmark.cli import main
from tests.conftest import REPO_ROOT

THRESHOLDS = REPO_ROOT / "thresholds.toml"


@pytest.mark.slow  # about 2 min on 2 cores; .ci/run runs the same command as its own step
def test_project_thresholds_hold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["-q", "regress", "--thresholds", str(THRESHOLDS), "--out", str(tmp_path), "--workers", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    rules = len(tomllib.loads(THRESHOLDS.read_text())["thresholds"])
    assert "checks passed" in out and "REGRESSED" not in out and "ERROR" not in out
    assert out.count("PASS") >= rules
    assert (tmp_path / "report.html").exists() and (tmp_path / "leaderboard" / "index.html").exists()


def test_a_16_bit_seed_makes_regress_fail_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weakened = tmp_path / "weakened.toml"
    weakened.write_text(
        "[matrix]\nencoder_set = { n = 12, T = 3, pool_size = 24 }\n"
        '[encoders.instahide-cross]\npreset = "instahide-cross"\n'
        'set = { rng = "legacy-seeded", seed_bits = 16 }   # the deliberate weakening\n'
        '[attacks.prng-seed-search]\nset = { seed_range = "0:65536", engine = "local" }\n'
        '[[thresholds]]\nencoder = "instahide-cross"\nattack = "prng-seed-search"\nmust = "fail"\n'
        'reason = "secure RNG: no seed may reproduce label.npy"\n'
    )
    code = main(["-q", "regress", "--thresholds", str(weakened), "--out", str(tmp_path / "out"), "--workers", "1"])
    out = capsys.readouterr().out
    assert code == 1
    assert "REGRESSED: prng-seed-search succeeded on instahide-cross" in out
    assert "rule: must fail (secure RNG: no seed may reproduce label.npy)" in out

    assert (
        main(["-q", "regress", "--thresholds", str(weakened), "--results", str(tmp_path / "out" / "matrix.json")]) == 1
    )
