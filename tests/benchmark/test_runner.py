"""The isolated attack runner: plugins through entry points, the key guard, crashes and limits.

The test attacks live in a throwaway package that is only made discoverable through an
entry point (a ``.dist-info`` directory on PYTHONPATH), exactly as a third-party package
would add one.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from instahide_bench.benchmark.catalogue import list_attacks
from instahide_bench.benchmark.isolation import AUDIT_HOOK, IsolationMode
from instahide_bench.benchmark.landlock import abi_version
from instahide_bench.benchmark.runner import AttackRunError, RunOptions, run_attack
from instahide_bench.core.errors import ResourceLimitError
from tests.plugin_dist import installed_attacks, write_plugin_distribution

PLUGIN_SOURCE = textwrap.dedent(
    '''
    """A throwaway third-party attack package, used by the runner tests."""
    import json
    import os
    import subprocess
    import time
    from dataclasses import dataclass
    from pathlib import Path

    import numpy as np

    from instahide_bench.attacks import Attack, AttackResult


    @dataclass(frozen=True)
    class EchoConfig:
        scale: float = 1.0


    class EchoAttack(Attack):
        """Returns scale * |e|."""
        name = "throwaway-echo"
        version = "0.1"
        Config = EchoConfig
        complexity = "O(E)"

        def run(self, challenge, context):
            return AttackResult(np.abs(challenge.encryption) * self.config.scale, info={"cwd": os.getcwd()})


    @dataclass(frozen=True)
    class Empty:
        pass


    def _try(action):
        try:
            result = action()
        except FileNotFoundError:
            return "not found"
        except PermissionError as exc:
            return "blocked: " + str(exc)
        except Exception as exc:
            return "failed: " + type(exc).__name__
        if isinstance(result, np.ndarray):
            return "READ"
        return "READ" if result else "nothing"


    class PeekKeyAttack(Attack):
        """Tries every way it can think of to read key/private.npy."""
        name = "throwaway-peek"
        Config = Empty

        def run(self, challenge, context):
            attempts = {}
            base = Path(challenge.path)
            attempts["beside public copy"] = _try(lambda: np.load(base / "key" / "private.npy"))
            attempts["parent of public copy"] = _try(lambda: np.load(base.parent / "key" / "private.npy"))
            read_by_search = []
            for found in Path.cwd().parent.rglob("private.npy"):
                if _try(lambda p=found: np.load(p)) == "READ":
                    read_by_search.append(os.path.realpath(found))
            job = json.loads(Path("job.json").read_text()) if Path("job.json").exists() else {}
            leaked = [Path(p) for p in job.get("forbidden", [])]
            leaked += [Path(p) for p in os.environ.get("INSTAHIDE_BENCH_FORBIDDEN_PATHS", "").split(os.pathsep) if p]
            for index, key_dir in enumerate(leaked):
                attempts[f"open leaked path {index}"] = _try(lambda d=key_dir: np.load(d / "private.npy"))
                attempts[f"list leaked path {index}"] = _try(lambda d=key_dir: os.listdir(d))
                attempts[f"cat leaked path {index}"] = _try(
                    lambda d=key_dir: subprocess.run(["cat", str(d / "private.npy")], capture_output=True,
                                                     check=True).stdout)
                attempts[f"python child {index}"] = _try(lambda d=key_dir: subprocess.run(
                    ["python", "-c", f"open({str(d / 'private.npy')!r}, 'rb').read()"],
                    capture_output=True).returncode == 0)
                attempts[f"symlink {index}"] = _try(
                    lambda d=key_dir: (os.symlink(d, "alias"), open("alias/private.npy", "rb").read())[1])
            attempts["leaked any path"] = "nothing" if not leaked else "some"
            return AttackResult(np.zeros_like(challenge.encryption),
                                info={"attempts": attempts, "read_by_search": read_by_search})


    class CrashAttack(Attack):
        name = "throwaway-crash"
        Config = Empty

        def run(self, challenge, context):
            raise RuntimeError("deliberate crash in the middle of the attack")


    class SleepyAttack(Attack):
        name = "throwaway-sleepy"
        Config = Empty

        def run(self, challenge, context):
            time.sleep(60)
            return AttackResult(np.zeros_like(challenge.encryption))


    class HogAttack(Attack):
        name = "throwaway-hog"
        Config = Empty

        def run(self, challenge, context):
            blocks = []
            for _ in range(64):
                blocks.append(np.ones(64 * 2**20, dtype=np.uint8))
                time.sleep(0.05)
            return AttackResult(np.zeros_like(challenge.encryption))


    class WrongShapeAttack(Attack):
        name = "throwaway-wrong-shape"
        Config = Empty

        def run(self, challenge, context):
            return AttackResult(np.zeros((3, 32, 32, 3), np.float32))
    '''
)

ENTRY_POINTS = {
    "throwaway-echo": "EchoAttack",
    "throwaway-peek": "PeekKeyAttack",
    "throwaway-crash": "CrashAttack",
    "throwaway-sleepy": "SleepyAttack",
    "throwaway-hog": "HogAttack",
    "throwaway-wrong-shape": "WrongShapeAttack",
}


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    entries = {name: f"throwaway_attacks:{cls}" for name, cls in ENTRY_POINTS.items()}
    return write_plugin_distribution(
        tmp_path_factory.mktemp("plugins"), "throwaway_attacks", PLUGIN_SOURCE, entries, "instahide_bench.attacks"
    )


@pytest.fixture
def with_plugin(plugin_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The throwaway attacks, discoverable here and in the worker; unregistered after the test."""
    with installed_attacks(plugin_path, monkeypatch):
        yield plugin_path


