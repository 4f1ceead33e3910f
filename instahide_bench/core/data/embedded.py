"""Kind ``embedded``: real photographs that scikit-image ships inside its wheel.

These let the project run and test end to end on a machine with no data set and no network:
the files are read straight from ``skimage/data/`` (never through ``skimage.data``'s fetchers,
which may download). Two DISJOINT groups of photographs serve the two roles, so that no public
patch can show a private image:

* private: colour photographs cut into a grid of non-overlapping square tiles, each downscaled
  to 32x32; the label is the photograph, so a challenge gets one class per photograph.
* public: grayscale photographs and textures, cut into SIFT-filtered patches by
  :mod:`.patches`, exactly like an ImageNet folder (same > 40 keypoint threshold).

Left out on purpose: ``motorcycle_right`` (the same scene as ``motorcycle_left``, which would
leak private content into the public pool), ``cell`` and ``clock_motion`` (almost no SIFT
keypoints) and the synthetic drawings (``color``, ``logo``, ``phantom``, ``chessboard``, ``horse``).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from instahide_bench.core.data.arrays import WholeSetSource
from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.data.patches import (
    CropConfig,
    cached_sample_patches,
    downscale_box,
    file_fingerprints,
    public_image_set,
)
from instahide_bench.core.data.sources import DataSource, Role, register_source
from instahide_bench.core.errors import ConfigError, InputFileError
from instahide_bench.core.images import IMAGE_SHAPE

logger = logging.getLogger(__name__)

PRIVATE_PHOTOGRAPHS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "motorcycle_left.png",
    "retina.jpg",
    "rocket.jpg",
)
PUBLIC_PHOTOGRAPHS = (
    "brick.png",
    "camera.png",
    "coins.png",
    "grass.png",
    "gravel.png",
    "moon.png",
    "page.png",
    "text.png",
)


def skimage_data_dir() -> Path:
    """The folder of photographs bundled in the installed scikit-image wheel."""
    import skimage

    return Path(skimage.__file__).resolve().parent / "data"


def available_photographs(names: tuple[str, ...]) -> list[Path]:
    """The bundled files among ``names`` (a future scikit-image may drop some); error if none."""
    data_dir = skimage_data_dir()
    found = [data_dir / name for name in names if (data_dir / name).is_file()]
    missing = sorted(set(names) - {p.name for p in found})
    if missing:
        logger.info("scikit-image in %s lacks %s; using the other photographs", data_dir, ", ".join(missing))
    if not found:
        raise InputFileError(data_dir, "none of the photographs bundled with scikit-image were found")
    return found


# ---------------------------------------------------------------- private role


@dataclass(frozen=True)
class TileConfig:
    """Private tiles: each photograph's short side is cut into ``tiles_per_short_side`` tiles.

    Cutting relative to the short side gives every photograph a similar number of tiles (so
    the classes are balanced) and a similar field of view. Tiles whose 32x32 version has a
    pixel standard deviation below ``min_std`` (e.g. the retina photograph's black border) are
    dropped: a flat image is neither a realistic private image nor distinct from its neighbours.
    """

    tiles_per_short_side: int = 6
    min_std: float = 8.0

    def __post_init__(self) -> None:
        if self.tiles_per_short_side < 1 or self.min_std < 0:
            raise ConfigError("tiles_per_short_side must be >= 1 and min_std >= 0")


def photograph_tiles(path: Path, config: TileConfig) -> np.ndarray:
    """Non-overlapping square tiles of one photograph (centred grid), each downscaled to 32x32."""
    with Image.open(path) as opened:
        image = opened.convert("RGB")
    tile = min(image.size) // config.tiles_per_short_side
    if tile < IMAGE_SHAPE[0]:
        raise ConfigError(f"{path.name}: tiles of {tile} px would be upscaled; use fewer tiles per side")
    columns, rows = image.width // tile, image.height // tile
    top0, left0 = (image.height - rows * tile) // 2, (image.width - columns * tile) // 2
    tiles = []
    for row in range(rows):
        for column in range(columns):
            top, left = top0 + row * tile, left0 + column * tile
            tiles.append(downscale_box(image, (left, top, left + tile, top + tile)))
    return np.stack(tiles)


@functools.lru_cache(maxsize=4)
def embedded_private_images(config: TileConfig = TileConfig()) -> ImageSet:
    """Every distinct private tile, in a fixed order (``ids`` = position in that order)."""
    paths = available_photographs(PRIVATE_PHOTOGRAPHS)
    images, labels = [], []
    for label, path in enumerate(paths):
        tiles = photograph_tiles(path, config)
        keep = tiles.reshape(len(tiles), -1).std(axis=1) >= config.min_std
        images.append(tiles[keep])
        labels.append(np.full(int(keep.sum()), label, np.int64))
    all_images, all_labels = np.concatenate(images), np.concatenate(labels)
    _, first = np.unique(all_images.reshape(len(all_images), -1), axis=0, return_index=True)
    distinct = np.sort(first)
    return ImageSet(
        all_images[distinct],
        all_labels[distinct],
        tuple(p.stem for p in paths),
        "embedded-private",
        distinct.astype(np.int64),
    )


class EmbeddedPrivateSource(WholeSetSource):
    """Private role of ``embedded``: ``count`` distinct tiles chosen by ``seed``."""

    spec = "embedded"
    shortage_hint = " (use cifar10:PATH, folder:PATH or npy:PATH for more private images)"

    def __init__(self, config: TileConfig = TileConfig()) -> None:
        self.config = config

    def available(self) -> int:
        return len(embedded_private_images(self.config))

    def load_all(self) -> ImageSet:
        return embedded_private_images(self.config)


# ---------------------------------------------------------------- public role


class EmbeddedPublicSource:
    """Public role of ``embedded``: SIFT-filtered patches of the public photographs (cached on disk)."""

    spec = "embedded"

    def __init__(self, config: CropConfig | None = None) -> None:
        self.config = config if config is not None else CropConfig()

    def load(self, count: int, seed: int) -> ImageSet:
        paths = available_photographs(PUBLIC_PHOTOGRAPHS)
        data_dir = skimage_data_dir()
        patches = cached_sample_patches(
            paths,
            count,
            seed,
            self.config,
            namespace="embedded-public",
            fingerprints=file_fingerprints(paths, data_dir),
            source=data_dir,
        )
        return public_image_set(patches, f"embedded-public({self.config.describe()})")


@register_source("embedded")
def embedded_source(path: str | None, role: Role) -> DataSource:
    if path:
        raise ConfigError(f"the embedded source takes no path (got embedded:{path})")
    return EmbeddedPrivateSource() if role == "private" else EmbeddedPublicSource()
