"""The ``cifar10:PATH`` source: layout, splits, restricted unpickling, archive verification."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest

from instahide_bench.core.data import parse_source
from instahide_bench.core.data.cifar10 import (
    CIFAR10_MD5,
    download_cifar10,
    extract_archive_safely,
    load_cifar10,
    parse_cifar10_spec,
    verify_archive,
)
from instahide_bench.core.errors import ConfigError, InputFileError

SHARED_CIFAR = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "cifar10-subset"
CLASSES = [b"cat", b"dog", b"ship"]


def nhwc_images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def batch_record(images: np.ndarray, labels: list[int]) -> dict[bytes, object]:
    """A batch as the official archive pickles it: bytes keys, channel-major rows."""
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), 3072)
    return {b"batch_label": b"fake", b"labels": labels, b"data": rows, b"filenames": [b"x.png"] * len(images)}


def write_pickle(path: Path, obj: object) -> None:
    path.write_bytes(pickle.dumps(obj, protocol=2))


def make_cifar(root: Path, rows: tuple[int, ...] = (7, 5), test_rows: int = 4) -> dict[str, np.ndarray]:
    """A CIFAR-10 python folder with arbitrary row counts; returns the NHWC images written."""
    batches = root / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    write_pickle(batches / "batches.meta", {b"label_names": CLASSES, b"num_cases_per_batch": 10000})
    written = {}
    for number, n in enumerate(rows, start=1):
        name = f"data_batch_{number}"
        written[name] = nhwc_images(n, number)
        write_pickle(batches / name, batch_record(written[name], [i % 3 for i in range(n)]))
    written["test_batch"] = nhwc_images(test_rows, 99)
    write_pickle(batches / "test_batch", batch_record(written["test_batch"], [2] * test_rows))
    return written


def test_rows_become_nhwc_images_with_official_ids(tmp_path: Path) -> None:
    written = make_cifar(tmp_path)
    train = load_cifar10(tmp_path)  # the parent folder is accepted
    np.testing.assert_array_equal(train.images, np.concatenate([written["data_batch_1"], written["data_batch_2"]]))
    assert train.class_names == ("cat", "dog", "ship")
    np.testing.assert_array_equal(train.ids, [*range(7), *range(10000, 10005)])
    test = load_cifar10(tmp_path / "cifar-10-batches-py", "test")
    np.testing.assert_array_equal(test.images, written["test_batch"])
    assert test.labels.tolist() == [2] * 4 and test.ids.tolist() == [0, 1, 2, 3]
    everything = load_cifar10(tmp_path, "all")
    assert len(everything) == 16 and everything.ids[-4:].tolist() == [50000, 50001, 50002, 50003]


def test_python3_pickles_of_any_protocol_load_too(tmp_path: Path) -> None:
    make_cifar(tmp_path)
    batches = tmp_path / "cifar-10-batches-py"
    images = nhwc_images(3, 5)
    record = {k.decode(): v for k, v in batch_record(images, [0, 1, 2]).items()}
    for protocol in (2, 4, 5):
        (batches / "data_batch_1").write_bytes(pickle.dumps(record, protocol=protocol))
        np.testing.assert_array_equal(load_cifar10(batches).images[:3], images)


def test_source_spec_split_and_selection(tmp_path: Path) -> None:
    make_cifar(tmp_path)
    source = parse_source(f"cifar10:{tmp_path}?split=test", "private")
    chosen = source.load(3, seed=1)
    assert len(chosen) == 3 and chosen.origin == "cifar10?split=test"
    np.testing.assert_array_equal(chosen.images, source.load(3, seed=1).images)
    with pytest.raises(ConfigError, match="holds 4 images; 5 were asked for"):
        source.load(5, 0)
    assert parse_cifar10_spec("/a/b") == ("/a/b", "train", None)
    assert parse_cifar10_spec("/a/b?split=test&classes=0-1,3") == ("/a/b", "test", (0, 1, 3))
    some = parse_source(f"cifar10:{tmp_path}?split=test&classes=1", "private")
    assert some.spec.endswith("?split=test&classes=1")
    assert set(some.load_all().labels.tolist()) <= {1}  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="unknown cifar10 option"):
        parse_cifar10_spec("/a?splt=test")
    with pytest.raises(ConfigError, match="unknown CIFAR-10 split"):
        parse_source(f"cifar10:{tmp_path}?split=valid", "private")


class RunsShell:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch pwned-by-pickle",))


def test_a_pickle_that_would_run_code_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_cifar(tmp_path)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_1"
    write_pickle(batch, {b"data": RunsShell(), b"labels": []})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputFileError, match=r"data_batch_1: pickle refers to (posix|os)\.system"):
        load_cifar10(tmp_path)
    assert not (tmp_path / "pwned-by-pickle").exists()


def rows(n: int, columns: int = 3072, dtype: type = np.uint8) -> np.ndarray:
    return np.zeros((n, columns), dtype)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({b"data": rows(3, columns=100), b"labels": [0, 0, 0]}, r"rows x 3072, found uint8 array of shape \(3, 100\)"),
        ({b"data": rows(3, dtype=np.float32), b"labels": [0, 0, 0]}, "must be a uint8 array"),
        ({b"data": rows(3), b"labels": [0, 0]}, "2 entries for 3 image rows"),
        ({b"data": rows(1), b"labels": [7]}, r"must lie in \[0, 3\)"),
        ({b"data": rows(1), b"labels": ["x"]}, "must be a list of integers"),
        ({b"labels": [0]}, "has no 'data' entry"),
        ([1, 2, 3], "expected a pickled dict"),
    ],
)
def test_malformed_batches_are_reported_by_file(tmp_path: Path, record: object, message: str) -> None:
    make_cifar(tmp_path)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_1"
    write_pickle(batch, record)
    with pytest.raises(InputFileError, match=message) as info:
        load_cifar10(tmp_path)
    assert str(info.value).startswith(str(batch))


def test_a_truncated_batch_is_reported_and_a_missing_one_just_shrinks_the_split(tmp_path: Path) -> None:
    make_cifar(tmp_path)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_1"
    batch.write_bytes(batch.read_bytes()[:500])
    with pytest.raises(InputFileError, match=f"{batch}: not a readable CIFAR-10 pickle"):
        load_cifar10(tmp_path)
    batch.unlink()
    assert len(load_cifar10(tmp_path)) == 5  # data_batch_2 alone is still a training split


def test_missing_folders_and_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="directory not found"):
        load_cifar10(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match=re.escape("no batches.meta")):
        load_cifar10(tmp_path / "empty")
    make_cifar(tmp_path / "c")
    batches = tmp_path / "c" / "cifar-10-batches-py"
    (batches / "test_batch").unlink()
    with pytest.raises(InputFileError, match="test_batch: file not found"):
        load_cifar10(batches, "test")
    for batch in batches.glob("data_batch_*"):
        batch.unlink()
    with pytest.raises(InputFileError, match="no data_batch_N files"):
        load_cifar10(batches)
    with pytest.raises(ConfigError, match="needs a path"):
        parse_source("cifar10", "private")


# ---------------------------------------------------------------- archive download and extraction


def make_archive(path: Path, members: dict[str, bytes]) -> str:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_download_verifies_and_extracts_a_local_archive(tmp_path: Path) -> None:
    make_cifar(tmp_path / "src")
    batches = tmp_path / "src" / "cifar-10-batches-py"
    archive = tmp_path / "cifar-10-python.tar.gz"
    md5 = make_archive(archive, {f"cifar-10-batches-py/{p.name}": p.read_bytes() for p in batches.iterdir()})
    verify_archive(archive, md5)
    found = download_cifar10(tmp_path / "dest", url=archive.resolve().as_uri(), md5=md5)
    assert found == tmp_path / "dest" / "cifar-10-batches-py"
    assert len(load_cifar10(found)) == 12


def test_a_corrupted_archive_fails_its_checksum(tmp_path: Path) -> None:
    archive = tmp_path / "cifar-10-python.tar.gz"
    md5 = make_archive(archive, {"cifar-10-batches-py/batches.meta": b"x"})
    archive.write_bytes(archive.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(InputFileError, match=rf"{archive.name}: md5 is [0-9a-f]{{32}}, expected {md5}"):
        verify_archive(archive, md5)
    with pytest.raises(InputFileError, match=f"expected {CIFAR10_MD5}"):
        download_cifar10(tmp_path / "dest", url=archive.resolve().as_uri())
    assert not (tmp_path / "dest" / "cifar-10-batches-py").exists()
    with pytest.raises(InputFileError, match="file not found"):
        verify_archive(tmp_path / "missing.tar.gz", md5)


@pytest.mark.parametrize("name", ["../escaped.txt", "/tmp/absolute-escape.txt", "cifar-10-batches-py/../../x.txt"])
def test_members_escaping_the_destination_are_refused(tmp_path: Path, name: str) -> None:
    archive = tmp_path / "evil.tar.gz"
    make_archive(archive, {"cifar-10-batches-py/batches.meta": b"x", name: b"owned"})
    dest = tmp_path / "dest" / "inner"
    dest.mkdir(parents=True)
    with pytest.raises(InputFileError, match="would land outside"):
        extract_archive_safely(archive, dest)
    assert not (tmp_path / "dest" / "escaped.txt").exists() and not (dest / "cifar-10-batches-py").exists()


def test_link_members_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / "links.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        link = tarfile.TarInfo("cifar-10-batches-py")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc"
        tar.addfile(link)
    with pytest.raises(InputFileError, match="not a plain file or folder"):
        extract_archive_safely(archive, tmp_path / "dest")


@pytest.mark.skipif(not SHARED_CIFAR.is_dir(), reason="needs ../shared/data/cifar10-subset")
def test_the_real_subset_reads_unchanged() -> None:
    train, test = load_cifar10(SHARED_CIFAR), load_cifar10(SHARED_CIFAR / "cifar-10-batches-py", "test")
    assert len(train) == 2 * 1017 and len(test) == 1017
    assert train.class_names[:3] == ("airplane", "automobile", "bird") and len(train.class_names) == 10
    with open(SHARED_CIFAR / "cifar-10-batches-py" / "test_batch", "rb") as handle:
        raw = pickle.load(handle, encoding="bytes")  # trusted fixture data: plain pickle as a reference
    np.testing.assert_array_equal(test.images[10], raw[b"data"][10].reshape(3, 32, 32).transpose(1, 2, 0))
    assert test.labels.tolist() == raw[b"labels"]
    assert train.ids[1017] == 10000
