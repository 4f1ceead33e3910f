"""The fast check's ground truth, with numpy's own ``RandomState``: what a seed must reproduce.

This module exists to define the seed check on the ``challenge-2020`` encoder in slow, obviously
right numpy code: the verdict every fast kernel must agree with (:func:`fast_check_reference`),
the exact confirmation of a candidate over all epochs (:func:`confirm_seed`), and the labels of a
known seed for tests and benchmarks (:func:`synthetic_labels`).

Why a seed is checkable
-----------------------
In ``challenge-2020`` (docs/specification.md §3.1) numpy's legacy ``RandomState(s)`` is used only for the mixing
coefficients, so the stream of seed ``s`` starts with epoch 0's first draw
``normal(size=(n, k))``: row ``r`` takes normals ``r*k .. r*k+k-1``. A row whose first draw is
accepted keeps it, and ``label.npy`` row ``r`` then holds ``float32(lam0)`` and ``float32(lam1)``
(in class-column order, or their float32 sum when both private images share a class). Rejected
rows are redrawn only after the whole first draw, so they carry no evidence; the first accepted
row ``r*`` (``r* = 0`` for ~56% of seeds at k=6, upper 0.65, dom 0.3) does.

What the check computes
-----------------------
Every seed is replayed as numpy does it: ``mt19937_seed`` (init_genrand), the first tempered
words, ``legacy_double`` (``((a>>5) * 2**26 + (b>>6)) / 2**53``), the polar method of
``legacy_gauss`` (retries while ``r2 >= 1`` or ``r2 == 0``; returns ``f*x2`` first, caches
``f*x1``), ``lam = |z| / sum(|z|)`` with numpy's summation order, and the rejection rule. Row
``r`` of the first draw is compared with label row ``r`` only if it is accepted; a seed passes
when its first ``check_rows`` accepted rows all match their label rows within
``tolerance_ulps`` float32 ulps (default 1, which absorbs a last-bit difference of libm's log).
How the kernels do this fast: :mod:`.cpu_check`, :mod:`.torch_check`.
"""

from __future__ import annotations

import numpy as np

from instahide_bench.attacks.prng_seed_search.evidence import Evidence
from instahide_bench.core.instahide.coefficients import draw_coefficients, is_rejected, normalise

__all__ = ["confirm_seed", "fast_check_reference", "first_accepted_row", "label_rows", "synthetic_labels"]


def first_accepted_row(seed: int, n: int, k: int, upper: float, dom: float | None) -> tuple[int, np.ndarray]:
    """Index and float64 coefficients of epoch 0's first row whose first draw is accepted.

    Computed with numpy's ``RandomState`` itself, as the ground truth for the fast kernels.
    Returns ``(-1, empty)`` in the (astronomically unlikely) case that no first draw is accepted.
    """
    first = np.random.RandomState(seed).normal(0, 1, size=(n, k))
    for row in range(n):
        lam = normalise(first[row])
        if not is_rejected(lam, upper, dom):
            return row, lam
    return -1, np.empty(0, dtype=np.float64)


def label_rows(lam: np.ndarray, classes: np.ndarray, num_classes: int) -> np.ndarray:
    """``label.npy`` rows for coefficient rows ``lam`` and private classes ``classes`` (rows x 2).

    The challenge's formula, in float32: ``float32(lam0)*onehot(y) + float32(lam1)*onehot(y')``
    (one float32 sum when ``y == y'``). For tests and benchmarks that need a challenge's labels.
    """
    rows = np.arange(lam.shape[0])
    labels = np.zeros((lam.shape[0], num_classes), dtype=np.float32)
    labels[rows, classes[:, 0]] += lam[:, 0].astype(np.float32)
    labels[rows, classes[:, 1]] += lam[:, 1].astype(np.float32)
    return labels


