"""The matrix report: one HTML page with the score table, image grids and Max_SSIM curves.

The page is self-contained apart from the PNGs it shows (the per-cell grids the leaderboard
recorded, and the curves drawn here with matplotlib), all referenced by relative paths, so
the output folder can be copied or served as it is.

This module prepares what the page shows (formatted scores, colours, relative links); the
layout is ``templates/matrix-report.html.j2`` (see :mod:`instahide_bench.benchmark.views`),
which escapes every value.
"""

from __future__ import annotations

import io
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from instahide_bench.benchmark.matrix.measured import draw_measured, packaged_measurement
from instahide_bench.benchmark.matrix.run import CellResult, MatrixResult
from instahide_bench.benchmark.matrix.spec import base_label
from instahide_bench.benchmark.matrix.utility import UTILITY_FILE, UtilityRow, load_matrix_utility
from instahide_bench.benchmark.views import render
from instahide_bench.core.io import write_bytes_atomic, write_text_atomic

REPORT_FILE = "report.html"
FIGURES_DIR = "report-figures"
#: Parameters whose curves the report draws when a matrix varies them.
CURVE_PARAMS = ("T", "k")
#: Parameters that follow from others (rows from n and T; inside-dataset private slots from k)
#: and must not split a curve into groups.
_DERIVED = {"num_rows", "private_slots"}


