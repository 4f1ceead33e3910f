"""The challenge directory: round trip, the public/key split, and every bad-input error."""

from __future__ import annotations

import json
import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from instahide_bench.core.challenge import (
    ENCRYPTION_FILE,
    LABEL_FILE,
    META_FILE,
    has_key,
    load_challenge,
    load_key,
    write_challenge,
)
from instahide_bench.core.errors import InputFileError
from tests.conftest import tiny_encoded


@pytest.fixture
def challenge_copy(tiny_challenge_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "challenge"
    shutil.copytree(tiny_challenge_dir, target)
    return target


def _rewrite(path: Path, array: np.ndarray) -> None:
    """Replace a public file and fix its recorded sha256, so that only the content is wrong."""
    np.save(path, array, allow_pickle=True)
    from instahide_bench.core.io import sha256_file

    meta_path = path.parent / META_FILE
    meta = json.loads(meta_path.read_text())
    meta["files"][path.name] = sha256_file(path)
    meta_path.write_text(json.dumps(meta))


def test_round_trip_keeps_every_array(tmp_path: Path) -> None:
    encoded = tiny_encoded("challenge-2020", seed=77)
    write_challenge(tmp_path / "c", encoded)
    public = load_challenge(tmp_path / "c")
    key = load_key(tmp_path / "c")
    np.testing.assert_array_equal(public.encryption, encoded.encryption)
    np.testing.assert_array_equal(public.labels, encoded.labels)
    np.testing.assert_array_equal(key.private, encoded.key.private)
    np.testing.assert_array_equal(key.private_index, encoded.key.private_index)
    np.testing.assert_array_equal(key.coefficients, encoded.key.coefficients)
    np.testing.assert_array_equal(key.public_index, encoded.key.public_index)
    np.testing.assert_array_equal(key.public, encoded.key.public)
    assert key.seed == 77
    assert public.meta.num_rows == encoded.encryption.shape[0]
    assert public.meta.params["k"] == 6 and public.meta.params["rng"] == "legacy-seeded"
    assert public.meta.pixels.name == "[-1,1]"
    assert public.meta.preset == "challenge-2020"


def test_public_metadata_holds_no_secret(tiny_challenge_dir: Path) -> None:
    text = (tiny_challenge_dir / META_FILE).read_text()
    meta = json.loads(text)
    assert "seed" not in meta["params"] and "seed" not in meta
    assert "20201" not in text  # the seed the fixture used
    assert set(meta["files"]) == {ENCRYPTION_FILE, LABEL_FILE}
    assert "private_ids" not in text and "public_ids" not in text
    for field in ("format_version", "encoder", "params", "class_names", "image_shape", "versions", "created"):
        assert field in meta
    assert {"numpy", "torch"} <= set(meta["versions"])


def test_writing_is_refused_over_an_existing_directory(tiny_challenge_dir: Path) -> None:
    with pytest.raises(InputFileError, match="already exists"):
        write_challenge(tiny_challenge_dir, tiny_encoded("challenge-2020", seed=1))


def test_overwrite_replaces_atomically(tmp_path: Path) -> None:
    write_challenge(tmp_path / "c", tiny_encoded("challenge-2020", seed=1))
    write_challenge(tmp_path / "c", tiny_encoded("challenge-2020", seed=2), overwrite=True)
    assert load_key(tmp_path / "c").seed == 2
    assert [p.name for p in tmp_path.iterdir()] == ["c"]


def test_original_release_layout_loads_without_key(challenge_copy: Path, tmp_path: Path) -> None:
    bare = tmp_path / "original"
    bare.mkdir()
    shutil.copy(challenge_copy / ENCRYPTION_FILE, bare / ENCRYPTION_FILE)
    shutil.copy(challenge_copy / LABEL_FILE, bare / LABEL_FILE)
    public = load_challenge(bare)
    assert public.meta.original_release
    assert public.num_rows == load_challenge(challenge_copy).num_rows
    assert not has_key(bare)
    with pytest.raises(InputFileError, match="no key directory"):
        load_key(bare)


def _bare_directory(tmp_path: Path, rows: int, classes: int = 10) -> Path:
    bare = tmp_path / f"bare-{rows}"
    bare.mkdir()
    np.save(bare / ENCRYPTION_FILE, np.zeros((rows, 32, 32, 3), np.float32))
    np.save(bare / LABEL_FILE, np.zeros((rows, classes), np.float32))
    return bare


def test_a_bare_directory_gets_the_release_parameters_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="instahide_bench.core.challenge"):
        meta = load_challenge(_bare_directory(tmp_path, 5000)).meta
    published = {"n": 100, "T": 50, "k": 6, "private_slots": 2, "upper": 0.65, "dom": 0.3, "mask": True}
    assert {name: meta.params[name] for name in published} == published
    assert meta.num_private == 100 and meta.params["pixels"] == "[-1,1]" and meta.pixels.name == "[-1,1]"
    assert set(published) <= set(meta.assumed) and "num_rows" not in meta.assumed
    assert "assuming the 2020 InstaHide Challenge's published parameters" in caplog.text
    assert "n=100" in caplog.text and "T=50" in caplog.text and "upper=0.65" in caplog.text


