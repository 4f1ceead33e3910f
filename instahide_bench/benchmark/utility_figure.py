"""A utility run's learning curves as a PNG: test accuracy per epoch, with and without encoding.

Curves show what one number hides: whether accuracy still rises at the last epoch (more
encryptions would help the defender) or plateaued long before (they would only help the
attacker), and whether it swings between epochs (the symptom the masked-inference recipe fixed).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from instahide_bench.core.io import write_bytes_atomic

CURVES_FILE = "learning-curves.png"


def _accuracies(history: Sequence[dict[str, Any]]) -> list[float]:
    return [float(epoch["test_accuracy"]) for epoch in history]


def write_learning_curves(path: Path, result: Any) -> Path:
    """Draw ``result``'s (a :class:`~instahide_bench.benchmark.utility.UtilityResult`) curves to ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.0, 3.4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    encoded = _accuracies(result.history)
    axes.plot(range(1, len(encoded) + 1), encoded, marker=".", label=f"{result.encoder} ({result.inference} test)")
    if result.baseline_history:
        baseline = _accuracies(result.baseline_history)
        axes.plot(range(1, len(baseline) + 1), baseline, marker=".", linestyle="--", label="no encoding")
    axes.set_xlabel("epoch (one encryption of each image)")
    axes.set_ylabel("test accuracy")
    axes.set_ylim(0, 1)
    axes.grid(alpha=0.3)
    from instahide_bench.benchmark.leaderboard.utility import shown_source

    source = shown_source(result.private)
    axes.set_title(f"{source}, {result.model}: {result.accuracy:.3f} after {result.epochs} epochs", fontsize=9)
    axes.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    write_bytes_atomic(path, buffer.getvalue())
    return path


__all__ = ["CURVES_FILE", "write_learning_curves"]
