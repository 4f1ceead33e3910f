"""Curves measured outside a matrix run, shipped as JSON inside the package and drawn from it.

Some figures take longer to measure than a demo may run: learned-inversion against
carlini-graph and the grey image at T = 1 ... 50 on real CIFAR-10 images and ImageNet patches
(``scripts/bench_learned_inversion.py``, about half an hour on 2 cores). That script writes
its results as JSON (:data:`LEARNED_INVERSION`) and draws the docs' figure with
:func:`draw_measured`; the matrix report draws the same figure from the same file, so the
docs and the report never disagree and nothing is drawn by hand.

A measurement file holds ``title``, ``x`` (the column plotted along x, e.g. ``"T"``), ``y``
(axis label), ``points`` (one dict per x value: column -> number, or a string such as
``"cannot run"``, which is not drawn), ``series`` (column -> ``{"marker", "linestyle",
"colour"}``, the curves in drawing order) and free-form provenance (command, date, load).
"""

from __future__ import annotations

import io
import json
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

from instahide_bench.core.errors import InputFileError
from instahide_bench.core.io import write_bytes_atomic

#: The learned-inversion measurement's file name inside this package.
LEARNED_INVERSION = "measured-learned-inversion.json"


def packaged_measurement(name: str = LEARNED_INVERSION) -> dict[str, Any] | None:
    """A measurement shipped with the package (None when this installation has none)."""
    resource = files("instahide_bench.benchmark.matrix").joinpath(name)
    if not resource.is_file():
        return None
    with as_file(resource) as path:
        return load_measurement(path)


def load_measurement(path: Path) -> dict[str, Any]:
    """A measurement file, checked for the keys the drawing needs."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputFileError(path, f"not a readable JSON measurement ({exc})") from None
    if not isinstance(data, dict) or not all(key in data for key in ("x", "points", "series")):
        raise InputFileError(path, "a measurement needs 'x', 'points' and 'series'")
    return data


def series_points(data: dict[str, Any], column: str) -> list[tuple[float, float]]:
    """(x, y) of one column, skipping points where it holds no number (a run that could not happen)."""
    points = []
    for point in data["points"]:
        value = point.get(column)
        if isinstance(value, int | float) and not isinstance(value, bool):
            points.append((float(point[data["x"]]), float(value)))
    return sorted(points)


def draw_measured(data: dict[str, Any], path: Path) -> Path:
    """Draw every series of a measurement against its x column (log scale) into a PNG at ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.0, 4.2), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    for column, style in data["series"].items():
        points = series_points(data, column)
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        axes.plot(
            xs,
            ys,
            marker=style.get("marker") or None,
            linestyle=style.get("linestyle", "-"),
            color=style.get("colour"),
            label=column,
        )
    ticks = sorted({float(p[data["x"]]) for p in data["points"]})
    axes.set_xscale("log")
    axes.set_xticks(ticks, [f"{t:g}" for t in ticks])
    axes.minorticks_off()
    axes.set_xlabel(data.get("x_label", data["x"]))
    axes.set_ylabel(data.get("y", "Max_SSIM"))
    axes.set_ylim(0, 1)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="upper left")
    axes.set_title(data.get("title", ""), fontsize=9)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    write_bytes_atomic(path, buffer.getvalue())
    return path


__all__ = ["LEARNED_INVERSION", "draw_measured", "load_measurement", "packaged_measurement", "series_points"]
