"""What the release encoders share: the key's one-slot rows and init_index.npy on disk, and training on a release."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from instahide_bench.benchmark.utility import UtilityRequest, run_utility
from instahide_bench.core.challenge import INIT_INDEX_FILE, KEY_DIR, load_challenge, load_key, write_challenge
from instahide_bench.core.config import apply_overrides
from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.errors import ConfigError, InputFileError
from instahide_bench.core.io import sha256_file
from instahide_bench.core.scoring import score_decryption
from instahide_bench.core.training import TrainConfig
from instahide_bench.encoders import DatasetCondensationConfig, DatasetCondensationEncoder
from tests.encoders.conftest import TINY_N
from tests.torch_threads import one_torch_thread

NOISE = {"n": TINY_N, "images_per_class": 2, "init": "noise", "iterations": 1, "width": 4, "depth": 1, "device": "cpu"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def noise_challenge(tiny_private: ImageSet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny dc-noise challenge on disk (init_index all -1), written once."""
    encoder = DatasetCondensationEncoder(apply_overrides(DatasetCondensationConfig(), NOISE))
    with one_torch_thread():  # as the one_torch_thread fixture does (a module fixture runs before it)
        encoded = encoder.encode(tiny_private, seed=11)
    return write_challenge(tmp_path_factory.mktemp("release") / "dc-noise", encoded)


@pytest.fixture
def noise_dir(noise_challenge: Path, tmp_path: Path) -> Path:
    """A copy of the tiny dc-noise challenge that a test may damage."""
    return Path(shutil.copytree(noise_challenge, tmp_path / "dc-noise"))


def _replace_key_array(challenge: Path, name: str, array: np.ndarray) -> None:
    """Rewrite a key file and its digest in key.json, so that only the content is wrong."""
    key_dir = challenge / KEY_DIR
    np.save(key_dir / name, array)
    record = json.loads((key_dir / "key.json").read_text())
    record["files"][name] = sha256_file(key_dir / name)
    (key_dir / "key.json").write_text(json.dumps(record))


def test_one_slot_rows_and_init_index_round_trip(tiny_private: ImageSet, tmp_path: Path) -> None:
    encoder = DatasetCondensationEncoder(apply_overrides(DatasetCondensationConfig(), {**NOISE, "init": "real"}))
    encoded = encoder.encode(tiny_private, seed=12)
    path = write_challenge(tmp_path / "dc-real", encoded)
    key = load_key(path)
    assert key.init_index is not None and encoded.key.init_index is not None
    np.testing.assert_array_equal(key.init_index, encoded.key.init_index)
    assert key.init_index.dtype == np.int64 and (path / KEY_DIR / INIT_INDEX_FILE).is_file()
    np.testing.assert_array_equal(key.private_index, encoded.key.private_index)
    assert key.private_index.shape == (encoded.encryption.shape[0], 1) and key.seed == 12
    public = load_challenge(path)
    assert public.meta.encoder == "dataset-condensation" and public.meta.num_private == TINY_N
    assert "init_index" not in (path / "challenge.json").read_text()  # the key stays out of the public part
    scores = score_decryption(public, key, public.encryption, per_row=True)
    assert scores.rows is not None and scores.rows.slots == 1
    assert scores.scores.max_ssim == pytest.approx(scores.scores.mean_ssim)  # one image per row: max = mean


def test_noise_release_records_no_init_images(noise_dir: Path) -> None:
    key = load_key(noise_dir)
    assert key.init_index is not None and (key.init_index == -1).all()


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((3,), np.int64), r"shape \(3,\), expected \(16,\)"),
        (np.zeros((16, 1), np.int64), r"shape \(16, 1\), expected \(16,\)"),
        (np.zeros((16,), np.float32), "expected an integer type"),
        (np.full((16,), -2, np.int64), "must be -1"),
        (np.full((16,), TINY_N, np.int64), "must be -1"),
    ],
)
def test_a_bad_init_index_names_its_file(noise_dir: Path, array: np.ndarray, message: str) -> None:
    _replace_key_array(noise_dir, INIT_INDEX_FILE, array)
    with pytest.raises(InputFileError, match=rf"init_index\.npy: .*{message}"):
        load_key(noise_dir)


def test_challenges_without_init_index_load_as_before(tiny_challenge_dir: Path) -> None:
    assert load_key(tiny_challenge_dir).init_index is None


def test_utility_trains_on_the_fixed_release_every_epoch(tmp_path: Path) -> None:
    """``utility --encoder random-subset``: every epoch is the same m-per-class release, not the training set."""
    train = TrainConfig(epochs=2, batch_size=8, device="cpu", augment="none")
    request = UtilityRequest(
        "random-subset",
        overrides={"images_per_class": "2"},
        private="embedded",
        test="embedded",
        rows=TINY_N,
        test_rows=16,
        baseline=False,
        train=train,
    )
    result = run_utility(request, tmp_path / "utility")
    classes = 8  # the embedded photographs
    assert [record["images"] for record in result.history] == [2 * classes, 2 * classes]
    assert result.train_rows == TINY_N and 0 <= result.accuracy <= 1
    with pytest.raises(ConfigError, match="not encoded"):
        run_utility(
            UtilityRequest(
                "random-subset",
                private="embedded",
                test="embedded",
                rows=TINY_N,
                train=TrainConfig(epochs=1, inference="encoded", inference_encodings=2, device="cpu"),
                overrides={"images_per_class": "2"},
                baseline=False,
            ),
            tmp_path / "other",
        )
