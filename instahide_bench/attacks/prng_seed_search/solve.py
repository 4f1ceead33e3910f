"""Least squares for the private images once the seed's replay is known.

With the masks replayed, ``mask * e`` is the mixture exactly (a sign flip is exact in float32),
and every pixel channel of every row is one linear equation in the images of that row:
``y_r = sum_j float32(lam_rj) * image_j``. The unknowns are the n private images and the
public images that appear in two or more rows (challenge-2020 reuses each epoch's public
batch in all k-2 public slots, so every public image it draws repeats: ~3200 of them at
E = 5000, P = 5000). A public image used in a single row cannot be told apart from that row's
error, so it is noise: one extra unknown, the mean of such images, absorbs their average and
rows are weighted by the inverse of their single-use weight ``sum lam**2``.

All 3072 pixel channels share one design matrix ``A`` (E x N, at most k nonzeros a row), so
the normal matrix ``G = A^T W A + ridge`` (N x N) is factored once by dense Cholesky. Only the
n private images are wanted: ``X_private = Z^T A^T W Y`` with ``Z = G^{-1}[:, :n]`` (n
right-hand sides), i.e. one n x E reconstruction operator applied to the E x 3072 mixtures in
row chunks. Memory: O(N^2 + n E + chunk * 3072); time O(N^3 / 3 + n E 3072).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse

from instahide_bench.attacks.prng_seed_search.replay import Replay

logger = logging.getLogger(__name__)

#: Ridge added to G's diagonal, relative to its mean diagonal: leaves well-determined images
#: untouched (exact data) and pins unobserved directions to 0, the middle of a signed range.
DEFAULT_RIDGE = 1e-9
#: Rows of mixtures unmasked and projected at a time (bounds memory for large E).
DEFAULT_ROW_CHUNK = 2048
#: Pixel channels on which the full least-squares residual is measured (a replay diagnostic).
RESIDUAL_COLUMNS = 96
#: Variance floor of a row without single-use public images (float32 rounding of the mixture).
ROUNDING_VARIANCE = 1e-6


@dataclass(frozen=True)
class LinearModel:
    """The shared design: columns are private images, repeated public images, then (optionally)
    the mean of the single-use public images."""

    matrix: scipy.sparse.csr_matrix
    row_weights: np.ndarray
    num_private: int
    public_ids: np.ndarray
    single_uses: int

    @property
    def num_unknowns(self) -> int:
        return int(self.matrix.shape[1])


@dataclass(frozen=True)
class Solution:
    """The private images (not clipped) and how well the replayed model fits the encryptions."""

    images: np.ndarray
    relative_residual: float
    num_unknowns: int
    repeated_publics: int
    single_public_uses: int
    seconds: float


def build_model(replay: Replay, num_private: int) -> LinearModel:
    """The design matrix and row weights for ``replay``'s rows (see the module docstring)."""
    rows = replay.num_rows
    weights32 = replay.coefficients.astype(np.float32).astype(np.float64)  # what the encoder mixed
    private_slots = replay.private.shape[1]
    row_index = np.repeat(np.arange(rows), replay.public.shape[1])
    pool_ids = replay.public.reshape(-1)
    pool_weights = weights32[:, private_slots:].reshape(-1)
    distinct_pairs = np.unique(np.stack([pool_ids, row_index]), axis=1)
    rows_per_public = np.bincount(distinct_pairs[0], minlength=int(pool_ids.max(initial=-1)) + 1)
    repeated = rows_per_public[pool_ids] >= 2 if pool_ids.size else np.zeros(0, dtype=bool)
    public_ids, public_column = np.unique(pool_ids[repeated], return_inverse=True)

    single_weight = np.zeros(rows)
    np.add.at(single_weight, row_index[~repeated], pool_weights[~repeated])
    single_energy = np.zeros(rows)
    np.add.at(single_energy, row_index[~repeated], pool_weights[~repeated] ** 2)
    has_singles = bool(np.any(~repeated))

    columns = [replay.private.reshape(-1), num_private + public_column]
    entries = [weights32[:, :private_slots].reshape(-1), pool_weights[repeated]]
    row_ids = [np.repeat(np.arange(rows), private_slots), row_index[repeated]]
    if has_singles:
        columns.append(np.full(rows, num_private + public_ids.size))
        entries.append(single_weight)
        row_ids.append(np.arange(rows))
    width = num_private + public_ids.size + int(has_singles)
    matrix = scipy.sparse.coo_matrix(
        (np.concatenate(entries), (np.concatenate(row_ids), np.concatenate(columns))), shape=(rows, width)
    ).tocsr()  # duplicates (an image twice in a row) add up
    weights = 1.0 / (single_energy + ROUNDING_VARIANCE)
    return LinearModel(matrix, weights / weights.mean(), num_private, public_ids, int(np.count_nonzero(~repeated)))


