"""Exact inputs from a fully connected first layer: the gradient of a unit is its inputs, scaled.

A first layer ``u = W x + b`` (x the flattened image) receives ``g_W = mean_i d_i x_i^T`` and
``g_b = mean_i d_i``, ``d_i`` the loss's gradient at the unit for row i. A unit that only
row i's input activates (the others leave it at zero behind the ReLU) gives
``g_W[u] / g_b[u] = x_i`` exactly: with one row every active unit does (Phong et al. 2017);
with B rows, at initialisation, about B / 2^B of the units do. Units that several rows
activate give averages of their inputs, which rarely coincide, so the ratios that repeat are
the inputs: they are found by grouping ratio vectors that agree to a relative tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from instahide_bench.core.gradients import GradientSetup

#: Ratios of units whose bias gradient is below this fraction of the largest are not trusted.
MIN_BIAS_FRACTION = 1e-4
#: Two ratio vectors are the same input when they differ by less than this, relative to their norm.
#: A unit only one row activates repeats that row's input to float32 rounding (about 1e-7); units
#: two rows share give blends that land near each other by chance, 1e-3 apart (measured), and
#: at 1e-3 a cluster of such blends outnumbered a row's four exclusive units in 2 of 12 draws.
SAME_INPUT = 1e-5


def first_layer_names(setup: GradientSetup) -> tuple[str, str] | None:
    """Weight and bias names of a fully connected first layer on the flattened image, or None."""
    specs = list(setup.parameters)
    if len(specs) < 2:
        return None
    weight, bias = specs[0], specs[1]
    if len(weight.shape) == 2 and weight.shape[1] == 32 * 32 * 3 and bias.shape == (weight.shape[0],):
        return weight.name, bias.name
    return None


@dataclass(frozen=True)
class Disaggregated:
    """The inputs a first layer's update revealed (flattened as the model flattens: C, H, W) and how sure each is."""

    inputs: np.ndarray
    support: np.ndarray

    def images(self) -> np.ndarray:
        """The inputs as NHWC images."""
        return self.inputs.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype(np.float32)


def disaggregate(weight_grad: np.ndarray, bias_grad: np.ndarray, batch: int) -> Disaggregated:
    """Up to ``batch`` inputs from a first layer's update; ``support`` counts the units behind each.

    With ``batch == 1`` every active unit's ratio is the input; they are averaged, weighted by
    their bias gradients (the exact answer, less rounding). Otherwise the ratio vectors are
    grouped and the ``batch`` largest groups of at least two units are returned, largest first.
    """
    scale = np.abs(bias_grad).max()
    if not np.isfinite(scale) or scale == 0:
        return Disaggregated(np.zeros((0, weight_grad.shape[1]), np.float32), np.zeros(0, np.int64))
    units = np.flatnonzero(np.abs(bias_grad) > MIN_BIAS_FRACTION * scale)
    ratios = weight_grad[units].astype(np.float64) / bias_grad[units, None].astype(np.float64)
    if batch == 1:
        weights = np.abs(bias_grad[units]).astype(np.float64)
        mean = (weights[:, None] * ratios).sum(0) / weights.sum()
        return Disaggregated(mean[None].astype(np.float32), np.array([len(units)]))
    order = np.argsort(-np.abs(bias_grad[units]))
    centres = np.zeros((len(units), ratios.shape[1]), np.float64)
    squared = np.zeros(len(units), np.float64)
    members: list[list[int]] = []
    for index in order:
        ratio = ratios[index]
        norm2 = float(ratio @ ratio)
        count = len(members)
        if count:
            distance2 = squared[:count] + norm2 - 2.0 * (centres[:count] @ ratio)
            nearest = int(np.argmin(distance2))
            if distance2[nearest] <= (SAME_INPUT**2) * norm2:
                members[nearest].append(int(index))
                continue
        centres[count], squared[count] = ratio, norm2
        members.append([int(index)])
    groups = sorted((g for g in range(len(members)) if len(members[g]) >= 2), key=lambda g: -len(members[g]))[:batch]
    found = np.array([ratios[members[g]].mean(0) for g in groups]).reshape(len(groups), ratios.shape[1])
    return Disaggregated(found.astype(np.float32), np.array([len(members[g]) for g in groups], np.int64))


__all__ = ["Disaggregated", "disaggregate", "first_layer_names"]
