"""gradient-inversion end to end: through the sandboxed runner, scored, and chained into a release attack."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from instahide_bench.attacks.gradient_inversion.attack import GradientInversionAttack, GradientInversionConfig
from instahide_bench.benchmark.chain import run_chain
from instahide_bench.benchmark.generate import GradientRequest, build_gradient_challenge
from instahide_bench.benchmark.runner import run_attack
from instahide_bench.core.attack import AttackContext
from instahide_bench.core.challenge import load_challenge, load_key, write_challenge
from instahide_bench.core.config import apply_overrides
from instahide_bench.core.errors import ConfigError, InputFileError
from instahide_bench.core.scoring import score_decryption


def _write(root: Path, preset: str, request: GradientRequest, n: int = 6) -> Path:
    encoded, _ = build_gradient_challenge(preset, request, overrides={"n": n})
    return write_challenge(root / preset, encoded)


@pytest.fixture(scope="module")
def vanilla_mlp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("fl"), "vanilla", GradientRequest(batch_size=2, steps=3, model="mlp"))


def test_an_mlp_client_gives_its_images_away(vanilla_mlp: Path, tmp_path: Path) -> None:
    """A fully connected first layer: exact inputs at B = 2, labels from them; scored through the runner."""
    report = run_attack("gradient-inversion", vanilla_mlp, tmp_path / "o", score=True)
    assert report.info["method"] == "analytic" and report.scores is not None
    assert report.scores["max_ssim"] > 0.999 and report.scores["inputs_ssim"] > 0.999
    key = load_key(vanilla_mlp)
    labels = np.load(tmp_path / "o" / "input_labels.npy")
    assert sorted(labels.argmax(1).tolist()) == sorted(key.private_labels[key.private_index[:, 0]].tolist())


def test_rows_within_a_step_carry_no_order(vanilla_mlp: Path, tmp_path: Path) -> None:
    """Swapping two rows of a step changes nothing; moving a row to another step does."""
    challenge, key = load_challenge(vanilla_mlp), load_key(vanilla_mlp)
    truth = key.private[key.private_index[:, 0]]
    swapped = truth[[1, 0, 2, 3, 4, 5]]
    assert score_decryption(challenge, key, swapped).scores.max_ssim == pytest.approx(1.0)
    across = truth[[2, 1, 0, 3, 4, 5]]
    assert score_decryption(challenge, key, across).scores.max_ssim < 0.99


def test_gradient_matching_runs_and_caches_each_step(tmp_path: Path) -> None:
    """small-cnn (no fully connected first layer): gradient matching; a resumed run reuses every step."""
    directory = _write(tmp_path, "mixup", GradientRequest(batch_size=1, steps=2, model="small-cnn"), n=4)
    challenge = load_challenge(directory)
    config = apply_overrides(GradientInversionConfig(), {"iterations": 20})
    context = AttackContext(workdir=tmp_path / "work", resume=True)
    first = GradientInversionAttack(config).run(challenge, context)
    assert first.info["method"] == "matching" and first.info["prior"] == "tv" and first.info["labels"] == "analytic"
    assert first.inputs is not None and first.inputs.shape == (2, 32, 32, 3)
    assert sorted(p.name for p in (tmp_path / "work" / "cache").iterdir()) == ["step-000000", "step-000001"]
    again = GradientInversionAttack(config).run(challenge, context)
    np.testing.assert_array_equal(first.inputs, again.inputs)
    key = load_key(directory)
    truth = np.zeros_like(first.labels)
    for slot in range(key.private_index.shape[1]):
        np.add.at(truth, (np.arange(2), key.private_labels[key.private_index[:, slot]]), key.coefficients[:, slot])
    np.testing.assert_allclose(first.labels, truth, atol=1e-3)  # B = 1: restored exactly from the classifier


def test_the_chain_decodes_recovered_inputs_with_a_release_attack(tmp_path: Path) -> None:
    directory = _write(tmp_path, "mixup", GradientRequest(batch_size=2, steps=3, model="mlp"))
    report = run_chain("gradient-inversion", "identity", directory, tmp_path / "chain", score=True)
    assert report.attack == "gradient-inversion+identity" and report.scores is not None
    derived = tmp_path / "chain" / "derived"
    assert not (derived / "key").exists() and load_challenge(derived).meta.kind == "release"
    np.testing.assert_allclose(
        np.load(derived / "encryption.npy"), np.load(tmp_path / "chain" / "gradient-inversion" / "inputs.npy")
    )
    run = json.loads((tmp_path / "chain" / "run.json").read_text())
    assert run["scores"]["inputs_ssim"] > 0.999  # the mixtures themselves, recovered exactly


def test_attacks_refuse_the_wrong_kind_of_challenge(
    vanilla_mlp: Path, tiny_challenge_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(InputFileError, match="attacks release challenges; this is a gradients challenge"):
        run_attack("zero", vanilla_mlp, tmp_path / "a")
    with pytest.raises(InputFileError, match="attacks gradients challenges; this is a release challenge"):
        run_attack("gradient-inversion", tiny_challenge_dir, tmp_path / "b")
    with pytest.raises(InputFileError, match="--then chains attacks on gradient challenges"):
        run_chain("gradient-inversion", "identity", tiny_challenge_dir, tmp_path / "c")
    with pytest.raises(ConfigError, match="no fully connected first layer"):
        GradientInversionAttack(GradientInversionConfig(method="analytic")).run(
            load_challenge(_write(tmp_path, "vanilla", GradientRequest(steps=1), n=2)), AttackContext()
        )


def test_steps_on_a_dask_cluster_give_what_they_give_in_turn(vanilla_mlp: Path, tmp_path: Path) -> None:
    """Steps are independent: on a LocalCluster of two workers, inside the sandbox, the answer is the same."""
    alone = run_attack("gradient-inversion", vanilla_mlp, tmp_path / "one")
    pooled = run_attack("gradient-inversion", vanilla_mlp, tmp_path / "two", overrides={"workers": "2"})
    assert pooled.info["workers"] == 2 and alone.info["workers"] == 1
    np.testing.assert_array_equal(np.load(tmp_path / "one" / "inputs.npy"), np.load(tmp_path / "two" / "inputs.npy"))
    np.testing.assert_array_equal(
        np.load(tmp_path / "one" / "input_labels.npy"), np.load(tmp_path / "two" / "input_labels.npy")
    )