def test_entry_point_attack_is_discovered_and_runs(with_plugin: Path, tiny_challenge_dir: Path, tmp_path: Path) -> None:
    assert "throwaway-echo" in list_attacks()[0]  # listed by the sandboxed catalogue, never imported here
    report = run_attack("throwaway-echo", tiny_challenge_dir, tmp_path / "out", overrides={"scale": "2"})
    decryption = np.load(tmp_path / "out" / "decryption.npy")
    encryption = np.load(tiny_challenge_dir / "encryption.npy")
    np.testing.assert_allclose(decryption, 2 * np.abs(encryption))
    assert report.succeeded and report.runtime_seconds >= 0 and report.peak_memory_bytes > 0
    assert not report.info["cwd"].startswith(str(tiny_challenge_dir))
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["attack"] == "throwaway-echo" and run["config"] == {"scale": 2.0}


@pytest.mark.parametrize("isolation", ["audit-hook", "landlock"])
def test_attack_cannot_read_the_key_by_any_path(
    isolation: IsolationMode, with_plugin: Path, tiny_challenge_dir: Path, tmp_path: Path
) -> None:
    if isolation == "landlock" and not abi_version():
        pytest.skip("this kernel has no Landlock")
    report = run_attack("throwaway-peek", tiny_challenge_dir, tmp_path / "out", options=RunOptions(isolation=isolation))
    assert report.isolation == (AUDIT_HOOK if isolation == AUDIT_HOOK else f"landlock ABI {abi_version()}")
    attempts = report.info["attempts"]
    if isolation == "landlock":  # the sandboxed child is not even told where the key is
        assert attempts["leaked any path"] == "nothing"
        assert not report.info["read_by_search"]
        return
    assert attempts["leaked any path"] == "some", "the test should exercise a known key path"
    assert len(attempts) >= 8
    read = {what: outcome for what, outcome in attempts.items() if outcome == "READ"}
    assert not read, f"the attack reached the key: {read}"
    assert any(outcome.startswith("blocked") for outcome in attempts.values())
    key_dir = str((tiny_challenge_dir / "key").resolve())
    assert not [p for p in report.info["read_by_search"] if p.startswith(key_dir)]
    assert (tiny_challenge_dir / "key" / "private.npy").exists()


def test_crash_leaves_no_decryption_and_a_readable_error(
    with_plugin: Path, tiny_challenge_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(AttackRunError, match="RuntimeError: deliberate crash"):
        run_attack("throwaway-crash", tiny_challenge_dir, out)
    assert not (out / "decryption.npy").exists()
    assert "deliberate crash" in (out / "attack-error.log").read_text()
    assert not [p for p in out.iterdir() if p.name.startswith(".staging")]


def test_wrong_shape_is_reported(with_plugin: Path, tiny_challenge_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(AttackRunError, match=r"shape \(3, 32, 32, 3\), expected"):
        run_attack("throwaway-wrong-shape", tiny_challenge_dir, tmp_path / "out")
    assert not (tmp_path / "out" / "decryption.npy").exists()


def test_wall_clock_limit_stops_the_attack(with_plugin: Path, tiny_challenge_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ResourceLimitError, match="wall-clock limit of 3 s"):
        run_attack("throwaway-sleepy", tiny_challenge_dir, tmp_path / "out", options=RunOptions(time_limit=3))
    assert not (tmp_path / "out" / "decryption.npy").exists()


def test_memory_limit_stops_the_attack(with_plugin: Path, tiny_challenge_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ResourceLimitError, match="over the memory limit of 1024 MiB"):
        run_attack(
            "throwaway-hog", tiny_challenge_dir, tmp_path / "out", options=RunOptions(memory_limit_bytes=1024 * 2**20)
        )


def test_baseline_through_the_cli(
    tiny_challenge_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from instahide_bench.benchmark.cli import main

    monkeypatch.chdir(tmp_path)  # a relative --out must work although the attack runs elsewhere
    code = main(["attack", "zero", "--challenge", str(tiny_challenge_dir), "--out", "z"])
    assert code == 0
    assert "zero succeeded" in capsys.readouterr().out
    decryption = np.load(tmp_path / "z" / "decryption.npy")
    np.testing.assert_allclose(decryption, 0.0, atol=1e-7)  # mid-grey in [-1, 1]


def test_unknown_attack_and_bad_config_fail_before_spawning(
    tiny_challenge_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from instahide_bench.benchmark.cli import main

    assert main(["attack", "no-such-attack", "--challenge", str(tiny_challenge_dir), "--out", str(tmp_path)]) == 2
    assert "unknown attack 'no-such-attack'" in capsys.readouterr().err
    assert main(["attack", "zero", "--challenge", str(tiny_challenge_dir), "--out", str(tmp_path), "--set", "x=1"]) == 2
    assert "unknown parameter 'x'" in capsys.readouterr().err
