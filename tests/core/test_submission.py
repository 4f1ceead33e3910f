"""Loading decryption files: accepted types, and a one-line error naming the file for every bad one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from instahide_bench.core.challenge import PublicChallenge
from instahide_bench.core.errors import InputFileError
from instahide_bench.core.submission import load_decryption
from tests.core.scoring_support import BAD_DECRYPTIONS, photo_challenge, write_bad_decryption


@pytest.fixture(scope="module")
def challenge() -> PublicChallenge:
    return photo_challenge().public_view()


@pytest.mark.parametrize("case", sorted(BAD_DECRYPTIONS))
def test_every_bad_file_is_one_error_naming_it(case: str, challenge: PublicChallenge, tmp_path: Path) -> None:
    path, message = write_bad_decryption(case, tmp_path, challenge.num_rows)
    with pytest.raises(InputFileError) as caught:
        load_decryption(path, challenge)
    assert message in str(caught.value)
    assert caught.value.path == str(path)
    assert "\n" not in str(caught.value)


def test_huge_header_is_refused_unread(
    challenge: PublicChallenge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = write_bad_decryption("huge-header", tmp_path, challenge.num_rows)
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("np.load must not be reached"))
    with pytest.raises(InputFileError, match="refusing to read it"):
        load_decryption(path, challenge)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", ">f4"])
def test_float_files_load_as_float32(dtype: str, challenge: PublicChallenge, tmp_path: Path) -> None:
    values = np.random.default_rng(0).uniform(-1, 1, (challenge.num_rows, 32, 32, 3)).astype(dtype)
    np.save(tmp_path / "d.npy", values)
    loaded = load_decryption(tmp_path / "d.npy", challenge)
    assert loaded.dtype == np.float32 and loaded.shape == values.shape
    np.testing.assert_array_equal(loaded, values.astype(np.float32))


def test_uint8_file_is_mapped_into_the_pixel_space(challenge: PublicChallenge, tmp_path: Path) -> None:
    values = np.random.default_rng(1).integers(0, 256, (challenge.num_rows, 32, 32, 3)).astype(np.uint8)
    np.save(tmp_path / "d.npy", values)
    loaded = load_decryption(tmp_path / "d.npy", challenge)
    np.testing.assert_allclose(loaded, values / 127.5 - 1, atol=1e-6)


def test_values_are_not_clipped_on_load(challenge: PublicChallenge, tmp_path: Path) -> None:
    np.save(tmp_path / "d.npy", np.full((challenge.num_rows, 32, 32, 3), 7.0, np.float32))
    assert load_decryption(tmp_path / "d.npy", challenge).max() == 7.0


def test_mmap_returns_float32_files_without_copying(challenge: PublicChallenge, tmp_path: Path) -> None:
    np.save(tmp_path / "d.npy", np.zeros((challenge.num_rows, 32, 32, 3), np.float32))
    assert isinstance(load_decryption(tmp_path / "d.npy", challenge, mmap=True), np.memmap)
