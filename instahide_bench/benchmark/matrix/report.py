"""The matrix report: one HTML page with the score table, image grids and Max_SSIM curves.

The page is self-contained apart from the PNGs it shows (the per-cell grids the leaderboard
recorded, and the curves drawn here with matplotlib), all referenced by relative paths, so
the output folder can be copied or served as it is.
"""

from __future__ import annotations

import html
import io
import os
from collections import defaultdict
from pathlib import Path

from instahide_bench.benchmark.matrix.run import CellResult, MatrixResult
from instahide_bench.benchmark.matrix.spec import base_label
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


def draw_curves(result: MatrixResult, param: str, path: Path) -> Path | None:
    """A PNG of Max_SSIM against ``param`` (None when the matrix does not vary it)."""
    lines = curves(result, param)
    if not lines:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for label, points in lines.items():
        xs, ys = zip(*points)
        axes.plot(xs, ys, marker="o", label=label)
    axes.set_xlabel(param)
    axes.set_ylabel("Max_SSIM")
    axes.set_ylim(-0.05, 1.05)
    axes.grid(True, alpha=0.3)
    axes.set_title(f"Max_SSIM against {param}")
    axes.legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(figure)
    write_bytes_atomic(path, buffer.getvalue())
    return path


def _cell_html(cell: CellResult | None) -> str:
    if cell is None:
        return '<td class="cell">—</td>'
    if cell.status != "ok" or cell.scores is None:
        return (
            f'<td class="cell failed" style="background:{_colour(None)}"><b>failed</b>'
            f'<div class="msg">{html.escape(cell.message)}</div></td>'
        )
    s = cell.scores
    note = "" if cell.succeeded else '<div class="msg">attack reports no success</div>'
    runtime = "" if cell.runtime_seconds is None else f"{cell.runtime_seconds:.1f} s"
    return (
        f'<td class="cell" style="background:{_colour(cell.max_ssim)}"><b>{_fmt(cell.max_ssim)}</b>'
        f'<div class="sub">Mean_SSIM {_fmt(s["mean_ssim"])}<br>Min_L2 {_fmt(s["min_l2"])} · '
        f"Mean_L2 {_fmt(s['mean_l2'])}<br>{runtime}</div>{note}</td>"
    )


def _params_text(params: dict) -> str:
    keys = ("mode", "k", "n", "T", "pixels", "mask", "rng", "seed_bits", "public_reuse")
    return ", ".join(f"{k}={params[k]}" for k in keys if k in params and params[k] is not None)


def render_report(result: MatrixResult, out_dir: str | os.PathLike[str]) -> Path:
    """Write ``report.html`` (and its curve PNGs) into ``out_dir``; return the page's path."""
    out = Path(out_dir)
    encoders = [c.encoder for c in result.challenges]
    attacks = list(dict.fromkeys(c.attack for c in result.cells))
    rows = []
    for challenge in result.challenges:
        cells = "".join(_cell_html(result.cell(challenge.encoder, attack)) for attack in attacks)
        about = _params_text(challenge.params) if challenge.status == "ok" else html.escape(challenge.message)
        rows.append(
            f'<tr><th class="enc">{html.escape(challenge.encoder)}<div class="sub">{about}</div></th>{cells}</tr>'
        )
    header = "".join(f"<th>{html.escape(a)}</th>" for a in attacks)

    figures = []
    for param in CURVE_PARAMS:
        png = draw_curves(result, param, out / FIGURES_DIR / f"max_ssim_vs_{param}.png")
        if png is not None:
            figures.append(
                f'<figure><img src="{os.path.relpath(png, out)}" alt="Max_SSIM against {param}">'
                f"<figcaption>Max_SSIM against {param}</figcaption></figure>"
            )

    grids = []
    for encoder in encoders:
        for attack in attacks:
            cell = result.cell(encoder, attack)
            if cell is not None and cell.grid_path and Path(cell.grid_path).exists():
                grids.append(
                    f'<figure class="grid"><img src="{html.escape(os.path.relpath(cell.grid_path, out))}" '
                    f'alt="{html.escape(attack)} on {html.escape(encoder)}"><figcaption>'
                    f"{html.escape(attack)} on {html.escape(encoder)}: Max_SSIM {_fmt(cell.max_ssim)}"
                    "</figcaption></figure>"
                )

    spec = result.spec
    hardware = result.hardware
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>instahide-bench matrix report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px; color: #222; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #bbb; padding: 6px 8px; vertical-align: top; }}
th {{ background: #f0f0f0; }}
th.enc {{ text-align: left; max-width: 260px; }}
td.cell {{ text-align: center; min-width: 120px; }}
.sub {{ font-size: 11px; color: #333; font-weight: normal; }}
.msg {{ font-size: 11px; color: #700; max-width: 220px; }}
figure {{ display: inline-block; margin: 8px; vertical-align: top; }}
figure.grid img {{ image-rendering: pixelated; border: 1px solid #ccc; width: 300px; }}
figcaption {{ font-size: 12px; }}
</style></head><body>
<h1>instahide-bench matrix report</h1>
<p>Private images: <code>{html.escape(spec["private"])}</code>; public images: <code>{html.escape(spec["public"])}</code>.
Run {html.escape(result.started)} to {html.escape(result.finished)} on {html.escape(str(hardware.get("cpu_model")))}
({hardware.get("cpu_cores")} cores{", GPU " + html.escape(str(hardware.get("gpu"))) if hardware.get("gpu") else ""}).
Each cell: Max_SSIM (SPEC §4, ranking metric; red = images recovered), then Mean_SSIM, Min_L2, Mean_L2 and the attack's runtime.</p>
<h2>Scores</h2>
<table><tr><th>encoder \\ attack</th>{header}</tr>
{"".join(rows)}
</table>
<h2>Curves</h2>
{"".join(figures) or "<p>This matrix varies neither T nor k (use <code>--sweep T=10,20,50</code>).</p>"}
<h2>Private images and their best recoveries</h2>
<p>Each pair: a private image (left) beside the decryption row that recovers it best (right).</p>
{"".join(grids) or "<p>No grids (no cell was scored).</p>"}
</body></html>
"""
    path = out / REPORT_FILE
    write_text_atomic(path, page)
    return path
