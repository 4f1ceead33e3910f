"""The registered learned-inversion attack: config checks, the isolated runner (no key access), --resume."""

from __future__ import annotations

import ast
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from instahide_bench.attacks import ATTACKS, AttackContext
from instahide_bench.attacks.learned_inversion.attack import LearnedInversionAttack, LearnedInversionConfig
from instahide_bench.benchmark.cli import main
from instahide_bench.core.challenge import EncodedChallenge, load_challenge, load_key
from instahide_bench.core.config import apply_overrides
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.scoring import score_decryption
from tests.attacks.learned_inversion.conftest import FAST, TINY_SET

PACKAGE_DIR = Path(__file__).resolve().parents[3] / "instahide_bench" / "attacks" / "learned_inversion"
STAGES = {"simulate", "train", "predict", "fuse"}


def test_registered() -> None:
    assert ATTACKS.get("learned-inversion") is LearnedInversionAttack
    assert LearnedInversionAttack.Config is LearnedInversionConfig


@pytest.mark.parametrize(
    "overrides",
    [
        {"aux_images": 1},
        {"aux_T": 0},
        {"width": 0},
        {"steps": -1},
        {"batch": 0},
        {"lr": 0.0},
        {"heldout": 1.0},
        {"fusion_neighbours": -1},
        {"fusion_temperature": 0.0},
        {"fusion_rounds": 0},
        {"threads": 0},
    ],
)
def test_bad_config_is_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        LearnedInversionAttack(apply_overrides(LearnedInversionConfig(), overrides))


def test_no_module_touches_a_key() -> None:
    """Nothing the attack runs imports the key loaders or types (the runner test below proves no read)."""
    for path in sorted(PACKAGE_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
        assert not imported & {"load_key", "ChallengeKey", "EncodedChallenge"}, path.name
        assert '"key"' not in path.read_text(encoding="utf-8"), path.name


def test_each_row_is_inverted_on_its_own(tiny_set: EncodedChallenge) -> None:
    """No fusion (what T = 1 amounts to): a decryption for every row, in process, without a workdir."""
    challenge = tiny_set.public_view()
    config = apply_overrides(LearnedInversionConfig(), {**FAST, "fusion": "none"})
    result = LearnedInversionAttack(config).run(challenge, AttackContext(seed=0))  # the runner's default seed
    assert result.decryption.shape == tiny_set.encryption.shape and result.decryption.dtype == np.float32
    # the challenge and the simulation both come from the embedded photographs: same classes, so they are used
    assert result.info["fusion_neighbours"] == 0 and result.info["class_input"]
    np.testing.assert_array_equal(challenge.pixels.clip(result.decryption), result.decryption)


def test_end_to_end_isolated_scored_and_resumed(
    tiny_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """``instahide-bench attack learned-inversion`` in the runner's child, whose audit hook fails the run on
    any access to the challenge's key/; the key files stay untouched; ``--resume`` recomputes nothing."""
    caplog.set_level(logging.INFO)
    out = tmp_path / "out"
    command = [
        "attack",
        "learned-inversion",
        "--challenge",
        str(tiny_dir),
        "--out",
        str(out),
        "--device",
        "cpu",
        *[f"--set={name}={value}" for name, value in FAST.items()],
    ]
    key_files = {path: (path.stat().st_mtime_ns, path.stat().st_size) for path in (tiny_dir / "key").iterdir()}
    assert main(command) == 0
    report = json.loads((out / "run.json").read_text())
    assert report["succeeded"] and report["info"]["fusion_neighbours"] == TINY_SET["T"] - 1
    challenge = load_challenge(tiny_dir)
    decryption = np.load(out / "decryption.npy")
    assert decryption.shape == (challenge.num_rows, 32, 32, 3)
    scores = score_decryption(challenge, load_key(tiny_dir), decryption).scores  # evaluation, after the attack
    assert 0 < scores.max_ssim <= 1

    cache = out / "work" / "cache"
    written = {path: path.stat().st_mtime_ns for path in cache.glob("*/*")}
    assert {path.parent.name for path in written} == STAGES
    capfd.readouterr()
    assert main([*command, "--resume"]) == 0
    log = capfd.readouterr().err
    assert all(f"stage {stage}: reusing cached output" in log for stage in STAGES), log[-2000:]
    assert {path: path.stat().st_mtime_ns for path in cache.glob("*/*")} == written
    np.testing.assert_array_equal(np.load(out / "decryption.npy"), decryption)
    assert {path: (path.stat().st_mtime_ns, path.stat().st_size) for path in (tiny_dir / "key").iterdir()} == key_files
