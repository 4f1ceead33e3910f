"""Label restoration and the analytic first-layer recovery, against hand-checkable truths."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from instahide_bench.attacks.gradient_inversion.analytic import disaggregate
from instahide_bench.attacks.gradient_inversion.labels import label_total, restore_given_features, restore_single
from instahide_bench.attacks.gradient_inversion.steps import features_and_probs
from instahide_bench.core.training.fedsgd import model_state, step_gradients
from instahide_bench.core.training.models import build_model


def _images(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, size=(count, 32, 32, 3)).astype(np.float32)


def _soft(count: int, classes: int, seed: int = 1) -> np.ndarray:
    """Rows like InstaHide's: two classes, weights adding up to less than one (public slots unlabelled)."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((count, classes), np.float32)
    for row in range(count):
        a, b = rng.choice(classes, 2, replace=False)
        labels[row, a], labels[row, b] = rng.uniform(0.2, 0.5, size=2)
    return labels


@pytest.mark.parametrize("model_name", ["small-cnn", "mlp"])
@pytest.mark.parametrize("kind", ["one-hot", "soft"])
def test_one_rows_label_is_restored_exactly(model_name: str, kind: str) -> None:
    model = build_model(model_name, 10, torch.Generator().manual_seed(3))
    labels = np.eye(10, dtype=np.float32)[[7]] if kind == "one-hot" else _soft(1, 10)
    update = step_gradients(model, _images(1), labels, "train")
    state = model_state(model)
    restored, _ = restore_single(
        update["classifier.weight"], update["classifier.bias"], state["classifier.weight"], state["classifier.bias"]
    )
    np.testing.assert_allclose(restored, labels[0], atol=2e-4)


def test_the_label_total_is_the_common_ratio() -> None:
    assert label_total(np.array([0.6, 0.6, 0.6, -3.0, 0.6, 9.0, 0.6])) == pytest.approx(0.6)


def test_a_batchs_labels_follow_from_its_inputs() -> None:
    model = build_model("mlp", 10, torch.Generator().manual_seed(4))
    inputs, labels = _images(4, 5), _soft(4, 10, 6)
    update = step_gradients(model, inputs, labels, "train")
    features, probs = features_and_probs(model, inputs, "classifier.weight", True)
    np.testing.assert_allclose(restore_given_features(update["classifier.weight"], features, probs), labels, atol=2e-4)


def test_a_fully_connected_first_layer_gives_every_input_of_a_small_batch() -> None:
    model = build_model("mlp", 10, torch.Generator().manual_seed(5))
    inputs = _images(4, 7)
    update = step_gradients(model, inputs, _soft(4, 10), "train")
    found = disaggregate(update["fc1.weight"], update["fc1.bias"], 4).images()
    assert found.shape == (4, 32, 32, 3)
    distance = np.abs(found[:, None] - inputs[None]).max(axis=(2, 3, 4))
    assert sorted(distance.argmin(axis=1).tolist()) == [0, 1, 2, 3]  # each recovered input is a different row
    assert distance.min(axis=1).max() < 1e-3
    one = step_gradients(model, inputs[:1], _soft(1, 10), "train")
    np.testing.assert_allclose(disaggregate(one["fc1.weight"], one["fc1.bias"], 1).images()[0], inputs[0], atol=1e-4)


def test_no_gradient_gives_no_input() -> None:
    found = disaggregate(np.zeros((8, 3072), np.float32), np.zeros(8, np.float32), 2)
    assert found.inputs.shape == (0, 3072)


def test_too_large_a_batch_gives_what_repeats_and_no_more() -> None:
    """Eight rows and 16 units: hardly any unit sees one row alone; no group repeats, nothing is claimed."""
    rng = np.random.default_rng(0)
    found = disaggregate(rng.normal(size=(16, 3072)).astype(np.float32), rng.normal(size=16).astype(np.float32), 8)
    assert found.images().shape == (0, 32, 32, 3)
