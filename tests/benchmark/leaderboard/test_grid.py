"""The PNG grid: best recoveries per private image, and originals beside them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from instahide_bench.benchmark.leaderboard.grid import (
    SCALE,
    GridSource,
    best_recoveries,
    compose_grid,
    sample_indices,
    write_grid_png,
)
from instahide_bench.core.scoring import RowScores, score_decryption
from tests.core.scoring_support import abs_rescaled, photo_challenge


def test_best_recoveries_match_a_brute_force_search() -> None:
    rng = np.random.default_rng(4)
    index = rng.integers(0, 9, (60, 2))
    index[:, 1] = np.where(index[:, 1] == 8, 7, index[:, 1])  # image 8 only in the first slot
    ssim = rng.uniform(-1, 1, (60, 2))
    best_row, best_ssim = best_recoveries(RowScores(index, ssim, np.zeros((60, 2))), 10)
    for image in range(10):
        candidates = [(ssim[r, s], r) for r in range(60) for s in range(2) if index[r, s] == image]
        if not candidates:
            assert best_row[image] == -1 and np.isnan(best_ssim[image])
            continue
        value, row = max(candidates)
        assert best_ssim[image] == value and best_row[image] == row


def test_sample_is_even_and_bounded() -> None:
    assert sample_indices(5).tolist() == [0, 1, 2, 3, 4]
    sample = sample_indices(100)
    assert len(sample) == 16 and sample[0] == 0 and sample[-1] == 99


def test_compose_grid_puts_each_original_beside_its_recovery() -> None:
    originals = np.zeros((5, 32, 32, 3), np.uint8) + np.arange(5, dtype=np.uint8)[:, None, None, None] * 40
    recoveries = 255 - originals
    grid = np.asarray(compose_grid(originals, recoveries))
    tile = 32 * SCALE
    assert grid[0, 0].tolist() == [0, 0, 0] and grid[0, tile + 4 + 1].tolist() == [255, 255, 255]
    assert grid.shape[0] == 2 * tile + 4  # 5 pairs at 4 per line: two lines


def test_written_grid_shows_the_private_images_and_best_rows(tmp_path: Path) -> None:
    encoded = photo_challenge()
    challenge, key = encoded.public_view(), encoded.key
    perfect = key.private[key.private_index[:, 0]]
    path = write_grid_png(tmp_path / "grid.png", GridSource(challenge, key, perfect))
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"))
    tile = 32 * SCALE
    first_original = pixels[:tile, :tile]
    first_recovery = pixels[:tile, tile + 4 : 2 * tile + 4]
    np.testing.assert_array_equal(first_original, first_recovery)  # a perfect decryption: identical tiles
    assert path.stat().st_size < 200_000
    rows = score_decryption(challenge, key, abs_rescaled(encoded.encryption), per_row=True).rows
    poor = write_grid_png(tmp_path / "poor.png", GridSource(challenge, key, abs_rescaled(encoded.encryption), rows))
    with Image.open(poor) as image:
        assert not np.array_equal(
            np.asarray(image.convert("RGB"))[:tile, :tile],
            np.asarray(image.convert("RGB"))[:tile, tile + 4 : 2 * tile + 4],
        )
