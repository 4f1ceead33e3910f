"""The training loop: it learns real digits (and not shuffled labels), resumes exactly, and checks its checkpoint."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from instahide_bench.core.data.digits import load_digits
from instahide_bench.core.errors import InputFileError
from instahide_bench.core.pixels import get_pixel_space
from instahide_bench.core.training import EvalSet, TrainConfig, TrainingBatch, evaluate, soft_cross_entropy, train
from instahide_bench.core.training.epochs import clean_epochs, encoder_epochs
from instahide_bench.encoders import get_preset

PIXELS = get_pixel_space("cifar10-normalised")


def _digits(train_rows: int, test_rows: int) -> tuple:
    train_set = load_digits("train").choose(train_rows, 0)
    test_set = load_digits("test").choose(test_rows, 1)
    return train_set, EvalSet(PIXELS.from_uint8(test_set.images), test_set.labels)


def test_soft_cross_entropy_is_cross_entropy_on_one_hot_targets() -> None:
    logits = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 3, 1, 1, 2])
    targets = F.one_hot(labels, 4).float()
    assert torch.allclose(soft_cross_entropy(logits, targets), F.cross_entropy(logits, labels))
    assert torch.allclose(soft_cross_entropy(logits, 0.5 * targets), 0.5 * F.cross_entropy(logits, labels))


def test_learning_rate_steps_down_at_half_and_three_quarters() -> None:
    config = TrainConfig(epochs=8, lr=0.1, lr_gamma=0.1)
    assert [round(config.lr_at(e), 6) for e in range(8)] == [0.1] * 4 + [0.01] * 2 + [0.001] * 2
    assert TrainConfig(epochs=1).lr_at(0) == pytest.approx(0.1)


def test_real_digits_are_learned_and_shuffled_labels_are_not() -> None:
    train_set, test = _digits(480, 200)
    config = TrainConfig(epochs=3, augment="none", batch_size=32, device="cpu")
    learned = train(config, 10, clean_epochs(train_set, PIXELS, config), test)
    shuffled_labels = np.random.default_rng(5).permutation(train_set.labels)
    shuffled = dataclasses.replace(train_set, labels=shuffled_labels)
    chance = train(config, 10, clean_epochs(shuffled, PIXELS, config), test)
    assert learned.accuracy > 0.6, learned.history
    assert chance.accuracy < 0.3, chance.history
    assert [r.epoch for r in learned.history] == [1, 2, 3] and learned.history[-1].images == 480


class _Interrupted(Exception):
    pass


def test_resume_after_an_interruption_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    train_set, test = _digits(96, 40)
    encoder = get_preset("instahide-inside").build({"rng": "legacy-seeded"})
    config = TrainConfig(epochs=3, batch_size=32, seed=7, device="cpu", augment="crop")
    source = encoder_epochs(encoder, train_set, None, config)
    whole = train(config, 10, source, test, checkpoint=tmp_path / "whole.pt")

    def dies_in_epoch_two(epoch: int) -> Iterator[TrainingBatch]:
        for number, batch in enumerate(source(epoch)):
            if epoch == 1 and number == 1:
                raise _Interrupted
            yield batch

    checkpoint = tmp_path / "cut.pt"
    with pytest.raises(_Interrupted):
        train(config, 10, dies_in_epoch_two, test, checkpoint=checkpoint)
    resumed = train(config, 10, source, test, checkpoint=checkpoint, resume=True)
    assert resumed.resumed_from == 1
    assert resumed.accuracy == whole.accuracy
    assert [r.loss for r in resumed.history] == [r.loss for r in whole.history]
    assert all(torch.equal(resumed.model_state[k], whole.model_state[k]) for k in whole.model_state)


def test_a_checkpoint_of_another_run_is_refused_by_name(tmp_path: Path) -> None:
    train_set, test = _digits(64, 20)
    config = TrainConfig(epochs=1, batch_size=64, device="cpu")
    path = tmp_path / "run.pt"
    train(config, 10, clean_epochs(train_set, PIXELS, config), test, checkpoint=path, fingerprint={"data": "a"})
    with pytest.raises(InputFileError, match=r"run\.pt.*different run"):
        train(
            config,
            10,
            clean_epochs(train_set, PIXELS, config),
            test,
            checkpoint=path,
            resume=True,
            fingerprint={"data": "b"},
        )
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(InputFileError, match=r"run\.pt"):
        train(config, 10, clean_epochs(train_set, PIXELS, config), test, checkpoint=path, resume=True)
    assert not list(tmp_path.glob(".*"))  # no temporary file left beside the checkpoint


class _ReadsTheClass(torch.nn.Module):
    """Predicts the class written in the first pixel (a stand-in for a trained model)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 10 * F.one_hot(x[:, 0, 0, 0].long(), 3).float()


def test_inference_mode_averages_predictions_over_encodings_of_each_test_image() -> None:
    labels = np.array([0, 1, 2])
    clean = np.zeros((3, 32, 32, 3), np.float32)
    clean[:, 0, 0, 0] = [0, 1, 1]  # the clean image 2 is misread
    test = EvalSet(clean, labels)
    assert evaluate(_ReadsTheClass(), test, torch.device("cpu")) == pytest.approx(2 / 3)

    def encoding(reads: list[int], order: list[int]) -> list[TrainingBatch]:
        inputs = np.zeros((3, 32, 32, 3), np.float32)
        inputs[:, 0, 0, 0] = reads
        return [TrainingBatch(inputs, np.zeros((3, 3), np.float32), np.array(order))]

    # rows come in any order; ``primary`` says whose encoding each row is. Two of three agree on every image.
    encodings = [encoding([2, 0, 1], [2, 0, 1]), encoding([0, 1, 0], [0, 1, 2]), encoding([2, 1, 0], [2, 1, 0])]
    assert evaluate(_ReadsTheClass(), test, torch.device("cpu"), encodings) == 1.0


def test_recalibration_recomputes_batchnorm_statistics_on_a_copy() -> None:
    from instahide_bench.core.training.loop import recalibrated
    from instahide_bench.core.training.models import build_model

    model = build_model("small-cnn", 3, torch.Generator().manual_seed(0))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = np.random.default_rng(0)
    batches = [
        TrainingBatch(
            rng.normal(2.0, 3.0, (16, 32, 32, 3)).astype(np.float32), np.zeros((16, 3), np.float32), np.arange(16)
        )
        for _ in range(2)
    ]
    copy = recalibrated(model, batches, torch.device("cpu"))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), "the model itself is untouched"
    first = copy.features[1]
    assert not copy.training and int(first.num_batches_tracked) == 2
    conv = torch.nn.functional.conv2d(
        torch.from_numpy(np.concatenate([b.inputs for b in batches])).permute(0, 3, 1, 2),
        copy.features[0].weight,
        padding=1,
    )
    np.testing.assert_allclose(
        first.running_mean.numpy(), conv.mean(dim=(0, 2, 3)).detach().numpy(), rtol=1e-4, atol=1e-5
    )