def test_a_bare_directory_of_another_size_keeps_only_what_fits(tmp_path: Path) -> None:
    assert load_challenge(_bare_directory(tmp_path, 1000)).meta.params["T"] == 10  # n=100 kept, T follows
    odd = load_challenge(_bare_directory(tmp_path, 1001)).meta
    assert "n" not in odd.params and "T" not in odd.params and odd.num_private is None
    assert odd.params["k"] == 6 and "n" not in odd.assumed


def test_a_published_challenge_assumes_nothing(challenge_copy: Path) -> None:
    assert load_challenge(challenge_copy).meta.assumed == ()


def test_modified_public_file_fails_its_checksum(challenge_copy: Path) -> None:
    data = np.load(challenge_copy / ENCRYPTION_FILE)
    data[0, 0, 0, 0] += 0.5
    np.save(challenge_copy / ENCRYPTION_FILE, data)
    with pytest.raises(InputFileError, match=r"encryption\.npy: sha256 mismatch"):
        load_challenge(challenge_copy)


def test_pickled_array_is_refused_without_unpickling(challenge_copy: Path) -> None:
    rows = load_challenge(challenge_copy).num_rows
    _rewrite(challenge_copy / ENCRYPTION_FILE, np.array([object()] * rows, dtype=object))
    with pytest.raises(InputFileError, match="pickled/object array"):
        load_challenge(challenge_copy)


def test_nchw_is_named(challenge_copy: Path) -> None:
    data = np.load(challenge_copy / ENCRYPTION_FILE)
    _rewrite(challenge_copy / ENCRYPTION_FILE, np.ascontiguousarray(data.transpose(0, 3, 1, 2)))
    with pytest.raises(InputFileError, match="looks like NCHW"):
        load_challenge(challenge_copy)


def test_wrong_dtype_is_named(challenge_copy: Path) -> None:
    data = np.load(challenge_copy / ENCRYPTION_FILE)
    _rewrite(challenge_copy / ENCRYPTION_FILE, data.astype(np.float64))
    with pytest.raises(InputFileError, match="dtype float64, expected float32"):
        load_challenge(challenge_copy)


def test_non_finite_values_are_counted_with_first_row(challenge_copy: Path) -> None:
    data = np.load(challenge_copy / ENCRYPTION_FILE)
    data[5, 1, 1, 1] = np.nan
    data[7, 0, 0, 0] = np.inf
    _rewrite(challenge_copy / ENCRYPTION_FILE, data)
    with pytest.raises(InputFileError, match="2 NaN/inf value\\(s\\), first in row 5"):
        load_challenge(challenge_copy)


def test_truncated_file_is_named(challenge_copy: Path) -> None:
    path = challenge_copy / ENCRYPTION_FILE
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(InputFileError, match="truncated"):
        load_challenge(challenge_copy)


def test_label_rows_must_match(challenge_copy: Path) -> None:
    labels = np.load(challenge_copy / LABEL_FILE)
    _rewrite(challenge_copy / LABEL_FILE, labels[:-1])
    with pytest.raises(InputFileError, match=r"label\.npy: shape .* expected \d+ rows"):
        load_challenge(challenge_copy)


def test_damaged_metadata_is_named(challenge_copy: Path) -> None:
    (challenge_copy / META_FILE).write_text("{not json")
    with pytest.raises(InputFileError, match=r"challenge\.json: not valid JSON"):
        load_challenge(challenge_copy)
    (challenge_copy / META_FILE).write_text(json.dumps({"format_version": 1}))
    with pytest.raises(InputFileError, match="missing field"):
        load_challenge(challenge_copy)


def test_missing_directory_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="challenge directory not found"):
        load_challenge(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="not a challenge"):
        load_challenge(tmp_path / "empty")


def test_not_a_npy_file_is_named(challenge_copy: Path) -> None:
    (challenge_copy / LABEL_FILE).write_bytes(pickle.dumps({"labels": [1, 2, 3]}))
    (challenge_copy / META_FILE).unlink()
    with pytest.raises(InputFileError, match=r"label\.npy: not a \.npy file"):
        load_challenge(challenge_copy)


def test_tampered_key_is_detected(challenge_copy: Path) -> None:
    private = np.load(challenge_copy / "key" / "private.npy")
    np.save(challenge_copy / "key" / "private.npy", private * 0)
    with pytest.raises(InputFileError, match=re.escape("sha256 mismatch with key.json")):
        load_key(challenge_copy)


def test_the_original_layout_writes_no_metadata_but_keeps_the_key(tmp_path: Path) -> None:
    encoded = tiny_encoded("challenge-2020", seed=3)
    path = write_challenge(tmp_path / "bare", encoded, original_layout=True)
    assert sorted(p.name for p in path.iterdir()) == [ENCRYPTION_FILE, "key", LABEL_FILE]
    public = load_challenge(path)
    assert public.meta.original_release and public.meta.challenge_id.startswith("original-")
    np.testing.assert_array_equal(public.encryption, encoded.encryption)
    assert load_key(path, public.num_rows).seed == 3
