"""The ``embedded`` source: scikit-image's bundled photographs, private tiles and public patches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from instahide_bench.core.data import parse_source
from instahide_bench.core.data.embedded import (
    PRIVATE_PHOTOGRAPHS,
    PUBLIC_PHOTOGRAPHS,
    EmbeddedPrivateSource,
    EmbeddedPublicSource,
    TileConfig,
    embedded_private_images,
    photograph_tiles,
    skimage_data_dir,
)
from instahide_bench.core.data.patches import ID_STRIDE
from instahide_bench.core.errors import ConfigError


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSTAHIDE_BENCH_CACHE", str(tmp_path / "cache"))


def test_roles_use_disjoint_photographs_and_never_the_motorcycle_twin() -> None:
    assert not set(PRIVATE_PHOTOGRAPHS) & set(PUBLIC_PHOTOGRAPHS)
    assert "motorcycle_right.png" not in PRIVATE_PHOTOGRAPHS + PUBLIC_PHOTOGRAPHS


def test_private_pool_is_large_distinct_and_labelled_by_photograph() -> None:
    pool = embedded_private_images()
    assert len(pool) >= 300
    flat = pool.images.reshape(len(pool), -1)
    assert len(np.unique(flat, axis=0)) == len(pool)
    assert pool.class_names == tuple(Path(name).stem for name in PRIVATE_PHOTOGRAPHS)
    assert set(np.unique(pool.labels)) == set(range(len(pool.class_names)))
    assert flat.std(axis=1).min() >= TileConfig().min_std
    assert len(np.unique(pool.ids)) == len(pool)


def test_tiles_do_not_overlap() -> None:
    """Tiles of a 6-per-short-side grid on astronaut (512x512) are 85 px apart: 36 of them."""
    tiles = photograph_tiles(skimage_data_dir() / "astronaut.png", TileConfig())
    assert tiles.shape == (36, 32, 32, 3)


def test_private_load_is_deterministic_and_bounded() -> None:
    source = parse_source("embedded", "private")
    assert isinstance(source, EmbeddedPrivateSource) and source.spec == "embedded"
    first, again, other = source.load(100, 7), source.load(100, 7), source.load(100, 8)
    assert first.images.shape == (100, 32, 32, 3)
    np.testing.assert_array_equal(first.images, again.images)
    np.testing.assert_array_equal(first.ids, again.ids)
    assert not np.array_equal(first.ids, other.ids)
    expected = rf"embedded holds {source.available()} images; 10000 were asked for \(use cifar10"
    with pytest.raises(ConfigError, match=expected):
        source.load(10_000, 0)


def test_public_pool_of_5000_varied_deterministic_patches() -> None:
    source = parse_source("embedded", "public")
    assert isinstance(source, EmbeddedPublicSource)
    pool = source.load(5000, 0)
    assert pool.images.shape == (5000, 32, 32, 3) and pool.class_names == ("public",)
    assert not pool.labels.any()
    assert len(np.unique(pool.ids)) == 5000
    assert len(np.unique(pool.images.reshape(5000, -1), axis=0)) > 4500
    assert len(np.unique(pool.ids // ID_STRIDE)) >= 6  # drawn from most of the photographs
    again = source.load(5000, 0)  # served from the on-disk cache
    np.testing.assert_array_equal(pool.images, again.images)
    assert "public" in pool.origin and "/" not in pool.origin
    private = embedded_private_images().images.reshape(-1, 32 * 32 * 3)
    both = np.concatenate([private, pool.images.reshape(5000, -1)])
    assert len(np.unique(both, axis=0)) == len(np.unique(pool.images.reshape(5000, -1), axis=0)) + len(private)


def test_embedded_takes_no_path() -> None:
    with pytest.raises(ConfigError, match="takes no path"):
        parse_source("embedded:/somewhere", "private")
