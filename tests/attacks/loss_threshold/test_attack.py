"""loss-threshold: a model that overfits its release gives members a lower loss than non-members."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from instahide_bench.attacks.common.release_model import held_out_accuracy, release_rows, train_on_rows
from instahide_bench.attacks.lira.shadows import to_uint8
from instahide_bench.attacks.loss_threshold.attack import LossThresholdAttack, LossThresholdConfig
from instahide_bench.benchmark.generate import MembershipRequest, build_challenge
from instahide_bench.core.attack import AttackContext
from instahide_bench.core.challenge import EncodedChallenge
from instahide_bench.core.data import ImageSet, parse_source
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.membership import build_membership_set
from instahide_bench.core.membership_scoring import score_membership
from instahide_bench.encoders import ENCODERS

#: Overfits in a few seconds on one CPU thread: no augmentation, no weight decay, small batches.
OVERFIT = LossThresholdConfig(epochs=30, batch_size=16, lr=0.05, augment="none", weight_decay=0.0)


def _auc(encoded: EncodedChallenge, config: LossThresholdConfig) -> tuple[float, np.ndarray]:
    assert encoded.membership is not None
    result = LossThresholdAttack(config).run(encoded.public_view(), AttackContext())
    assert result.membership_scores is not None and result.decryption is None
    scores = result.membership_scores
    return score_membership(encoded.membership.key, scores, resamples=0).all.auc, scores


def _random_label_release(encoder: str, members: int, **settings: object) -> EncodedChallenge:
    """Embedded tiles with random labels among 4 classes: nothing to generalise, so only memorising
    helps, the regime where a loss attack must work (``members`` private images, as many non-members)."""
    pool = parse_source("embedded", "private").load_all()
    rng = np.random.default_rng(0)
    rows = rng.choice(len(pool), 2 * members, replace=False)
    labels = rng.integers(0, 4, 2 * members)

    def images(part: slice) -> ImageSet:
        return ImageSet(pool.images[rows[part]], labels[part], ("a", "b", "c", "d"), "test", pool.ids[rows[part]])

    private, non_members = images(slice(0, members)), images(slice(members, None))
    config = ENCODERS.get(encoder).Config(n=members, **settings)
    encoded = ENCODERS.get(encoder)(config).encode(private, seed=0)
    chosen = build_membership_set(
        private, non_members, encoded.pixels, members=members, rng=rng, init_index=encoded.key.init_index
    )
    return dataclasses.replace(encoded, membership=chosen)


def test_overfit_model_finds_the_members_a_random_subset_released() -> None:
    """Half of the 32 members are released (4 per class): those are fitted, the others are not."""
    encoded = _random_label_release("random-subset", 32, images_per_class=4)
    assert encoded.membership is not None
    result = LossThresholdAttack(OVERFIT).run(encoded.public_view(), AttackContext())
    assert result.membership_scores is not None and np.all(result.membership_scores <= 0)  # minus a cross-entropy
    scores = score_membership(encoded.membership.key, result.membership_scores, resamples=0)
    assert scores.init is not None and scores.init.num_members == 16
    assert scores.init.auc > 0.75, scores.init.auc  # the released members against all non-members
    assert scores.all.auc > 0.6, scores.all.auc  # all members: the unreleased half is at chance


def test_logit_score_ranks_as_the_loss_and_seeds_repeat() -> None:
    encoded = _random_label_release("vanilla", 16)
    config = LossThresholdConfig(epochs=2, batch_size=16, augment="none")
    _, loss = _auc(encoded, config)
    _, again = _auc(encoded, config)
    np.testing.assert_array_equal(loss, again)
    _, logit = _auc(encoded, dataclasses.replace(config, score="logit"))
    np.testing.assert_array_equal(np.argsort(loss, kind="stable"), np.argsort(logit, kind="stable"))


def test_needs_candidates_and_a_known_score() -> None:
    with pytest.raises(ConfigError, match="unknown score"):
        LossThresholdAttack(LossThresholdConfig(score="probability"))
    plain = dataclasses.replace(_random_label_release("vanilla", 4), membership=None).public_view()
    with pytest.raises(ConfigError, match="needs a membership challenge"):
        LossThresholdAttack(LossThresholdConfig(epochs=1)).run(plain, AttackContext())


@pytest.mark.slow
def test_real_labels_vanilla_release_of_embedded_tiles() -> None:
    """Real labels: members and non-members are tiles of the same photographs, so the gap is smaller."""
    encoded, _ = build_challenge("vanilla", overrides={"n": 96}, membership=MembershipRequest(), data_seed=3)
    auc, _ = _auc(encoded, dataclasses.replace(OVERFIT, epochs=60))
    assert auc > 0.6, auc


def test_reports_the_models_accuracy_on_held_out_images(tmp_path: Path) -> None:
    """``eval_data``: the release's utility, measured on labelled images the attacker holds.

    The overfit model has memorised the random labels of the released members (accuracy near 1
    on them) and knows nothing of the non-members' random labels (near chance, 1 in 4).
    """
    encoded = _random_label_release("vanilla", 32)
    assert encoded.membership is not None
    candidates, key = encoded.membership.candidates, encoded.membership.key
    images = to_uint8(candidates.images, encoded.pixels)
    files = {}
    for name, chosen in (("members", key.is_member), ("non-members", ~key.is_member)):
        files[name] = f"npy:{tmp_path / name}.npz"
        np.savez(
            tmp_path / f"{name}.npz",
            images=images[chosen],
            labels=candidates.labels[chosen],
            class_names=np.array(list("abcd")),
        )
    public = encoded.public_view()
    recipe = dataclasses.replace(OVERFIT, epochs=80).train_config(seed=0, runner_device="cpu")
    model = train_on_rows(release_rows(public), public.pixels, recipe)
    members = held_out_accuracy(model, files["members"], public)
    assert members["test_images"] == 32 and members["test_data"] == files["members"]
    assert float(members["test_accuracy"]) > 0.9, members
    assert float(held_out_accuracy(model, files["non-members"], public)["test_accuracy"]) < 0.6

    info = (
        LossThresholdAttack(LossThresholdConfig(epochs=1, eval_data=files["members"])).run(public, AttackContext()).info
    )
    assert info["test_images"] == 32 and 0 <= info["test_accuracy"] <= 1


def test_held_out_images_must_have_the_challenges_classes(tmp_path: Path) -> None:
    encoded = _random_label_release("vanilla", 4)
    path = tmp_path / "other.npz"
    np.savez(path, images=np.zeros((2, 32, 32, 3), np.uint8), labels=np.zeros(2, np.int64), class_names=np.array(["x"]))
    config = LossThresholdConfig(epochs=1, eval_data=f"npy:{path}")
    with pytest.raises(ConfigError, match=r"eval_data: npy:.*other\.npz has classes"):
        LossThresholdAttack(config).run(encoded.public_view(), AttackContext())
