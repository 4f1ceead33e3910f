"""The matrix report from a hand-made result (no Dask run): layout, escaping, curves, no global matplotlib state."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import matplotlib
from PIL import Image

from instahide_bench.benchmark.matrix.report import FIGURES_DIR, render_report
from instahide_bench.benchmark.matrix.run import CellResult, ChallengeResult, MatrixResult
from tests.conftest import REPO_ROOT

HOSTILE = "<script>alert(\"x\")</script> & 'y'"


def _result(tmp_path: Path, *, sweep: bool = True) -> MatrixResult:
    grids = tmp_path / "grids"
    grids.mkdir(exist_ok=True)
    challenges, cells = [], []
    for i, t in enumerate((2, 3, 5) if sweep else (2,)):
        label = f"mixup[T={t}]"
        params = {"mode": "inside", "k": 4, "n": 12, "T": t, "num_rows": 12 * t, "private_slots": 4}
        challenges.append(ChallengeResult(label, "mixup", {"T": t}, "ok", f"c{i}", f"id{i}", params))
        for a, attack in enumerate(("zero", HOSTILE)):
            grid = grids / f"{i}-{a}.png"
            Image.new("RGB", (4, 2)).save(grid)
            max_ssim = 0.1 + 0.1 * i + 0.3 * a
            scores = {"max_ssim": max_ssim, "mean_ssim": max_ssim / 2, "min_l2": 0.5, "mean_l2": 1.0}
            cells.append(CellResult(label, attack, "zero", "ok", a == 0, scores, 1.5, 1000, grid_path=str(grid)))
    challenges.append(ChallengeResult(HOSTILE, "challenge-2020", {}, "failed", message=f"failed: {HOSTILE}"))
    cells += [
        CellResult(HOSTILE, attack, "zero", "failed", message=f"challenge generation failed: {HOSTILE}")
        for attack in ("zero", HOSTILE)
    ]
    challenges.append(ChallengeResult("lonely", "mixup", {}, "ok", params={"mode": "cross", "T": 1}))
    scores = {"max_ssim": 0.5, "mean_ssim": 0.25, "min_l2": 0.5, "mean_l2": 1.0}
    cells.append(CellResult("lonely", "zero", "zero", "ok", True, scores))
    spec = {"private": f"private {HOSTILE}", "public": "public"}
    hardware = {"cpu_model": f"CPU {HOSTILE}", "cpu_cores": 8, "gpu": f"GPU {HOSTILE}"}
    return MatrixResult(spec, challenges, cells, "2026-01-01T00:00:00", "2026-01-01T01:00:00", hardware, {})


def test_report_shows_every_cell_curve_and_grid(tmp_path: Path) -> None:
    page = render_report(_result(tmp_path), tmp_path).read_text()
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</body></html>\n")
    assert page.count('<tr><th class="enc">') == 5
    assert page.count('<td class="cell failed"') == 2 and page.count("attack reports no success") == 3
    assert '<td class="cell">—</td>' in page  # "lonely" has no cell for the second attack
    assert '<div class="sub">mode=inside, k=4, n=12, T=3</div>' in page
    assert page.count('<figure class="grid">') == 6 and 'src="grids/0-1.png"' in page
    assert f'<img src="{FIGURES_DIR}/max_ssim_vs_T.png" alt="Max_SSIM against T">' in page
    assert "max_ssim_vs_k" not in page  # k is not varied
    with Image.open(tmp_path / FIGURES_DIR / "max_ssim_vs_T.png") as png:
        assert png.format == "PNG" and png.size == (640, 400)


def test_report_without_sweep_or_grids_says_so(tmp_path: Path) -> None:
    result = _result(tmp_path, sweep=False)
    for cell in result.cells:
        cell.grid_path = None
    page = render_report(result, tmp_path).read_text()
    assert "This matrix varies neither T nor k" in page and "No grids (no cell was scored)." in page
    assert not (tmp_path / FIGURES_DIR).exists()


def test_report_escapes_text_from_the_result(tmp_path: Path) -> None:
    page = render_report(_result(tmp_path), tmp_path).read_text()
    assert "<script>" not in page
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;y&#x27;"
    assert f"<th>{escaped}</th>" in page  # attack
    assert f'<th class="enc">{escaped}<div class="sub">failed: {escaped}</div></th>' in page  # encoder, why
    assert f"challenge generation failed: {escaped}</div>" in page  # cell message
    assert f"<code>private {escaped}</code>" in page and f"CPU {escaped}" in page and f"GPU {escaped}" in page
    assert f'alt="{escaped} on mixup[T=2]"' in page


def test_report_leaves_the_matplotlib_backend_alone(tmp_path: Path) -> None:
    before = matplotlib.get_backend()
    try:
        matplotlib.use("svg")  # anything but Agg, so that a switch to Agg would show
        render_report(_result(tmp_path), tmp_path)
        assert (tmp_path / FIGURES_DIR / "max_ssim_vs_T.png").is_file()
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)


def test_report_draws_without_pyplot(tmp_path: Path) -> None:
    """In a fresh process (pyplot may already be loaded here): no pyplot, so no backend resolution either."""
    script = (
        "import sys; from pathlib import Path\n"
        "from instahide_bench.benchmark.matrix.report import render_report\n"
        "from tests.benchmark.matrix.test_report import _result\n"
        "out = Path(sys.argv[1]); render_report(_result(out), out)\n"
        "assert 'matplotlib.backends.backend_agg' in sys.modules, 'no curves drawn'\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_curve_pngs_are_reproducible(tmp_path: Path) -> None:
    result = _result(tmp_path)
    first = render_report(result, tmp_path / "a").parent / FIGURES_DIR / "max_ssim_vs_T.png"
    second = render_report(result, tmp_path / "b").parent / FIGURES_DIR / "max_ssim_vs_T.png"
    assert first.read_bytes() == second.read_bytes()
