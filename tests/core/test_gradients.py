"""The gradient challenge kind: its public description, the client's defences, the server's replay."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from instahide_bench.benchmark.generate import GradientRequest, build_gradient_challenge
from instahide_bench.core.challenge import load_challenge, load_key, write_challenge
from instahide_bench.core.errors import ConfigError, InputFileError
from instahide_bench.core.gradients import GRADIENTS_FILE, Defences, GradientSetup, server_step


@pytest.fixture(scope="module")
def fl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """instahide-inside (k = 4, masked, secure RNG) on 6 embedded tiles; 3 steps of 4 rows (2 epochs), labels hidden."""
    encoded, _ = build_gradient_challenge(
        "instahide-inside", GradientRequest(batch_size=4, steps=3, model="small-cnn"), overrides={"n": 6}
    )
    return write_challenge(tmp_path_factory.mktemp("fl") / "inside", encoded)


def test_a_gradient_challenge_holds_what_the_server_sees_and_nothing_else(fl_dir: Path) -> None:
    assert sorted(p.name for p in fl_dir.iterdir()) == ["challenge.json", "gradients.npz", "key", "weights.npz"]
    challenge = load_challenge(fl_dir)
    assert challenge.meta.kind == "gradients" and challenge.num_rows == 12 and challenge.encryption.shape[0] == 0
    setup = challenge.meta.gradients
    assert setup is not None and (setup.batch_size, setup.steps, setup.epochs) == (4, 3, 2.0)
    release = challenge.gradients
    assert release is not None and release.labels is None
    assert set(release.gradients) == {t.name for t in setup.parameters}
    assert all(release.gradients[t.name].shape == (3, *t.shape) for t in setup.parameters)
    text = (fl_dir / "challenge.json").read_text()
    assert "private_index" not in text and "fed_rows" not in text  # secrets stay in the key
    key = load_key(fl_dir, challenge.num_rows)
    assert key.inputs is not None and key.inputs.shape == (12, 32, 32, 3)
    assert key.private_index.shape == (12, 4) and sorted(np.bincount(key.private_index[:, 0])) == [2] * 6


def test_the_server_replays_its_own_weights(fl_dir: Path) -> None:
    release = load_challenge(fl_dir).gradients
    assert release is not None
    states = list(release.weights())
    assert len(states) == 3
    name = release.setup.parameters[0].name
    expected = release.initial[name] - np.float32(release.setup.server_lr) * release.update(0)[name]
    np.testing.assert_array_equal(states[1][name], expected)
    buffers = [t.name for t in release.setup.buffers]
    assert buffers and all(np.array_equal(states[2][b], release.initial[b]) for b in buffers)


def test_updates_are_the_gradients_of_the_fed_rows(fl_dir: Path) -> None:
    """Recomputing step 1's update from the key's inputs and the replayed weights gives the sent one."""
    import torch

    from instahide_bench.core.training.fedsgd import load_state, step_gradients
    from instahide_bench.core.training.models import build_model

    challenge = load_challenge(fl_dir)
    release = challenge.gradients
    key = load_key(fl_dir, challenge.num_rows)
    assert release is not None and key.inputs is not None
    state = list(release.weights())[1]
    model = build_model("small-cnn", challenge.meta.num_classes, torch.Generator().manual_seed(0))
    load_state(model, state)
    labels = np.zeros((4, challenge.meta.num_classes), np.float32)
    for slot in range(4):
        np.add.at(labels, (np.arange(4), key.private_labels[key.private_index[4:8, slot]]), key.coefficients[4:8, slot])
    again = step_gradients(model, key.inputs[4:8], labels, "train")
    for name, value in again.items():
        np.testing.assert_allclose(value, release.update(1)[name], rtol=1e-4, atol=1e-6)


def test_defences_prune_clip_and_noise() -> None:
    rng = np.random.default_rng(0)
    update = {"a": rng.normal(size=(10, 10)).astype(np.float32), "b": rng.normal(size=100).astype(np.float32)}
    pruned = Defences(prune=0.9).apply(update, rng)
    assert all((g == 0).sum() == 90 for g in pruned.values())
    kept = np.abs(update["b"]) > np.sort(np.abs(update["b"]))[89]
    np.testing.assert_array_equal(pruned["b"][kept], update["b"][kept])
    clipped = Defences(clip=1.0).apply(update, rng)
    assert np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in clipped.values())) == pytest.approx(1.0)
    noisy = Defences(clip=1.0, noise=0.5).apply(update, np.random.default_rng(1))
    assert np.std(noisy["b"] - clipped["b"]) == pytest.approx(0.5, rel=0.2)
    assert not Defences().active and Defences(noise=0.1).active
    for bad in (Defences(prune=1.0), Defences(clip=0.0), Defences(noise=float("nan"))):
        with pytest.raises(ConfigError):
            bad.validate()


def test_server_step_is_plain_float32_sgd() -> None:
    weights = {"w": np.array([1.0, 2.0], np.float32), "running_mean": np.zeros(2, np.float32)}
    after = server_step(weights, {"w": np.array([10.0, -10.0], np.float32)}, 0.1)
    np.testing.assert_array_equal(after["w"], np.array([0.0, 3.0], np.float32))
    assert after["w"].dtype == np.float32 and after["running_mean"] is weights["running_mean"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda g: g.update(batchnorm="sometimes"), "batchnorm"),
        (lambda g: g.update(steps=0), "steps"),
        (lambda g: g.pop("parameters"), "lacks parameters"),
        (lambda g: g.update(parameters=[{"name": "x", "shape": [-1]}]), "parameters"),
        (lambda g: g.update(defences={"prune": 2}), "defences"),
        (lambda g: g.update(server_lr="fast"), "server_lr"),
    ],
)
def test_a_malformed_setup_is_one_line_naming_the_file(fl_dir: Path, tmp_path: Path, change, problem: str) -> None:  # type: ignore[no-untyped-def]
    copy = Path(shutil.copytree(fl_dir, tmp_path / "c"))
    meta = json.loads((copy / "challenge.json").read_text())
    change(meta["gradients"])
    (copy / "challenge.json").write_text(json.dumps(meta))
    with pytest.raises(InputFileError, match=problem) as caught:
        load_challenge(copy)
    assert "challenge.json" in str(caught.value) and "\n" not in str(caught.value)


def test_tampered_or_poisoned_gradients_are_refused(fl_dir: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(fl_dir, tmp_path / "c"))
    with np.load(copy / GRADIENTS_FILE) as archive:
        arrays = {name: archive[name] for name in archive.files}
    first = next(iter(arrays))
    arrays[first][0].flat[0] = np.nan
    np.savez(copy / GRADIENTS_FILE, **arrays)
    with pytest.raises(InputFileError, match="sha256"):
        load_challenge(copy)
    _reseal(copy)  # a hand-made challenge whose challenge.json vouches for the poisoned file
    with pytest.raises(InputFileError, match="NaN"):
        load_challenge(copy)
    np.savez(copy / GRADIENTS_FILE, evil=np.array([object()], dtype=object))
    _reseal(copy)
    with pytest.raises(InputFileError, match="pickle"):
        load_challenge(copy)


def _reseal(directory: Path) -> None:
    from instahide_bench.core.io import sha256_file

    meta = json.loads((directory / "challenge.json").read_text())
    meta["files"][GRADIENTS_FILE] = sha256_file(directory / GRADIENTS_FILE)
    (directory / "challenge.json").write_text(json.dumps(meta))


def test_setup_round_trips(fl_dir: Path) -> None:
    setup = load_challenge(fl_dir).meta.gradients
    assert setup is not None
    assert GradientSetup.from_json(json.loads(json.dumps(setup.to_json())), Path("x")) == setup


def test_generate_refuses_impossible_requests() -> None:
    with pytest.raises(ConfigError, match="model"):
        GradientRequest(model="vgg").validate()
    with pytest.raises(ConfigError, match=r"T=1 gives 6 rows; S\*B = 12 needs T >= 2"):
        build_gradient_challenge("instahide-inside", GradientRequest(batch_size=4, steps=3), overrides={"n": 6, "T": 1})