def unmasked_rows(
    encryption: np.ndarray, replay: Replay, start: int, stop: int, columns: np.ndarray | None = None
) -> np.ndarray:
    """Rows ``start .. stop-1`` of the mixtures ``mask * e``, flattened (optionally to ``columns``), float64.

    Exact: the mask only flips signs.
    """
    rows = np.asarray(encryption[start:stop], dtype=np.float32).reshape(stop - start, -1)
    signs = None if replay.mask is None else replay.mask[start:stop].reshape(stop - start, -1)
    if columns is not None:
        rows = rows[:, columns]
        signs = None if signs is None else signs[:, columns]
    return (rows if signs is None else rows * signs).astype(np.float64)


def solve_private_images(
    encryption: np.ndarray,
    replay: Replay,
    num_private: int,
    *,
    ridge: float = DEFAULT_RIDGE,
    row_chunk: int = DEFAULT_ROW_CHUNK,
) -> Solution:
    """The least-squares private images, n x 32 x 32 x 3 float32, in the encryptions' pixel space."""
    clock = time.perf_counter()
    model = build_model(replay, num_private)
    weighted = scipy.sparse.diags(model.row_weights) @ model.matrix
    normal = (model.matrix.T @ weighted).toarray()
    normal[np.diag_indices_from(normal)] += ridge * float(np.mean(np.diag(normal)))
    factor = scipy.linalg.cho_factor(normal, lower=True, overwrite_a=True, check_finite=False)
    selector = np.zeros((model.num_unknowns, num_private))
    selector[np.arange(num_private), np.arange(num_private)] = 1.0
    inverse_columns = scipy.linalg.cho_solve(factor, selector, check_finite=False)  # Z = G^{-1}[:, :n]
    operator = np.ascontiguousarray((weighted @ inverse_columns).T)  # n x E: X_private = operator @ Y

    pixels = int(np.prod(encryption.shape[1:]))
    images = np.zeros((num_private, pixels))
    for start in range(0, replay.num_rows, row_chunk):
        stop = min(start + row_chunk, replay.num_rows)
        images += operator[:, start:stop] @ unmasked_rows(encryption, replay, start, stop)
    residual = relative_residual(encryption, replay, model, factor, weighted)
    seconds = time.perf_counter() - clock
    noise = f", {model.single_uses} single-use public slots as noise" if model.single_uses else ""
    logger.info(
        "least squares: %d unknowns (%d private, %d repeated public%s), relative residual %.2e, %.1f s",
        model.num_unknowns,
        num_private,
        model.public_ids.size,
        noise,
        residual,
        seconds,
    )
    return Solution(
        images.reshape(num_private, *encryption.shape[1:]).astype(np.float32),
        residual,
        model.num_unknowns,
        int(model.public_ids.size),
        model.single_uses,
        seconds,
    )


def relative_residual(
    encryption: np.ndarray,
    replay: Replay,
    model: LinearModel,
    factor: tuple[np.ndarray, bool],
    weighted: scipy.sparse.csr_matrix,
) -> float:
    """||A X - Y|| / ||Y|| of the full fit on a spread of pixel channels.

    Near float32 rounding (~1e-6) when the replay is right and every image is determined; near
    1 when the masks are wrong (e.g. torch drew different streams).
    """
    pixels = int(np.prod(encryption.shape[1:]))
    columns = np.linspace(0, pixels - 1, min(RESIDUAL_COLUMNS, pixels)).astype(np.int64)
    mixtures = unmasked_rows(encryption, replay, 0, replay.num_rows, columns)
    solution = scipy.linalg.cho_solve(factor, weighted.T @ mixtures, check_finite=False)
    scale = float(np.linalg.norm(mixtures))
    return float(np.linalg.norm(model.matrix @ solution - mixtures) / scale) if scale > 0 else 0.0


__all__ = ["DEFAULT_RIDGE", "LinearModel", "Solution", "build_model", "solve_private_images", "unmasked_rows"]
