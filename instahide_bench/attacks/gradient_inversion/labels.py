"""Label restoration from an update: what the classifier's gradient says about the rows' soft labels.

For the batch-mean soft cross-entropy the gradient with respect to the logits of row i is
``s_i * p_i - y_i``, where ``p_i`` is the model's softmax, ``y_i`` the soft label and ``s_i``
its total weight (1 for one-hot or inside-dataset labels, ``lam_1 + lam_2`` across datasets).
The classifier (a linear layer with a bias after the features) therefore gets

* bias gradient ``g_b = mean_i (s_i p_i - y_i)``,
* weight gradient ``g_W = mean_i (s_i p_i - y_i) h_i^T`` with ``h_i`` the row's features.

With one row (B = 1) the row's features are ``g_W[c] / g_b[c]`` for any class c, so its logits
``W h + b`` and softmax ``p`` follow, and ``y = s p - g_b`` exactly. ``s`` is read off the
classes the label does not use: there ``y_c = 0``, so ``g_b[c] / p_c = s`` for most classes,
and the most common ratio is ``s``. With more rows only the batch's total label mass is
determined, up to the mean prediction (as in Wainakh et al.'s label-count estimates); the
per-row split is left to the joint optimisation of inputs and labels.
"""

from __future__ import annotations

import numpy as np

from instahide_bench.core.gradients import GradientSetup

#: Label entries below this fraction of the row's total are read as absent.
ABSENT = 1e-3


def classifier_names(setup: GradientSetup) -> tuple[str, str]:
    """The names of the last linear layer's weight and bias (C x F and C), which every model here ends with."""
    specs = list(setup.parameters)
    for weight, bias in zip(reversed(specs[:-1]), reversed(specs[1:]), strict=True):
        if len(weight.shape) == 2 and bias.shape == (setup.num_classes,) and weight.shape[0] == setup.num_classes:
            return weight.name, bias.name
    raise ValueError(f"model {setup.model!r} does not end with a linear classifier with a bias")


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def label_total(ratios: np.ndarray) -> float:
    """The most common value of ``g_b[c] / p_c`` (the label's total weight ``s``), robust to the used classes."""
    finite = ratios[np.isfinite(ratios)]
    if finite.size == 0:
        return 1.0
    tolerance = 1e-3 * max(1.0, float(np.median(np.abs(finite))))
    counts = [(np.abs(finite - r) <= tolerance).sum() for r in finite]
    best = finite[int(np.argmax(counts))]
    return float(np.median(finite[np.abs(finite - best) <= tolerance]))


def restore_single(
    weight_grad: np.ndarray, bias_grad: np.ndarray, weight: np.ndarray, bias: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One row's soft label and features from its update (exact without defences).

    Returns
    -------
    (label, features)
        float32 C and F.
    """
    c = int(np.argmax(np.abs(bias_grad)))
    features = weight_grad[c].astype(np.float64) / float(bias_grad[c])
    probs = _softmax(weight.astype(np.float64) @ features + bias)
    total = label_total(bias_grad.astype(np.float64) / probs)
    label = total * probs - bias_grad
    label[label < ABSENT * max(total, 1e-12)] = 0.0
    return label.astype(np.float32), features.astype(np.float32)


def batch_totals(bias_grad: np.ndarray, mean_probs: np.ndarray, batch: int) -> tuple[np.ndarray, float]:
    """The batch's summed soft labels, estimated with the mean prediction ``mean_probs``; and the mean label total."""
    total = label_total(bias_grad.astype(np.float64) / mean_probs)
    sums = batch * (total * mean_probs - bias_grad)
    sums[sums < ABSENT * batch * max(total, 1e-12)] = 0.0
    return sums.astype(np.float32), total


def restore_given_features(weight_grad: np.ndarray, features: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Every row's soft label, once its features and softmax are known (exact inputs make this exact).

    The classifier's weight update is ``mean_i a_i h_i^T`` with ``a_i = s_i p_i - y_i``: one least
    squares over the F feature dimensions gives each ``a_i``; each row's ``s_i`` is then the
    most common ``a_ic / p_ic`` (its unused classes), and ``y_i = s_i p_i - a_i``.
    """
    batch = features.shape[0]
    grads, *_ = np.linalg.lstsq(features.T.astype(np.float64), batch * weight_grad.T.astype(np.float64), rcond=None)
    labels = np.zeros(probs.shape, np.float64)
    for row in range(batch):
        total = label_total(grads[row] / probs[row])
        label = total * probs[row] - grads[row]
        label[label < ABSENT * max(total, 1e-12)] = 0.0
        labels[row] = label
    return labels.astype(np.float32)


__all__ = [
    "ABSENT",
    "batch_totals",
    "classifier_names",
    "label_total",
    "restore_given_features",
    "restore_single",
]
