"""The ``npy:PATH`` source: accepted layouts and dtypes, labels in .npz, and every refusal."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from instahide_bench.core.data import parse_source
from instahide_bench.core.data.arrays import load_array_images
from instahide_bench.core.errors import ConfigError, InputFileError


def images(n: int = 6) -> np.ndarray:
    return np.random.default_rng(n).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def test_uint8_nhwc_npy_loads_and_is_chosen_deterministically(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, images())
    source = parse_source(f"npy:{path}", "private")
    chosen = source.load(4, seed=3)
    assert chosen.images.shape == (4, 32, 32, 3) and chosen.class_names == ("images",)
    np.testing.assert_array_equal(chosen.images, images()[chosen.ids])
    np.testing.assert_array_equal(chosen.ids, source.load(4, seed=3).ids)
    assert str(tmp_path) not in chosen.origin
    with pytest.raises(ConfigError, match="holds 6 images; 7 were asked for"):
        source.load(7, 0)


def test_unit_floats_and_small_integers_become_uint8(tmp_path: Path) -> None:
    np.save(tmp_path / "f.npy", images().astype(np.float32) / 255)
    np.testing.assert_array_equal(load_array_images(tmp_path / "f.npy").images, images())
    np.save(tmp_path / "i.npy", images().astype(np.int64))
    np.testing.assert_array_equal(load_array_images(tmp_path / "i.npy").images, images())


def test_npz_with_labels_and_class_names(tmp_path: Path) -> None:
    path = tmp_path / "set.npz"
    np.savez(path, x=images(), y=np.array([0, 1, 2, 0, 1, 2]), class_names=np.array(["a", "b", "c"]))
    loaded = load_array_images(path)
    assert loaded.class_names == ("a", "b", "c") and loaded.labels.tolist() == [0, 1, 2, 0, 1, 2]
    np.savez(path, images=images(), labels=np.array([0, 3, 0, 0, 0, 0]))
    assert load_array_images(path).class_names == ("0", "1", "2", "3")


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (
            images().transpose(0, 3, 1, 2),
            r"looks like NCHW; images must be NHWC \(N x 32 x 32 x 3\): use array.transpose\(0, 2, 3, 1\)",
        ),
        (images()[..., 0], r"shape \(6, 32, 32\), expected N x 32 x 32 x 3 \(NHWC\)"),
        (images().astype(np.float32), r"float images must lie in \[0, 1\]"),
        (np.full((2, 32, 32, 3), np.nan, np.float32), "NaN or infinite"),
        (images().astype(np.int16) - 1, "integer images must lie in 0..255"),
        (np.zeros((2, 32, 32, 3), bool), "must be uint8, integer or float, found bool"),
    ],
)
def test_bad_arrays_are_refused_naming_the_file(tmp_path: Path, array: np.ndarray, message: str) -> None:
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(InputFileError, match=message) as info:
        load_array_images(path)
    assert str(info.value).startswith(str(path))


def test_pickled_arrays_are_refused_without_unpickling(tmp_path: Path) -> None:
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(InputFileError, match="pickled/object array"):
        load_array_images(path)
    npz = tmp_path / "objects.npz"
    np.savez(npz, images=np.array([{"a": 1}], dtype=object))
    with pytest.raises(InputFileError, match="pickled/object array"):
        load_array_images(npz)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"pixels": images()}, r"no 'images' or 'x' array \(found: pixels\)"),
        ({"images": images(), "labels": np.zeros(5, np.int64)}, r"'labels' must be 6 integers"),
        ({"images": images(), "labels": np.full(6, 0.5)}, r"'labels' must be 6 integers"),
        ({"images": images(), "labels": np.full(6, -1)}, "negative class numbers"),
        (
            {"images": images(), "labels": np.full(6, 2), "class_names": np.array(["a", "b"])},
            "uses class 2 but class_names has 2",
        ),
        ({"images": images(), "class_names": np.zeros((2, 2))}, "class_names must be a 1-D string array"),
    ],
)
def test_bad_npz_contents_are_refused(tmp_path: Path, arrays: dict, message: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputFileError, match=message):
        load_array_images(path)


def test_missing_wrongly_named_and_truncated_files(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="file not found"):
        load_array_images(tmp_path / "none.npy")
    (tmp_path / "x.png").write_bytes(b"x")
    with pytest.raises(InputFileError, match=re.escape("wants a .npy or .npz file")):
        load_array_images(tmp_path / "x.png")
    path = tmp_path / "cut.npy"
    np.save(path, images())
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(InputFileError, match="truncated"):
        load_array_images(path)
    with pytest.raises(ConfigError, match="needs a path"):
        parse_source("npy", "public")
