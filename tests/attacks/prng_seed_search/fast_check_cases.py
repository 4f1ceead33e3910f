"""Shared cases for the fast seed check's tests: challenge-2020 labels of known seeds, numpy's
legacy_gauss rebuilt from raw words, and the reference verdicts (computed once per session)."""

from __future__ import annotations

import functools
import math

import numpy as np

from instahide_bench.attacks.prng_seed_search.evidence import Evidence
from instahide_bench.attacks.prng_seed_search.reference import fast_check_reference, synthetic_labels

N, K, UPPER, DOM, CLASSES = 100, 6, 0.65, 0.3, 10


def make_labels(seed: int, epochs: int = 2, same_class_rows: tuple[int, ...] = ()) -> np.ndarray:
    return synthetic_labels(seed, N, K, UPPER, DOM, CLASSES, epochs, same_class_rows)


def stream_profile(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """numpy's legacy_gauss rebuilt from raw MT words, for epoch 0's first draw: the normals,
    and after each polar pair the words used so far and the polar retries so far."""
    words = np.random.RandomState(seed)._bit_generator.random_raw(8000)
    doubles = [
        ((int(a) >> 5) * 67108864.0 + (int(b) >> 6)) / 9007199254740992.0 for a, b in zip(words[0::2], words[1::2])
    ]
    normals, used, retried, retries, q = [], [], [], 0, 0
    while len(normals) < N * K:
        x1, x2 = 2.0 * doubles[q] - 1.0, 2.0 * doubles[q + 1] - 1.0
        q += 2
        r2 = x1 * x1 + x2 * x2
        if r2 >= 1.0 or r2 == 0.0:
            retries += 1
            continue
        f = math.sqrt(-2.0 * math.log(r2) / r2)
        normals += [f * x2, f * x1]
        used.append(2 * q)
        retried.append(retries)
    return np.array(normals), np.array(used), np.array(retried)


def decision_pair(seed: int, check_rows: int = 2) -> int:
    """Index of the polar pair that ends the true seed's check_rows-th accepted first-draw row."""
    first = np.random.RandomState(seed).normal(0, 1, size=(N, K))
    accepted = [row for row in range(N) if not _rejected(first[row])]
    return (accepted[check_rows - 1] + 1) * K // 2 - 1


def _rejected(z: np.ndarray) -> bool:
    lam = np.abs(z) / np.sum(np.abs(z))
    return bool(lam.max() > UPPER or lam[0] + lam[1] < DOM)


# A loose box makes a few percent of wrong seeds pass, so both verdicts occur often; the range
# covers seeds with rejected first rows and polar retries.
LOOSE_LABEL_SEED, LOOSE_TOLERANCE = 4242, 1 << 21


@functools.cache
def loose_evidence() -> Evidence:
    """Typical labels, one compared row, boxes of 2**21 ulps."""
    return Evidence.from_labels(
        make_labels(LOOSE_LABEL_SEED), N, K, UPPER, DOM, check_rows=1, tolerance_ulps=LOOSE_TOLERANCE
    )


@functools.cache
def shape_evidence(k: int, dom: float | None, tight: bool = False) -> Evidence:
    """Labels of seed 77 for another ``k``/``dom`` (odd k: a row starts with the cached second
    normal of a pair; k >= 8: numpy's pairwise sum); loose (2**23 ulps) unless ``tight``."""
    labels = synthetic_labels(77, N, k, UPPER, dom, CLASSES)
    if tight:
        return Evidence.from_labels(labels, N, k, UPPER, dom)
    return Evidence.from_labels(labels, N, k, UPPER, dom, check_rows=2, tolerance_ulps=1 << 23)


@functools.cache
def loose_reference(start: int, stop: int) -> tuple[int, ...]:
    """Seeds in ``[start, stop)`` that pass :func:`loose_evidence` by numpy's own replay (slow)."""
    return _reference_passes(loose_evidence(), start, stop)


@functools.cache
def shape_reference(k: int, dom: float | None, start: int, stop: int) -> tuple[int, ...]:
    """Seeds in ``[start, stop)`` that pass the loose :func:`shape_evidence` by numpy's own replay (slow)."""
    return _reference_passes(shape_evidence(k, dom), start, stop)


def _reference_passes(evidence: Evidence, start: int, stop: int) -> tuple[int, ...]:
    return tuple(seed for seed in range(start, stop) if fast_check_reference(seed, evidence))
