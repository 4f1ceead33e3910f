"""The scorer: the docs/specification.md §4 numbers on known decryptions, chunking, uint8 input, bounded memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from instahide_bench.core import scoring
from instahide_bench.core.challenge import ChallengeKey, EncodedChallenge
from instahide_bench.core.errors import InputFileError
from instahide_bench.core.metric import l2, ssim_reference, to_unit_images
from instahide_bench.core.scoring import Scores, per_row_columns, score_decryption, scored_images
from tests.core.scoring_support import abs_rescaled, photo_challenge, photo_crops


@pytest.fixture(scope="module")
def encoded() -> EncodedChallenge:
    return photo_challenge()


def _score(encoded: EncodedChallenge, decryption: np.ndarray, **kwargs: object):
    return score_decryption(encoded.public_view(), encoded.key, decryption, **kwargs)  # type: ignore[arg-type]


def test_recovering_the_first_private_image_scores_perfectly(encoded: EncodedChallenge) -> None:
    key = encoded.key
    p1, p2 = key.private_index[:, 0], key.private_index[:, 1]
    scores = _score(encoded, key.private[p1]).scores
    assert scores.max_ssim == pytest.approx(1.0, abs=1e-12)
    assert scores.min_l2 == 0.0
    # Mean_L2 is then half the mean distance between the two private images of each row.
    assert scores.mean_l2 == pytest.approx(l2(key.private[p1], key.private[p2]).mean() / 2, rel=1e-12)
    assert scores.num_rows == encoded.encryption.shape[0]


def test_scores_are_averages_of_a_skimage_loop(encoded: EncodedChallenge) -> None:
    pixels, key = encoded.pixels, encoded.key
    decryption = abs_rescaled(encoded.encryption)
    result = _score(encoded, decryption, per_row=True)
    pairs = scored_images(key)
    unit, private_unit = to_unit_images(decryption, pixels), to_unit_images(key.private, pixels)
    ssim = np.array([[ssim_reference(unit[r], private_unit[p]) for p in row] for r, row in enumerate(pairs)])
    dist = np.stack([l2(pixels.clip(decryption), key.private[pairs[:, s]]) for s in range(2)], axis=1)
    expected = Scores(ssim.max(1).mean(), ssim.mean(1).mean(), dist.min(1).mean(), dist.mean(1).mean(), len(pairs))
    for field in ("max_ssim", "mean_ssim", "min_l2", "mean_l2"):
        assert getattr(result.scores, field) == pytest.approx(getattr(expected, field), abs=1e-9)
    assert isinstance(result.scores.max_ssim, float) and isinstance(result.scores.num_rows, int)
    np.testing.assert_allclose(result.rows.ssim, ssim, atol=1e-6)
    assert 0.0 < result.scores.max_ssim < 0.9, "|e| is a poor decryption, far from perfect"


def test_chunk_size_does_not_change_the_result(encoded: EncodedChallenge) -> None:
    decryption = abs_rescaled(encoded.encryption)
    whole = _score(encoded, decryption, per_row=True).rows
    for chunk_rows in (1, 7):
        chunked = _score(encoded, decryption, per_row=True, chunk_rows=chunk_rows).rows
        np.testing.assert_array_equal(chunked.ssim, whole.ssim)
        np.testing.assert_array_equal(chunked.l2, whole.l2)


def test_uint8_decryption_is_read_in_the_pixel_space(encoded: EncodedChallenge) -> None:
    # The private images are photo crops mapped from uint8, so the uint8 crops themselves are perfect.
    crops, _ = photo_crops(10, 1)
    assert np.allclose(encoded.pixels.from_uint8(crops), encoded.key.private)
    decryption = crops[encoded.key.private_index[:, 1]]
    scores = _score(encoded, decryption).scores
    assert scores.max_ssim == pytest.approx(1.0, abs=1e-12)
    assert scores.min_l2 == pytest.approx(0.0, abs=1e-12)


def test_out_of_range_values_are_clipped_before_scoring(encoded: EncodedChallenge) -> None:
    key = encoded.key
    amplified = key.private[key.private_index[:, 0]] * 10.0
    clipped = np.clip(amplified, -1.0, 1.0)
    assert (amplified != clipped).mean() > 0.5
    assert _score(encoded, amplified).scores == _score(encoded, clipped).scores
    assert _score(encoded, amplified).scores.max_ssim < 0.99


def test_per_row_columns_and_optional_rows(encoded: EncodedChallenge) -> None:
    decryption = abs_rescaled(encoded.encryption)
    assert _score(encoded, decryption).rows is None
    rows = _score(encoded, decryption, per_row=True).rows
    columns = rows.to_columns()
    assert tuple(columns) == per_row_columns(2)
    np.testing.assert_array_equal(columns["max_ssim"], np.maximum(columns["ssim_1"], columns["ssim_2"]))
    np.testing.assert_array_equal(columns["p1"], encoded.key.private_index[:, 0])
    assert rows.summary() == _score(encoded, decryption).scores


@pytest.mark.parametrize(
    ("decryption", "message"),
    [
        (np.zeros((40, 3, 32, 32), np.float32), "looks like NCHW"),
        (np.zeros((39, 32, 32, 3), np.float32), "holds 39 rows but the challenge has 40"),
        (np.zeros((40, 32, 32, 3), np.int32), "dtype int32 is not accepted"),
        (np.full((40, 32, 32, 3), np.nan, np.float32), "122880 NaN/inf value"),
    ],
)
def test_bad_in_memory_decryptions_raise_one_line_errors(
    encoded: EncodedChallenge, decryption: np.ndarray, message: str
) -> None:
    with pytest.raises(InputFileError, match=message):
        _score(encoded, decryption)


def _synthetic(rows: int, n: int = 50) -> tuple[EncodedChallenge, np.ndarray]:
    base = photo_challenge()
    rng = np.random.default_rng(rows)
    private = rng.uniform(-1, 1, (n, 32, 32, 3)).astype(np.float32)
    index = rng.integers(0, n, (rows, 2))
    key = ChallengeKey(
        private,
        np.zeros(n, np.int64),
        index,
        np.zeros((rows, 2)),
        np.zeros((rows, 0), np.int64),
        np.zeros(rows, np.int64),
    )
    encryption = rng.uniform(-1, 1, (rows, 32, 32, 3)).astype(np.float32)
    encoded = EncodedChallenge(
        encryption, np.zeros((rows, 1), np.float32), ["x"], "synthetic", "0", {}, base.pixels, key
    )
    return encoded, encryption


def test_working_memory_does_not_grow_with_the_number_of_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    # The input check works in fixed 4096-row chunks of its own (bounded, but larger than these
    # challenges); leave it out so that what is measured is the scoring loop.
    monkeypatch.setattr(scoring, "check_decryption", lambda *args: None)
    peaks = {}
    for rows in (500, 4000):
        encoded, decryption = _synthetic(rows)
        challenge = encoded.public_view()
        tracemalloc.start()
        try:
            score_decryption(challenge, encoded.key, decryption, chunk_rows=128)
            peaks[rows] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    growth = peaks[4000] - peaks[500]
    # 3500 more rows are 43 MB of decryption; only the O(E) per-row numbers (~0.3 MB) may add up.
    assert growth < 1_000_000, peaks


def test_inside_dataset_rows_are_scored_against_every_private_slot() -> None:
    """In inside-dataset sets no public fact tells slot 1 from slots 2..k-1: all of them count."""
    from tests.conftest import tiny_encoded

    inside = tiny_encoded("instahide-inside")
    key = inside.key
    assert key.private_index.shape[1] == 4
    last_slot = key.private[key.private_index[:, 3]]
    result = score_decryption(inside.public_view(), key, last_slot, per_row=True)
    assert result.scores.max_ssim == pytest.approx(1.0)
    assert result.scores.min_l2 == pytest.approx(0.0)
    assert tuple(result.rows.to_columns()) == per_row_columns(4)