def _fmt(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _colour(max_ssim: float | None) -> str:
    """Red where the attack recovers images (high Max_SSIM), green where it does not."""
    if max_ssim is None:
        return "#e6e6e6"
    level = min(max(max_ssim, 0.0), 1.0)
    red, green = int(120 + 135 * level), int(220 - 120 * level)
    return f"rgb({red},{green},120)"


def curves(result: MatrixResult, param: str) -> dict[str, list[tuple[float, float]]]:
    """Max_SSIM against ``param`` for each (preset, attack, other parameters) group with 2+ points."""
    groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for cell in result.cells:
        challenge = result.challenge(cell.encoder)
        if cell.max_ssim is None or challenge is None or param not in challenge.params:
            continue
        others = tuple(sorted((k, str(v)) for k, v in challenge.params.items() if k != param and k not in _DERIVED))
        base = base_label(challenge.encoder)
        groups[f"{cell.attack} on {base}|{others}"].append((float(challenge.params[param]), cell.max_ssim))
    return {
        name.split("|")[0]: sorted(points)
        for name, points in sorted(groups.items())
        if len({x for x, _ in points}) >= 2
    }


def utility_curves(result: MatrixResult, utility: list[UtilityRow], param: str) -> dict[str, list[tuple[float, float]]]:
    """Test accuracy against ``param`` for each swept encoder family with 2+ trained points."""
    groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for row in utility:
        challenge = result.challenge(row.encoder)
        if row.accuracy is None or challenge is None or param not in challenge.params:
            continue
        groups[f"accuracy of {base_label(row.encoder)}"].append((float(challenge.params[param]), row.accuracy))
    return {name: sorted(points) for name, points in sorted(groups.items()) if len({x for x, _ in points}) >= 2}


def _new_figure() -> Any:
    """A :class:`~matplotlib.figure.Figure` with its own Agg canvas: no pyplot, so neither the
    process's backend nor pyplot's list of open figures is touched."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.0), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _save_png(figure: Any, path: Path) -> Path:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    write_bytes_atomic(path, buffer.getvalue())
    return path


def draw_curves(result: MatrixResult, param: str, path: Path, utility: list[UtilityRow] | None = None) -> Path | None:
    """A PNG of Max_SSIM (and, with ``utility``, test accuracy) against ``param``; None when nothing varies it."""
    lines = curves(result, param)
    accuracy_lines = utility_curves(result, utility or [], param)
    if not lines and not accuracy_lines:
        return None
    figure = _new_figure()
    axes = figure.subplots()
    for label, points in lines.items():
        xs, ys = zip(*points)
        axes.plot(xs, ys, marker="o", label=label)
    for label, points in accuracy_lines.items():
        xs, ys = zip(*points)
        axes.plot(xs, ys, marker="s", linestyle="--", color="black", label=label)
    axes.set_xlabel(param)
    axes.set_ylabel("Max_SSIM" + (" / test accuracy" if accuracy_lines else ""))
    axes.set_ylim(-0.05, 1.05)
    axes.grid(True, alpha=0.3)
    axes.set_title(f"Max_SSIM{' and accuracy' if accuracy_lines else ''} against {param}")
    axes.legend(fontsize=8)
    return _save_png(figure, path)


def privacy_utility_points(result: MatrixResult, utility: list[UtilityRow]) -> list[tuple[str, float, float]]:
    """(encoder, best attack's Max_SSIM on it, test accuracy) for every encoder with both."""
    points = []
    for row in utility:
        scores = [c.max_ssim for c in result.cells if c.encoder == row.encoder and c.max_ssim is not None]
        if row.accuracy is not None and scores:
            points.append((row.encoder, max(scores), row.accuracy))
    return points


def draw_privacy_utility(result: MatrixResult, utility: list[UtilityRow], path: Path) -> Path | None:
    """A PNG: x the best attack's Max_SSIM on each encoder, y its test accuracy; vanilla as a reference line.

    Down and left is private but useless, up and right useful but broken; a good encoder sits up and left.
    """
    points = privacy_utility_points(result, utility)
    if not points:
        return None
    figure = _new_figure()
    axes = figure.subplots()
    for label, x, y in points:
        axes.scatter([x], [y], s=36)
        axes.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    vanilla = next((row.accuracy for row in utility if row.encoder == "vanilla" and row.accuracy is not None), None)
    if vanilla is not None:
        axes.axhline(vanilla, color="grey", linestyle="--", linewidth=1, label=f"vanilla (no encoding) {vanilla:.3f}")
        axes.legend(fontsize=8, loc="lower right")
    axes.set_xlabel("best attack's Max_SSIM (privacy lost)")
    axes.set_ylabel("test accuracy (utility)")
    axes.set_xlim(-0.05, 1.05)
    axes.set_ylim(-0.05, 1.05)
    axes.grid(True, alpha=0.3)
    axes.set_title("Privacy against utility")
    return _save_png(figure, path)


@dataclass(frozen=True)
class CellView:
    """One table cell as shown: its colour and formatted scores, or why it failed."""

    colour: str
    failed: bool
    message: str = ""
    max_ssim: str = ""
    mean_ssim: str = ""
    min_l2: str = ""
    mean_l2: str = ""
    runtime: str = ""
    no_success: bool = False
    membership: bool = False
    auc: str = ""
    tpr_low: str = ""
    tpr_1pct: str = ""


@dataclass(frozen=True)
class RowView:
    """One encoder's row: its label, its parameters (or why its challenge failed), one cell per attack."""

    encoder: str
    about: str
    cells: list[CellView | None]
    utility: str = ""


@dataclass(frozen=True)
class FigureView:
    src: str
    param: str
    caption: str = ""


@dataclass(frozen=True)
class RocView:
    src: str
    attack: str
    encoder: str
    auc: str


@dataclass(frozen=True)
class GridView:
    src: str
    attack: str
    encoder: str
    max_ssim: str


def _cell_view(cell: CellResult | None) -> CellView | None:
    if cell is None:
        return None
    if cell.status != "ok" or cell.scores is None:
        return CellView(colour=_colour(None), failed=True, message=cell.message)
    s = cell.scores
    if cell.auc is not None:  # a membership cell: red as the AUC rises from chance (0.5) to 1
        dagger = "" if s["reliable"].get("tpr_at_0.1%_fpr", True) else " †"
        return CellView(
            colour=_colour(max(0.0, 2 * cell.auc - 1)),
            failed=False,
            membership=True,
            auc=_fmt(cell.auc, 3),
            tpr_low=_fmt(s["tpr_at_0.1%_fpr"], 3) + dagger,
            tpr_1pct=_fmt(s["tpr_at_1%_fpr"], 3),
            runtime="" if cell.runtime_seconds is None else f"{cell.runtime_seconds:.1f} s",
            no_success=not cell.succeeded,
        )
    return CellView(
        colour=_colour(cell.max_ssim),
        failed=False,
        max_ssim=_fmt(cell.max_ssim),
        mean_ssim=_fmt(s["mean_ssim"]),
        min_l2=_fmt(s["min_l2"]),
        mean_l2=_fmt(s["mean_l2"]),
        runtime="" if cell.runtime_seconds is None else f"{cell.runtime_seconds:.1f} s",
        no_success=not cell.succeeded,
    )


def _params_text(params: dict[str, Any]) -> str:
    keys = ("mode", "k", "n", "T", "pixels", "mask", "rng", "seed_bits", "public_reuse")
    return ", ".join(f"{k}={params[k]}" for k in keys if k in params and params[k] is not None)


def _utility_text(row: UtilityRow | None) -> str:
    if row is None:
        return "—"
    if row.status != "ok" or row.accuracy is None:
        return f"failed: {row.message}"
    return f"{row.accuracy:.4f} ({row.epochs} epochs)"


def render_report(
    result: MatrixResult, out_dir: str | os.PathLike[str], utility: list[UtilityRow] | None = None
) -> Path:
    """Write ``report.html`` (and its PNGs) into ``out_dir``; return the page's path.

    ``utility`` (default: ``OUT/utility.json`` when present) adds the utility column, the
    accuracy curves and the privacy-utility figure.
    """
    out = Path(out_dir)
    if utility is None and (out / UTILITY_FILE).is_file():
        utility = load_matrix_utility(out / UTILITY_FILE)
    by_encoder = {row.encoder: row for row in utility or []}
    encoders = [c.encoder for c in result.challenges]
    attacks = list(dict.fromkeys(c.attack for c in result.cells))
    rows = [
        RowView(
            encoder=challenge.encoder,
            about=_params_text(challenge.params) if challenge.status == "ok" else challenge.message,
            cells=[_cell_view(result.cell(challenge.encoder, attack)) for attack in attacks],
            utility=_utility_text(by_encoder.get(challenge.encoder)),
        )
        for challenge in result.challenges
    ]

    figures = []
    for param in CURVE_PARAMS:
        png = draw_curves(result, param, out / FIGURES_DIR / f"max_ssim_vs_{param}.png", utility)
        if png is not None:
            figures.append(FigureView(os.path.relpath(png, out), param))
    if utility:
        png = draw_privacy_utility(result, utility, out / FIGURES_DIR / "privacy_utility.png")
        if png is not None:
            caption = "Privacy against utility: best attack's Max_SSIM (x) and test accuracy (y) per encoder"
            figures.append(FigureView(os.path.relpath(png, out), "privacy-utility", caption))

    measured = []
    if "learned-inversion" in attacks:  # its full-size curve takes longer to measure than a matrix runs
        data = packaged_measurement()
        if data is not None:
            png = draw_measured(data, out / FIGURES_DIR / "learned_inversion_vs_T.png")
            caption = (
                f"learned-inversion against T, measured on {data.get('measured', '?')} outside this run "
                f"({data.get('title', '')}; {data.get('command', '')})"
            )
            measured.append(FigureView(os.path.relpath(png, out), "T", caption))

    grids = []
    for encoder in encoders:
        for attack in attacks:
            cell = result.cell(encoder, attack)
            if cell is not None and cell.grid_path and Path(cell.grid_path).exists():
                grids.append(GridView(os.path.relpath(cell.grid_path, out), attack, encoder, _fmt(cell.max_ssim)))

    rocs = [
        RocView(os.path.relpath(cell.roc_path, out), cell.attack, cell.encoder, _fmt(cell.auc, 3))
        for cell in result.cells
        if cell.roc_path and Path(cell.roc_path).exists()
    ]

    hardware = result.hardware
    page = render(
        "matrix-report.html.j2",
        private=result.spec["private"],
        public=result.spec["public"],
        started=result.started,
        finished=result.finished,
        cpu_model=str(hardware.get("cpu_model")),
        cpu_cores=str(hardware.get("cpu_cores")),
        gpu=str(hardware.get("gpu")) if hardware.get("gpu") else "",
        attacks=attacks,
        rows=rows,
        has_utility=bool(utility),
        vanilla=_utility_text(by_encoder["vanilla"]) if "vanilla" in by_encoder else "",
        figures=figures,
        measured=measured,
        grids=grids,
        rocs=rocs,
    )
    path = out / REPORT_FILE
    write_text_atomic(path, page)
    return path
