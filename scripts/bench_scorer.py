#!/usr/bin/env python
"""Time the scorer against a plain loop of skimage calls, and show that its memory is bounded.

    python scripts/bench_scorer.py [--rows 5000] [--large-rows 100000]

1. Builds a challenge-2020-style challenge of ``--rows`` rows (n=100 private images from the
   ``embedded`` photographs; synthetic smooth images if that source is unavailable) and the
   trivial decryption |e| stretched to [-1, 1].
2. Scores it with ``score_decryption`` and with a loop of ``skimage.metrics.structural_similarity``
   calls (two per row, as a naive scorer would), prints both times, their ratio and the largest
   per-row difference between the two.
3. Scores a ``--large-rows`` challenge (the small one repeated: the scorer's cost does not
   depend on the pixels) and reports its time and the scorer's peak traced memory (tracemalloc,
   numpy allocations made while scoring) next to the small run's: the scorer works in chunks,
   so its working memory does not grow with E beyond the O(E) per-row numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import tracemalloc

import numpy as np

from instahide_bench.core.challenge import ChallengeKey, EncodedChallenge, PublicChallenge
from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.metric import l2, ssim_reference, to_unit_images
from instahide_bench.core.resources import peak_memory_bytes
from instahide_bench.core.scoring import ScoreResult, score_decryption, scored_images
from instahide_bench.encoders import get_preset

PRIVATE_IMAGES = 100
POOL_SIZE = 200


def images(count: int, role: str, seed: int) -> ImageSet:
    """Photographs from the embedded source, else smooth random images (same shapes and types)."""
    try:
        from instahide_bench.core.data import parse_source

        return parse_source("embedded", role).load(count, seed)  # type: ignore[arg-type]
    except Exception as exc:  # the data loaders are optional for a timing run
        print(f"(embedded source unavailable: {exc.__class__.__name__}; using smooth synthetic images)")
        coarse = np.random.default_rng(seed).integers(0, 256, (count, 8, 8, 3)).astype(np.uint8)
        smooth = coarse.repeat(4, axis=1).repeat(4, axis=2)
        return ImageSet(smooth, np.zeros(count, np.int64), ("synthetic",), "synthetic")


def build(rows: int, seed: int = 7) -> tuple[PublicChallenge, ChallengeKey, np.ndarray]:
    if rows % PRIVATE_IMAGES:
        raise SystemExit(f"--rows must be a multiple of {PRIVATE_IMAGES}")
    encoder = get_preset("challenge-2020").build(
        {"n": PRIVATE_IMAGES, "T": rows // PRIVATE_IMAGES, "pool_size": POOL_SIZE}
    )
    encoded: EncodedChallenge = encoder.encode(
        images(PRIVATE_IMAGES, "private", 0), images(POOL_SIZE, "public", 1), seed=seed
    )
    magnitude = np.abs(encoded.encryption)
    peak = magnitude.reshape(rows, -1).max(axis=1)[:, None, None, None]
    decryption = (magnitude / np.maximum(peak, 1e-12) * 2 - 1).astype(np.float32)
    return encoded.public_view(f"bench-{rows}"), encoded.key, decryption


def repeated(
    challenge: PublicChallenge, key: ChallengeKey, decryption: np.ndarray, rows: int
) -> tuple[PublicChallenge, ChallengeKey, np.ndarray]:
    """The challenge repeated to ``rows`` rows (encryptions as a broadcast view: the scorer only counts them)."""
    reps = -(-rows // len(decryption))
    encryption = np.broadcast_to(challenge.encryption[:1], (rows, *challenge.encryption.shape[1:]))
    index = np.tile(key.private_index, (reps, 1))[:rows]
    return (
        dataclasses.replace(challenge, encryption=encryption),
        dataclasses.replace(key, private_index=index),
        np.tile(decryption, (reps, 1, 1, 1))[:rows],
    )


def skimage_loop(challenge: PublicChallenge, key: ChallengeKey, decryption: np.ndarray) -> np.ndarray:
    """What a naive scorer does: per row, clip and map, then two skimage calls and two L2s."""
    pixels, pairs = challenge.pixels, scored_images(key)
    private_unit = to_unit_images(key.private, pixels)
    out = np.empty((len(decryption), 2))
    for row in range(len(decryption)):
        unit = to_unit_images(decryption[row], pixels)
        for slot in range(2):
            out[row, slot] = ssim_reference(unit, private_unit[pairs[row, slot]])
            l2(pixels.clip(decryption[row : row + 1]), key.private[pairs[row, slot]][None])
    return out


def timed_score(
    challenge: PublicChallenge, key: ChallengeKey, decryption: np.ndarray, repeats: int
) -> tuple[float, ScoreResult]:
    """Best wall time of ``repeats`` runs, and the (identical) result."""
    timings = []
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        result = score_decryption(challenge, key, decryption, per_row=True)
        timings.append(time.perf_counter() - start)
    return min(timings), result


def traced_peak(challenge: PublicChallenge, key: ChallengeKey, decryption: np.ndarray) -> int:
    tracemalloc.start()
    try:
        score_decryption(challenge, key, decryption)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5000, help="rows of the comparison challenge (default 5000)")
    parser.add_argument("--large-rows", type=int, default=100_000, help="rows of the memory run (0: skip)")
    parser.add_argument("--repeats", type=int, default=3, help="our scorer: best of this many runs")
    args = parser.parse_args()

    challenge, key, decryption = build(args.rows)
    start = time.perf_counter()
    score_decryption(challenge, key, decryption)  # compiles or loads the cached kernels
    print(f"first call (numba compile or cache load included): {time.perf_counter() - start:.2f} s")
    ours, result = timed_score(challenge, key, decryption, args.repeats)
    start = time.perf_counter()
    reference = skimage_loop(challenge, key, decryption)
    loop = time.perf_counter() - start
    difference = np.abs(reference - result.rows.ssim).max()
    print(
        f"E={args.rows}: score_decryption {ours:.3f} s (best of {args.repeats}), "
        f"skimage loop ({2 * args.rows} calls) {loop:.2f} s, ratio {loop / ours:.1f}x"
    )
    print(f"largest per-row SSIM difference from skimage: {difference:.2e}")
    # Both peaks include the input check's fixed 4096-row chunks (at most ~25 MiB, reached from E = 8192).
    small_peak = traced_peak(challenge, key, decryption)
    print(
        f"E={args.rows}: peak traced memory while scoring {small_peak / 2**20:.1f} MiB "
        f"(decryption itself {decryption.nbytes / 2**20:.1f} MiB)"
    )
    if args.large_rows:
        challenge, key, decryption = repeated(challenge, key, decryption, args.large_rows)
        large, _ = timed_score(challenge, key, decryption, 1)
        large_peak = traced_peak(challenge, key, decryption)
        print(
            f"E={args.large_rows}: score_decryption {large:.2f} s "
            f"(projected from E={args.rows}: {ours * args.large_rows / args.rows:.2f} s), "
            f"peak traced memory while scoring {large_peak / 2**20:.1f} MiB "
            f"(decryption itself {decryption.nbytes / 2**20:.0f} MiB)"
        )
    rss = peak_memory_bytes() / 2**20
    print(f"process peak RSS (inputs included): {rss:.0f} MiB")


if __name__ == "__main__":
    main()
