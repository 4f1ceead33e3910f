"""The ``folder:PATH`` source: recursive listing, labels, caching, bad folders, real ImageNet samples."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from instahide_bench.core.data import parse_source
from instahide_bench.core.data import patches as patches_module
from instahide_bench.core.data.embedded import skimage_data_dir
from instahide_bench.core.data.folder import FolderSource, list_image_files
from instahide_bench.core.data.patches import ID_STRIDE, CropConfig
from instahide_bench.core.errors import ConfigError, InputFileError

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
IMAGENET_SAMPLES = SHARED_DATA / "imagenet-samples"
FAST = CropConfig(working_short_side=128, workers=1)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INSTAHIDE_BENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    """grass/ and gravel/ subfolders with two JPEGs each, one top-level PNG, plus noise to ignore."""
    root = tmp_path / "photos"
    for name in ("grass", "gravel"):
        (root / name).mkdir(parents=True)
        with Image.open(skimage_data_dir() / f"{name}.png") as source:
            image = source.convert("RGB")
        image.crop((0, 0, 160, 128)).save(root / name / "a.jpg")
        image.crop((200, 200, 360, 328)).save(root / name / "b.JPEG")
    with Image.open(skimage_data_dir() / "brick.png") as source:
        source.convert("RGB").crop((0, 0, 128, 128)).save(root / "brick.png")
    (root / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "x.png").write_bytes(b"ignored")
    return root


def test_listing_is_recursive_sorted_and_skips_hidden_entries(photo_folder: Path) -> None:
    names = [p.relative_to(photo_folder).as_posix() for p in list_image_files(photo_folder)]
    assert names == ["brick.png", "grass/a.jpg", "grass/b.JPEG", "gravel/a.jpg", "gravel/b.JPEG"]


def test_public_patches_are_deterministic_and_leak_no_path(photo_folder: Path) -> None:
    source = FolderSource(photo_folder, "public", FAST)
    first, again = source.load(20, 5), source.load(20, 5)
    assert first.images.shape == (20, 32, 32, 3) and first.class_names == ("public",)
    np.testing.assert_array_equal(first.images, again.images)
    np.testing.assert_array_equal(first.ids, again.ids)
    assert str(photo_folder) not in first.origin and first.origin.startswith("folder(")
    assert not np.array_equal(first.ids, source.load(20, 6).ids)


def test_private_labels_are_top_level_subfolders(photo_folder: Path) -> None:
    images = FolderSource(photo_folder, "private", FAST).load(25, 0)
    assert images.class_names == ("grass", "gravel", "images")
    files = list_image_files(photo_folder)
    for label, file_index in zip(images.labels, images.ids // ID_STRIDE, strict=True):
        parts = files[file_index].relative_to(photo_folder).parts
        assert images.class_names[label] == (parts[0] if len(parts) > 1 else "images")


def test_second_run_comes_from_the_cache(photo_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = FolderSource(photo_folder, "public", FAST).load(15, 1)

    def no_sampling(*args: object, **kwargs: object) -> None:
        raise AssertionError("patches were cut again although they are cached")

    monkeypatch.setattr(patches_module, "sample_patches", no_sampling)
    np.testing.assert_array_equal(first.images, FolderSource(photo_folder, "private", FAST).load(15, 1).images)


def test_corrupt_images_are_skipped_with_a_warning(photo_folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    (photo_folder / "grass" / "c_truncated.jpg").write_bytes((photo_folder / "grass" / "a.jpg").read_bytes()[:300])
    with caplog.at_level(logging.WARNING):
        images = FolderSource(photo_folder, "public", FAST).load(30, 0)
    assert len(images) == 30
    assert "c_truncated.jpg" in caplog.text


def test_bad_folders_are_reported(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="directory not found"):
        parse_source(f"folder:{tmp_path / 'missing'}", "public").load(5, 0)
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(InputFileError, match="not a directory"):
        parse_source(f"folder:{tmp_path / 'file.png'}", "public").load(5, 0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="no JPEG/PNG images"):
        parse_source(f"folder:{tmp_path / 'empty'}", "public").load(5, 0)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.jpg").write_bytes(b"garbage")
    with pytest.raises(InputFileError, match="none of the 1 image files could be read"):
        parse_source(f"folder:{tmp_path / 'junk'}", "public").load(5, 0)
    with pytest.raises(ConfigError, match="needs a path"):
        parse_source("folder", "public")


@pytest.mark.skipif(not IMAGENET_SAMPLES.is_dir(), reason="needs ../shared/data/imagenet-samples")
def test_imagenet_samples_give_sift_rich_patches() -> None:
    pool = FolderSource(IMAGENET_SAMPLES, "public", CropConfig(workers=1)).load(12, 0)
    assert pool.images.shape == (12, 32, 32, 3)
    assert len(np.unique(pool.ids // ID_STRIDE)) == 12  # quota 1 per image: 12 different photographs
    assert pool.images.std() > 30  # real photographs, not flat crops