def synthetic_labels(
    seed: int,
    n: int,
    k: int,
    upper: float,
    dom: float | None,
    num_classes: int = 10,
    epochs: int = 1,
    same_class_rows: tuple[int, ...] = (),
) -> np.ndarray:
    """``label.npy`` of a challenge-2020 run with ``seed``: its real coefficients, random classes.

    Only the coefficient stream matters to the seed check, so the images are left out. Rows
    listed in ``same_class_rows`` (epoch 0) get two images of one class: a one-valued label.
    """
    state = np.random.RandomState(seed)
    classes = np.random.default_rng(seed)
    rows = []
    for epoch in range(epochs):
        lam = draw_coefficients(lambda shape: state.normal(0, 1, size=shape), n, k, upper, dom)
        y = classes.integers(num_classes, size=(n, 2))
        if epoch == 0:
            shared = list(same_class_rows)
            y[shared, 1] = y[shared, 0]
        rows.append(label_rows(lam, y, num_classes))
    return np.concatenate(rows)


def fast_check_reference(seed: int, evidence: Evidence) -> bool:
    """The fast check's verdict for one seed, computed with numpy's ``RandomState`` (slow).

    Walks epoch 0's first draw: rejected rows are skipped, accepted rows are compared with their
    label rows (float32 boxes of ``evidence``) until ``check_rows`` matched (pass) or one
    mismatches (fail). The kernels must agree with this on every seed.
    """
    first = np.random.RandomState(seed).normal(0, 1, size=(evidence.n, evidence.k))
    matched = 0
    for row in range(evidence.n):
        lam = normalise(first[row])
        if is_rejected(lam, evidence.upper, evidence.dom):
            continue
        if row >= evidence.rows:
            return True
        if not evidence.row_matches(row, lam[0], lam[1]):
            return False
        matched += 1
        if matched >= evidence.check_rows:
            return True
    return True


def confirm_seed(
    seed: int,
    labels: np.ndarray,
    n: int,
    k: int,
    upper: float,
    dom: float | None,
    private_slots: int = 2,
) -> bool:
    """Replay every epoch's coefficients with numpy's real ``RandomState`` and check all label rows.

    Exact: a row matches only if its nonzero entries equal, as float32, the label formula
    ``float32(lam0)*onehot(y) + float32(lam1)*onehot(y')`` for some classes (or, for one
    nonzero entry, the float32 sum of the private coefficients). The coefficient stream is
    consumed by nothing else in ``challenge-2020``, so the replay needs no classes.
    """
    labels = np.asarray(labels)
    rows = labels.shape[0]
    if rows % n:
        raise ValueError(f"label rows ({rows}) are not a whole number of epochs of n={n}")
    if private_slots < 1:
        raise ValueError("private_slots must be at least 1")
    rng = np.random.RandomState(seed)

    def normal(shape: tuple[int, ...]) -> np.ndarray:
        return rng.normal(0, 1, size=shape)  # the encoder's draw call

    for epoch in range(rows // n):
        lam = draw_coefficients(normal, n, k, upper, dom)
        block = labels[epoch * n : (epoch + 1) * n]
        for row in range(n):
            if not _label_row_matches(block[row], lam[row, :private_slots]):
                return False
    return True


def _label_row_matches(label_row: np.ndarray, private_lam: np.ndarray) -> bool:
    """Whether one label row is consistent with the private slots' coefficients (float32, exact)."""
    observed = np.sort(label_row[label_row != 0].astype(np.float32))
    parts = private_lam.astype(np.float32)
    if observed.size == parts.size:
        return bool(np.array_equal(observed, np.sort(parts)))
    # Shared classes merge entries; for two slots the only merged form is the float32 sum.
    # Accept the sum computed in float32 (the label formula) or rounded from float64.
    if observed.size == 1 and parts.size == 2:
        summed32 = np.float32(parts[0] + parts[1])
        summed64 = np.float32(float(private_lam[0]) + float(private_lam[1]))
        return bool(observed[0] == summed32 or observed[0] == summed64)
    if observed.size < parts.size:
        return _merged_partition_matches(observed, parts)
    return False


def _merged_partition_matches(observed: np.ndarray, parts: np.ndarray) -> bool:
    """For more than two private slots: try every assignment of slots to observed entries."""
    slots = parts.size
    for assignment in np.ndindex(*([observed.size] * slots)):
        sums = np.zeros(observed.size, dtype=np.float32)
        for slot, target in enumerate(assignment):
            sums[target] = np.float32(sums[target] + parts[slot])
        if np.array_equal(sums, observed):
            return True
    return False
