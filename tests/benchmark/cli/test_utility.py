"""``instahide-bench utility``: JSON output, checkpoints and --resume, --record's entry, one-line errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from instahide_bench.benchmark.cli import main
from instahide_bench.benchmark.leaderboard.utility import load_utility_entries
from instahide_bench.benchmark.utility import default_test_source
from instahide_bench.core.errors import ConfigError

TINY = ["--rows", "64", "--test-rows", "40", "--batch-size", "32", "--device", "cpu"]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["-q", "utility", *TINY, *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_has_accuracy_baseline_epochs_seconds_and_checkpoints(tmp_path: Path, capsys) -> None:
    result = _run(capsys, "--encoder", "mixup", "--epochs", "1", "--out", str(tmp_path / "run"))
    assert 0 <= result["accuracy"] <= 1 and 0 <= result["baseline_accuracy"] <= 1
    assert result["epochs"] == 1 and result["seconds"] > 0 and result["train_rows"] == 64
    assert result["test"] == "mnist5k?split=test" and result["params"]["mask"] is False
    assert len(result["history"]) == 1 and {"loss", "test_accuracy"} <= set(result["history"][0])
    assert (tmp_path / "run" / "utility.json").is_file()
    assert (tmp_path / "run" / "learning-curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["baseline.pt", "encoded.pt"]


def test_resume_continues_from_the_checkpoints(tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "run")
    _run(capsys, "--encoder", "instahide-inside", "--epochs", "1", "--out", out)
    resumed = _run(capsys, "--encoder", "instahide-inside", "--epochs", "2", "--out", out, "--resume")
    assert [r["epoch"] for r in resumed["history"]] == [1, 2]
    assert [r["epoch"] for r in resumed["baseline_history"]] == [1, 2]


def test_record_writes_a_utility_entry_with_provenance(tmp_path: Path, capsys) -> None:
    board = tmp_path / "board"
    args = ["--encoder", "vanilla", "--epochs", "1", "--out", str(tmp_path / "run")]
    result = _run(capsys, *args, "--record", "--leaderboard", str(board), "--name", "plain")
    assert result["accuracy"] == result["baseline_accuracy"]
    [(entry, path)] = load_utility_entries(board)
    assert path == Path(result["entry_path"]) and entry.name == "plain" and entry.encoder == "vanilla"
    assert entry.accuracy == result["accuracy"] and entry.epochs == 1 and entry.train_rows == 64
    assert (entry.command or "").startswith("instahide-bench") and entry.versions["torch"] and entry.date
    assert not isinstance(entry.hardware, str)


def test_more_epochs_than_encryptions_is_refused(tmp_path: Path, capsys) -> None:
    code = main(["utility", "--encoder", "instahide-hardened", "--epochs", "11", "--out", str(tmp_path)])
    assert code == 2
    assert "T=10" in capsys.readouterr().err


def test_default_test_split() -> None:
    assert default_test_source("mnist5k") == "mnist5k?split=test"
    assert default_test_source("cifar10:/data/c") == "cifar10:/data/c?split=test"
    assert default_test_source("mnist5k?classes=5-9") == "mnist5k?split=test&classes=5-9"
    with pytest.raises(ConfigError, match="--test"):
        default_test_source("npy:/x.npz")
    with pytest.raises(ConfigError, match="--test"):
        default_test_source("cifar10:/data/c?split=test")


def test_pretraining_then_fine_tuning_on_encodings(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    pretrain = ["--pretrain", "mnist5k", "--pretrain-rows", "64", "--pretrain-epochs", "1"]
    result = _run(capsys, "--encoder", "mixup", "--epochs", "1", "--no-baseline", *pretrain, "--out", str(out))
    assert result["pretrain"] == "mnist5k" and 0 <= result["pretrain_accuracy"] <= 1
    assert result["baseline_accuracy"] is None
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["encoded.pt", "pretrain.pt"]


def test_pretraining_on_other_classes_with_its_own_test_set(tmp_path: Path, capsys) -> None:
    """The proxy of the defenders' protocol: pretrain on digits 0-4, fine-tune and test on 5-9."""
    pretrain = ["--pretrain", "mnist5k?classes=0-4", "--pretrain-test", "mnist5k?split=test&classes=0-4"]
    result = _run(
        capsys,
        "--encoder",
        "mixup",
        "--epochs",
        "1",
        "--no-baseline",
        "--pretrain-epochs",
        "1",
        "--pretrain-rows",
        "64",
        *pretrain,
        "--private",
        "mnist5k?classes=5-9",
        "--out",
        str(tmp_path / "run"),
    )
    assert result["test"] == "mnist5k?split=test&classes=5-9" and result["test_rows"] == 40
    assert 0 <= result["pretrain_accuracy"] <= 1


def test_a_run_killed_mid_training_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    """SIGKILL a real ``utility`` process once its first epoch is saved; ``--resume`` finishes the same run.

    The encoder is seeded (the presets draw keys from OS entropy, which never repeat), and the
    reference runs in a process of its own too, so that both have the same torch settings.
    """
    args = ["--encoder", "instahide-inside", "--set", "rng=legacy-seeded", "--epochs", "4", "--no-baseline"]
    args += [*TINY, "--rows", "128"]
    reference = _cli_json(*args, "--out", str(tmp_path / "reference"))
    out = tmp_path / "killed"
    process = subprocess.Popen(_cli(*args, "--out", str(out)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = out / "checkpoints" / "encoded.pt"
    try:
        while not checkpoint.is_file() and process.poll() is None:
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (out / "utility.json").exists()
    assert not [p for p in out.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"], "half-written files left"
    resumed = _cli_json(*args, "--out", str(out), "--resume")
    assert [r["epoch"] for r in resumed["history"]] == [1, 2, 3, 4]
    losses = [r["loss"] for r in resumed["history"]]
    assert losses == pytest.approx([r["loss"] for r in reference["history"]], rel=1e-4)
    assert resumed["accuracy"] == pytest.approx(reference["accuracy"], abs=1e-9)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "instahide_bench.benchmark.cli", "-q", "utility", *args]


def _cli_json(*args: str) -> dict:
    done = subprocess.run(_cli(*args, "--json"), check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def test_epochs_follow_t_and_masked_encoders_are_tested_masked(tmp_path: Path, capsys) -> None:
    """No --epochs: one epoch per encryption (T); an encoder that masks signs is tested on masked images."""
    masked = _run(
        capsys, "--encoder", "instahide-inside", "--set", "T=2", "--no-baseline", "--out", str(tmp_path / "a")
    )
    assert masked["epochs"] == 2 and masked["inference"] == "masked"
    plain = _run(capsys, "--encoder", "mixup", "--set", "T=1", "--no-baseline", "--out", str(tmp_path / "b"))
    assert plain["epochs"] == 1 and plain["inference"] == "clean"
    clean = _run(
        capsys,
        "--encoder",
        "instahide-inside",
        "--set",
        "T=1",
        "--inference",
        "clean",
        "--no-baseline",
        "--out",
        str(tmp_path / "c"),
    )
    assert clean["inference"] == "clean"


def test_epochs_for_reads_the_encoders_t() -> None:
    from instahide_bench.benchmark.utility import DEFAULT_EPOCHS, epochs_for

    assert epochs_for("instahide-hardened") == 10 and epochs_for("instahide-inside", {"T": 7}) == 7
    assert epochs_for("instahide-inside", {"T": 7}, cap=3) == 3 and epochs_for("vanilla") == DEFAULT_EPOCHS
    assert epochs_for("random-subset", cap=4) == 4
