"""Blind grouping: the rows that share a private image, found as sparse vectors of a subspace.

Write the sign-corrected mixtures as ``M = Lam @ X (+ noise)``: ``Lam`` is E x n, one column per
private image holding its coefficient in every row (zero in all but the few rows that use it),
``X`` the n private images. The column space of ``M`` is (up to noise) that of ``Lam``, so the
columns of ``Lam`` are the *sparsest* vectors of the leading n-dimensional left singular
subspace. They are found in three steps:

1. the subspace, by a randomised SVD (cheap: only n + 20 directions are needed);
2. an orthogonal rotation of it that maximises the l4 norm (a fourth-moment criterion that
   sparse, spiky columns maximise; the fixed point ``W <- polar(U^T (U W)^3)`` converges in
   tens of iterations, Zhai et al. 2020);
3. a sharpening that drops the orthogonality the rotation imposed: each column is replaced by
   the unit subspace vector with the most energy on that column's likely support (the top
   eigenvector of ``U_S^T U_S``), which is exact when the support holds the true one.

In noise-free Mixup this recovers ``Lam`` to float precision without using the labels; with
public images as noise it gives a good initial grouping that :mod:`.refine` then corrects.
Public-image noise is mostly low-frequency (natural images), so cross-dataset features are
high-passed first (:func:`highpass`), which keeps them linear in the private images.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter


def highpass(images: np.ndarray, sigma: float) -> np.ndarray:
    """Rows of ``images`` (N x H x W x C) minus their Gaussian blur, flattened (float64).

    ``sigma <= 0`` only flattens. Linear, so mixtures of images stay mixtures of features.
    Kept in float64: noise-free coefficients are later needed to float32 precision.
    """
    images = np.asarray(images, dtype=np.float64)
    flat = images.reshape(images.shape[0], -1)
    if sigma <= 0:
        return flat.copy()
    blurred = gaussian_filter(images, sigma=(0, sigma, sigma, 0), mode="reflect")
    return (images - blurred).reshape(images.shape[0], -1)


def orthonormalize(matrix: np.ndarray) -> np.ndarray:
    """Orthonormal basis of a tall matrix's columns (Cholesky QR, twice for accuracy).

    Only matrix products and a small Cholesky factor: on a busy 2-core machine LAPACK's
    Householder QR of a 5000 x 120 matrix is tens of times slower.
    """
    for _ in range(2):
        factor = np.linalg.cholesky(matrix.T @ matrix + 1e-12 * np.trace(matrix.T @ matrix) * np.eye(matrix.shape[1]))
        matrix = np.linalg.solve(factor, matrix.T).T
    return matrix


def leading_subspace(
    features: np.ndarray, rank: int, rng: np.random.Generator, power_iterations: int = 4
) -> np.ndarray:
    """Orthonormal E x rank basis of the dominant left singular subspace (randomised SVD)."""
    features = np.asarray(features, dtype=np.float64)
    probe = rng.standard_normal((features.shape[1], min(rank + 20, *features.shape)))
    basis = orthonormalize(features @ probe)
    for _ in range(power_iterations):
        basis = orthonormalize(features @ (features.T @ basis))
    projected = basis.T @ features
    _, vectors = np.linalg.eigh(projected @ projected.T)
    return basis @ vectors[:, ::-1][:, :rank]


def polar_factor(matrix: np.ndarray) -> np.ndarray:
    """The orthogonal matrix nearest to a square matrix: U V^T of its SVD."""
    left, _, right = np.linalg.svd(matrix)
    return left @ right


def l4_rotation(
    basis: np.ndarray, rng: np.random.Generator, max_iterations: int = 100, tolerance: float = 1e-5
) -> np.ndarray:
    """Columns ``basis @ W`` with W orthogonal and ``sum((basis @ W)**4)`` maximal, each made positive-skewed."""
    rank = basis.shape[1]
    rotation = polar_factor(rng.standard_normal((rank, rank)))
    for _ in range(max_iterations):
        updated = polar_factor(basis.T @ (basis @ rotation) ** 3)
        converged = np.abs(updated - rotation).max() < tolerance
        rotation = updated
        if converged:
            break
    codes = basis @ rotation
    return codes * np.where((codes**3).sum(axis=0) < 0, -1.0, 1.0)


def top_eigenvectors(matrices: np.ndarray, squarings: int = 12) -> np.ndarray:
    """Leading eigenvector of each symmetric positive semi-definite matrix of a batch (B x k x k -> B x k).

    Repeated squaring (normalised each time) is power iteration with 2^squarings steps in
    ``squarings`` batched products, where a LAPACK call per matrix would be far slower.
    """
    powered = matrices / np.maximum(np.linalg.norm(matrices, axis=(1, 2), keepdims=True), 1e-300)
    for _ in range(squarings):
        powered = powered @ powered
        powered /= np.maximum(np.linalg.norm(powered, axis=(1, 2), keepdims=True), 1e-300)
    start = np.argmax(np.linalg.norm(powered, axis=1), axis=1)  # the column with most weight
    vectors = powered[np.arange(len(matrices)), :, start]
    for _ in range(3):  # polish with ordinary power steps
        vectors = np.einsum("bij,bj->bi", matrices, vectors)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-300)
    return vectors


def sharpen(basis: np.ndarray, codes: np.ndarray, support_size: int, rounds: int = 2) -> np.ndarray:
    """Replace each code column by the unit subspace vector concentrated on its top rows."""
    support_size = int(min(max(support_size, 1), basis.shape[0] - 1))
    for _ in range(rounds):
        supports = np.argpartition(-codes, support_size, axis=0)[:support_size].T  # n x support
        on_support = basis[supports]  # n x support x rank
        vectors = basis @ top_eigenvectors(np.einsum("jsa,jsb->jab", on_support, on_support)).T
        signs = np.where(np.take_along_axis(vectors, supports.T, axis=0).sum(axis=0) < 0, -1.0, 1.0)
        codes = vectors * signs
    return codes


def scale_to_row_weights(codes: np.ndarray, row_weight: np.ndarray) -> np.ndarray:
    """Scale each column so that every row's codes add up to its private weight (least squares).

    The columns come out of the rotation with arbitrary norms; the rows of the true ``Lam`` add
    up to the private weight that ``label.npy`` reveals, which fixes the scales.
    """
    scales = np.linalg.lstsq(codes, np.asarray(row_weight, dtype=np.float64), rcond=None)[0]
    scales = np.where(scales > 0, scales, np.abs(scales).mean())
    return codes * scales


def sparse_components(
    features: np.ndarray, num_images: int, row_weight: np.ndarray, support_size: int, seed: int
) -> np.ndarray:
    """Estimated E x n coefficient matrix ``Lam`` (columns in arbitrary order), from features alone."""
    rng = np.random.default_rng(seed)
    basis = leading_subspace(features, num_images, rng)
    codes = sharpen(basis, l4_rotation(basis, rng), support_size)
    return scale_to_row_weights(codes, row_weight)


__all__ = [
    "highpass",
    "l4_rotation",
    "leading_subspace",
    "orthonormalize",
    "polar_factor",
    "scale_to_row_weights",
    "sharpen",
    "sparse_components",
    "top_eigenvectors",
]
