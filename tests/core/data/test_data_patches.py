"""The shared SIFT patch sampler: box counting, determinism, workers, caching, bad files."""

from __future__ import annotations

import logging
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from instahide_bench.core.data import patches
from instahide_bench.core.data.embedded import PUBLIC_PHOTOGRAPHS, skimage_data_dir
from instahide_bench.core.data.patches import (
    ID_STRIDE,
    CropConfig,
    cached_sample_patches,
    count_keypoints_in_boxes,
    draw_candidate_boxes,
    file_fingerprints,
    load_working_image,
    sample_patches,
)
from instahide_bench.core.errors import ConfigError, InputFileError

#: A small working resolution keeps SIFT cheap in tests; 32-pixel crops are still allowed.
SERIAL = CropConfig(working_short_side=128, workers=1)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INSTAHIDE_BENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def texture_files(folder: Path, count: int) -> list[Path]:
    """``count`` small PNGs cut from bundled textures: cheap SIFT, plenty of keypoints."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        name = ("grass.png", "gravel.png", "brick.png")[i % 3]
        with Image.open(skimage_data_dir() / name) as source:
            offset = 16 * (i // 3)
            tile = source.convert("RGB").crop((offset, offset, offset + 128, offset + 128))
        paths.append(folder / f"texture_{i:02d}.png")
        tile.save(paths[-1])
    return paths


def test_box_counts_match_brute_force() -> None:
    rng = np.random.default_rng(0)
    shape = (50, 70)
    keypoints = np.stack([rng.integers(0, 50, 300), rng.integers(0, 70, 300)], axis=1)
    config = CropConfig(working_short_side=50, min_crop_fraction=0.65, max_crop_fraction=1)
    boxes = draw_candidate_boxes(rng, 200, shape, config)
    rows, cols = keypoints.T
    expected = [
        np.sum((rows >= top) & (rows < top + side) & (cols >= left) & (cols < left + side)) for top, left, side in boxes
    ]
    np.testing.assert_array_equal(count_keypoints_in_boxes(keypoints, shape, boxes), expected)


def test_candidate_boxes_fit_and_do_not_depend_on_how_many_are_drawn() -> None:
    config = CropConfig()
    many = draw_candidate_boxes(np.random.default_rng(5), 500, (256, 400), config)
    few = draw_candidate_boxes(np.random.default_rng(5), 20, (256, 400), config)
    np.testing.assert_array_equal(many[:20], few)
    top, left, side = many.T
    assert side.min() >= 64 and side.max() <= 192
    assert (top >= 0).all() and (left >= 0).all() and (top + side <= 256).all() and (left + side <= 400).all()


def test_working_image_has_the_working_short_side_and_scales_16_bit(tmp_path: Path) -> None:
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((40, 60), 65535, np.uint16)).save(path)
    image = load_working_image(path, 256)
    assert (image.height, image.width) == (256, 384) and image.mode == "RGB"
    assert np.asarray(image).min() == 255  # white stays white instead of wrapping or clipping oddly


@pytest.mark.parametrize(
    "bad",
    [
        {"working_short_side": 16},
        {"min_crop_fraction": 0.8, "max_crop_fraction": 0.5},
        {"min_crop_fraction": 0.1},
        {"sift_upsampling": 3},
        {"workers": 0},
    ],
)
def test_crop_config_rejects_bad_values(bad: dict) -> None:
    with pytest.raises(ConfigError):
        CropConfig(**bad)


def test_patches_are_deterministic_sift_rich_and_identified(tmp_path: Path) -> None:
    paths = texture_files(tmp_path / "img", 4)
    first = sample_patches(paths, 30, seed=3, config=SERIAL)
    again = sample_patches(paths, 30, seed=3, config=SERIAL)
    other = sample_patches(paths, 30, seed=4, config=SERIAL)
    assert first.images.shape == (30, 32, 32, 3) and first.images.dtype == np.uint8
    np.testing.assert_array_equal(first.images, again.images)
    np.testing.assert_array_equal(first.ids, first.file_index * ID_STRIDE + first.candidate_index)
    assert not np.array_equal(first.images, other.images)
    assert (first.keypoint_counts > SERIAL.min_keypoints).all()
    # at most ceil(30 * 1.25 / 4) = 10 patches per image: the pool spreads over the images
    assert np.bincount(first.file_index).max() <= 10


def test_worker_processes_give_the_serial_result(tmp_path: Path) -> None:
    paths = texture_files(tmp_path / "img", patches._PARALLEL_MIN_IMAGES)
    serial = sample_patches(paths, 24, seed=1, config=SERIAL)
    parallel = sample_patches(paths, 24, seed=1, config=CropConfig(working_short_side=128, workers=2))
    np.testing.assert_array_equal(serial.images, parallel.images)
    np.testing.assert_array_equal(serial.ids, parallel.ids)


def test_a_broken_worker_pool_falls_back_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class DeadPool:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def submit(self, *args: object) -> Future:
            future: Future = Future()
            future.set_exception(BrokenProcessPool("worker died"))
            return future

        def shutdown(self, **kwargs: object) -> None:
            pass

    paths = texture_files(tmp_path / "img", patches._PARALLEL_MIN_IMAGES)
    serial = sample_patches(paths, 20, seed=2, config=SERIAL)
    monkeypatch.setattr(patches, "ProcessPoolExecutor", DeadPool)
    with caplog.at_level(logging.WARNING):
        fallback = sample_patches(paths, 20, seed=2, config=CropConfig(working_short_side=128, workers=2))
    np.testing.assert_array_equal(serial.images, fallback.images)
    assert "continuing in this process" in caplog.text


def test_images_short_of_their_quota_are_made_up_by_a_second_pass(tmp_path: Path) -> None:
    flat = tmp_path / "flat.png"
    Image.new("RGB", (200, 200), (90, 90, 90)).save(flat)
    paths = [flat, *texture_files(tmp_path / "img", 2)]
    result = sample_patches(paths, 12, seed=0, config=SERIAL)  # quota ceil(12 * 1.25 / 3) = 5 per image
    assert len(result) == 12 and 0 not in result.file_index
    assert np.bincount(result.file_index).max() > 5
    assert len(set(result.ids.tolist())) == 12


def test_unreadable_images_are_skipped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    paths = texture_files(tmp_path / "img", 2)
    broken = tmp_path / "img" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with caplog.at_level(logging.WARNING):
        result = sample_patches([broken, *paths], 10, seed=0, config=SERIAL)
    assert len(result) == 10 and 0 not in result.file_index
    assert "broken.png" in caplog.text


def test_errors_name_the_source(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"garbage")
    with pytest.raises(InputFileError, match="none of the 1 image files could be read"):
        sample_patches([broken], 5, seed=0, config=SERIAL, source=tmp_path)
    with pytest.raises(InputFileError, match="no images"):
        sample_patches([], 5, seed=0, source=tmp_path)
    with pytest.raises(ConfigError):
        sample_patches([broken], -1, seed=0)
    flat = tmp_path / "flat.png"
    Image.new("RGB", (300, 300), (90, 90, 90)).save(flat)
    with pytest.raises(InputFileError, match=r"could cut only 0 of the 5 patches") as info:
        sample_patches([flat], 5, seed=0, config=SERIAL, source=tmp_path)
    assert str(tmp_path) in str(info.value)


def _cached(paths: list[Path], root: Path, seed: int = 0, count: int = 12) -> patches.Patches:
    return cached_sample_patches(
        paths, count, seed, SERIAL, namespace="test", fingerprints=file_fingerprints(paths, root), source=root
    )


def test_second_run_reads_the_cache_without_running_sift(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_cache: Path
) -> None:
    paths = texture_files(tmp_path / "img", 3)
    first = _cached(paths, tmp_path / "img")
    assert len(list((isolated_cache / "patches").glob("test-*.npz"))) == 1

    def no_sift(*args: object, **kwargs: object) -> None:
        raise AssertionError("SIFT ran although the cache holds this pool")

    monkeypatch.setattr(patches, "detect_keypoints", no_sift)
    second = _cached(paths, tmp_path / "img")
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.ids, second.ids)
    with pytest.raises(AssertionError, match="SIFT ran"):  # another seed is another key
        _cached(paths, tmp_path / "img", seed=1)


def test_a_changed_file_or_a_damaged_cache_entry_means_a_rebuild(
    tmp_path: Path, isolated_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    paths = texture_files(tmp_path / "img", 3)
    first = _cached(paths, tmp_path / "img")
    (entry,) = (isolated_cache / "patches").glob("test-*.npz")
    entry.write_bytes(b"not an npz")
    with caplog.at_level(logging.WARNING):
        rebuilt = _cached(paths, tmp_path / "img")
    assert "damaged patch cache" in caplog.text
    np.testing.assert_array_equal(first.images, rebuilt.images)
    stat = paths[0].stat()
    import os

    os.utime(paths[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    _cached(paths, tmp_path / "img")
    assert len(list((isolated_cache / "patches").glob("test-*.npz"))) == 2


def test_public_photographs_pass_the_default_threshold_often() -> None:
    """Guards the documented claim: the bundled textures give >40-keypoint crops easily."""
    image = load_working_image(skimage_data_dir() / "gravel.png", 256)
    assert "gravel.png" in PUBLIC_PHOTOGRAPHS
    keypoints = patches.detect_keypoints(image, CropConfig())
    boxes = draw_candidate_boxes(np.random.default_rng(0), 100, (image.height, image.width), CropConfig())
    assert np.mean(count_keypoints_in_boxes(keypoints, (image.height, image.width), boxes) > 40) > 0.9
