"""The ``identity`` baseline: a release scored as its own decryption (docs/specification.md §3.3 releases)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from instahide_bench.attacks import ATTACKS, AttackContext
from instahide_bench.attacks.baselines import IdentityAttack
from instahide_bench.benchmark.cli import main
from instahide_bench.benchmark.generate import build_challenge
from instahide_bench.core.challenge import EncodedChallenge, load_challenge, load_key, write_challenge
from instahide_bench.core.scoring import score_decryption
from tests.torch_threads import one_torch_thread

BASELINES = Path(__file__).resolve().parents[2] / "instahide_bench" / "attacks" / "baselines.py"
#: Tiny releases of the embedded photographs (8 classes): 40 private images, 2 per class released.
TINY_RELEASE = {"n": 40, "images_per_class": 2}
TINY_DM = {**TINY_RELEASE, "iterations": 5, "real_batch": 8, "width": 8, "depth": 2, "device": "cpu"}


def _release(preset: str, overrides: dict[str, object], seed: int) -> EncodedChallenge:
    with one_torch_thread():  # two threads spin against each other on 2 shared cores
        return build_challenge(preset, overrides=overrides, seed=seed)[0]


@pytest.fixture(scope="module")
def subset() -> EncodedChallenge:
    return _release("random-subset", TINY_RELEASE, seed=1)


@pytest.fixture(scope="module")
def condensed() -> EncodedChallenge:
    return _release("dc-real", TINY_DM, seed=2)


def _identity_scores(encoded: EncodedChallenge) -> tuple[float, float]:
    challenge = encoded.public_view()
    result = IdentityAttack().run(challenge, AttackContext(seed=0))
    scores = score_decryption(challenge, encoded.key, result.decryption).scores
    return scores.max_ssim, scores.min_l2


def test_registered() -> None:
    assert ATTACKS.get("identity") is IdentityAttack


def test_a_random_subset_is_recovered_exactly(subset: EncodedChallenge) -> None:
    max_ssim, min_l2 = _identity_scores(subset)
    assert max_ssim == pytest.approx(1.0, abs=1e-9) and min_l2 == 0.0


def test_a_condensed_release_is_not_its_init_images(condensed: EncodedChallenge) -> None:
    max_ssim, min_l2 = _identity_scores(condensed)
    assert 0 < max_ssim < 1 and min_l2 > 0


def test_the_module_touches_no_key() -> None:
    tree = ast.parse(BASELINES.read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert not imported & {"load_key", "ChallengeKey", "EncodedChallenge"}
    assert '"key"' not in BASELINES.read_text(encoding="utf-8")


def test_the_isolated_run_scores_one_on_a_random_subset(subset: EncodedChallenge, tmp_path: Path) -> None:
    """``instahide-bench attack identity`` in the runner's sandbox (an access to key/ fails the run)."""
    challenge_dir = write_challenge(tmp_path / "subset", subset)
    key_files = {path: path.stat().st_mtime_ns for path in (challenge_dir / "key").iterdir()}
    out = tmp_path / "out"
    assert main(["attack", "identity", "--challenge", str(challenge_dir), "--out", str(out)]) == 0
    assert json.loads((out / "run.json").read_text())["succeeded"]
    decryption = np.load(out / "decryption.npy")
    np.testing.assert_array_equal(decryption, subset.encryption)
    scores = score_decryption(load_challenge(challenge_dir), load_key(challenge_dir), decryption).scores
    assert scores.max_ssim == pytest.approx(1.0, abs=1e-9)
    assert {path: path.stat().st_mtime_ns for path in (challenge_dir / "key").iterdir()} == key_files
