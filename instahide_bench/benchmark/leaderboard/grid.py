"""A picture of what an attack recovered: private images next to their best recoveries.

For a fixed, evenly spaced sample of the private images, each original is shown beside the
decryption row that recovers it best (the highest SSIM among the rows that contain it),
upscaled with nearest-neighbour so that pixels stay visible and the PNG compresses well.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from instahide_bench.core.challenge import ChallengeKey, PublicChallenge
from instahide_bench.core.io import write_bytes_atomic
from instahide_bench.core.metric import to_pixel_values, to_unit_images
from instahide_bench.core.scoring import RowScores, score_decryption

MAX_IMAGES = 16
PAIRS_PER_LINE = 4
SCALE = 3
GAP = 4
_BACKGROUND = (255, 255, 255)


@dataclass(frozen=True)
class GridSource:
    """What a grid is drawn from; ``rows`` (per-row scores) are computed when not given."""

    challenge: PublicChallenge
    key: ChallengeKey
    decryption: np.ndarray
    rows: RowScores | None = None


def best_recoveries(rows: RowScores, num_private: int) -> tuple[np.ndarray, np.ndarray]:
    """Per private image: the row recovering it best and that SSIM (-1 and NaN where no row holds it)."""
    count = rows.ssim.shape[0]
    images = rows.private_index.reshape(-1)
    values = rows.ssim.reshape(-1)
    row_of = np.repeat(np.arange(count), rows.private_index.shape[1])
    order = np.lexsort((row_of, -values, images))  # by image, best SSIM first, then lowest row
    first = np.unique(images[order], return_index=True)[1]
    best_row = np.full(num_private, -1, dtype=np.int64)
    best_ssim = np.full(num_private, np.nan)
    chosen = order[first]
    best_row[images[chosen]] = row_of[chosen]
    best_ssim[images[chosen]] = values[chosen]
    return best_row, best_ssim


def sample_indices(num_private: int, max_images: int = MAX_IMAGES) -> np.ndarray:
    """Evenly spaced private indices (deterministic, so that grids of one challenge are comparable)."""
    count = min(num_private, max_images)
    return np.unique(np.linspace(0, num_private - 1, count).round().astype(np.int64))


def _to_uint8(images_unit: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(images_unit * 255.0), 0, 255).astype(np.uint8)


def compose_grid(
    originals: np.ndarray,
    recoveries: np.ndarray,
    *,
    scale: int = SCALE,
    pairs_per_line: int = PAIRS_PER_LINE,
    gap: int = GAP,
) -> Image.Image:
    """Lay out (original, recovery) uint8 HWC pairs, ``pairs_per_line`` pairs per line."""
    count, height, width, _ = originals.shape
    tile_h, tile_w = height * scale, width * scale
    lines = max(1, -(-count // pairs_per_line))
    columns = min(count, pairs_per_line) if count else 1
    pair_w = 2 * tile_w + gap
    canvas = Image.new(
        "RGB", (columns * pair_w + (columns - 1) * 2 * gap, lines * tile_h + (lines - 1) * gap), _BACKGROUND
    )
    for number in range(count):
        line, column = divmod(number, pairs_per_line)
        x = column * (pair_w + 2 * gap)
        y = line * (tile_h + gap)
        for offset, image in ((0, originals[number]), (tile_w + gap, recoveries[number])):
            tile = Image.fromarray(image).resize((tile_w, tile_h), Image.Resampling.NEAREST)
            canvas.paste(tile, (x + offset, y))
    return canvas


def write_grid_png(path: str | os.PathLike[str], source: GridSource, *, max_images: int = MAX_IMAGES) -> Path:
    """Draw the grid of ``source`` and write it as PNG (atomically)."""
    rows = source.rows
    if rows is None:
        rows = score_decryption(source.challenge, source.key, source.decryption, per_row=True).rows
    assert rows is not None
    pixels = source.challenge.pixels
    private = np.asarray(source.key.private)
    best_row, _ = best_recoveries(rows, private.shape[0])
    chosen = [int(i) for i in sample_indices(private.shape[0], max_images) if best_row[i] >= 0]
    originals = _to_uint8(to_unit_images(private[chosen], pixels))
    decrypted = to_pixel_values(np.asarray(source.decryption[best_row[chosen]]), pixels)
    recoveries = _to_uint8(to_unit_images(decrypted, pixels))
    buffer = io.BytesIO()
    compose_grid(originals, recoveries).save(buffer, format="PNG", optimize=True)
    path = Path(path)
    write_bytes_atomic(path, buffer.getvalue())
    return path


__all__ = ["MAX_IMAGES", "GridSource", "best_recoveries", "compose_grid", "sample_indices", "write_grid_png"]
