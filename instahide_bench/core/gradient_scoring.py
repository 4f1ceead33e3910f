"""Scoring on gradient challenges: rows within a step have no order, and recovered inputs are scored too.

A step's update is a mean over its B rows, so nothing the server sees orders the rows within a
step. Before a decryption (or a set of recovered inputs) of a gradient challenge is scored,
each step's rows are therefore matched to the fed rows by the assignment that maximises their
total SSIM (Hungarian algorithm), as gradient-inversion papers score batches; the docs/specification.md §4
metric then applies row by row. With B = 1 nothing moves.

Recovered inputs are compared with ``key/inputs.npy`` by SSIM and PSNR over each fed row's own
value range (an encoding's range is not the pixel box: a masked mixture spans about half of it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from instahide_bench.core.challenge import ChallengeKey, PublicChallenge
from instahide_bench.core.errors import InstaHideBenchError
from instahide_bench.core.metric import References, compare, ssim
from instahide_bench.core.pixels import to_pixel_values


def _assign(similarity: np.ndarray) -> np.ndarray:
    """``order[i]``: the candidate matched to fed row i, maximising the total of ``similarity[candidate, row]``."""
    from scipy.optimize import linear_sum_assignment

    candidates, rows = linear_sum_assignment(-similarity)
    order = np.empty(similarity.shape[1], np.int64)
    order[rows] = candidates
    return order


def match_decryption(challenge: PublicChallenge, key: ChallengeKey, decryption: np.ndarray) -> np.ndarray:
    """The decryption's rows reordered within each step to best match the fed rows' private images."""
    if challenge.gradients is None or challenge.gradients.setup.batch_size == 1:
        return decryption
    size = challenge.gradients.setup.batch_size
    references = References.prepare(key.private, challenge.pixels)
    order = np.arange(challenge.num_rows)
    for start in range(0, challenge.num_rows, size):
        stop = min(start + size, challenge.num_rows)
        count = stop - start
        candidates = np.repeat(np.asarray(decryption[start:stop]), count, axis=0)
        index = np.tile(key.private_index[start:stop], (count, 1))
        similarity = compare(candidates, references, index).ssim.max(axis=1).reshape(count, count)
        order[start:stop] = start + _assign(similarity)
    matched: np.ndarray = np.asarray(decryption)[order]
    return matched


@dataclass(frozen=True)
class InputScores:
    """Recovered inputs against the fed rows: mean SSIM and PSNR (dB, capped at 100) over each row's range."""

    ssim: float
    psnr: float
    num_rows: int

    def to_json(self) -> dict[str, Any]:
        return {"inputs_ssim": self.ssim, "inputs_psnr": self.psnr, "num_rows": self.num_rows}


def _unit(values: np.ndarray, low: np.ndarray, span: np.ndarray) -> np.ndarray:
    unit: np.ndarray = np.clip((values - low) / span, 0.0, 1.0)
    return unit


def score_inputs(challenge: PublicChallenge, key: ChallengeKey, inputs: np.ndarray) -> InputScores:
    """SSIM and PSNR of recovered inputs against ``key.inputs``, rows matched within each step."""
    if challenge.gradients is None or key.inputs is None:
        raise InstaHideBenchError("recovered inputs are scored on gradient challenges only (the key has no inputs)")
    truth = np.asarray(key.inputs, np.float64)
    found = np.asarray(to_pixel_values(np.asarray(inputs), challenge.pixels), np.float64)
    if found.shape != truth.shape:
        raise InstaHideBenchError(f"inputs have shape {found.shape}, expected {truth.shape}")
    low = truth.min(axis=(1, 2, 3), keepdims=True)
    span = np.maximum(truth.max(axis=(1, 2, 3), keepdims=True) - low, 1e-12)
    size = challenge.gradients.setup.batch_size
    ssim_values = np.empty(len(truth))
    psnr_values = np.empty(len(truth))
    for start in range(0, len(truth), size):
        stop = min(start + size, len(truth))
        count = stop - start
        rows = np.tile(np.arange(start, stop), count)
        candidates = np.repeat(np.arange(start, stop), count)
        pair_ssim = ssim(_unit(found[candidates], low[rows], span[rows]), _unit(truth[rows], low[rows], span[rows]))
        order = start + _assign(pair_ssim.reshape(count, count))
        ssim_values[start:stop] = pair_ssim.reshape(count, count)[order - start, np.arange(count)]
        error = ((found[order] - truth[start:stop]) ** 2).mean(axis=(1, 2, 3))
        peak = span[start:stop, 0, 0, 0] ** 2
        psnr_values[start:stop] = [100.0 if e == 0 else min(100.0, 10 * math.log10(p / e)) for e, p in zip(error, peak)]
    return InputScores(float(ssim_values.mean()), float(psnr_values.mean()), len(truth))


__all__ = ["InputScores", "match_decryption", "score_inputs"]
