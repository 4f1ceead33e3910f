"""A tiny matrix end to end on a local Dask cluster: cells, failures kept, report written."""

from __future__ import annotations

import json
from pathlib import Path

from instahide_bench.benchmark.matrix.report import curves, render_report
from instahide_bench.benchmark.matrix.run import MatrixResult, run_matrix
from instahide_bench.benchmark.matrix.spec import AttackVariant, EncoderVariant, MatrixSpec


def test_matrix_runs_every_cell_and_keeps_failures(tmp_path: Path) -> None:
    spec = MatrixSpec(
        encoders=(
            EncoderVariant("mixup[T=2]", "mixup", {"n": 12, "T": 2}),
            EncoderVariant("mixup[T=3]", "mixup", {"n": 12, "T": 3}),
            EncoderVariant("too-many", "challenge-2020", {"n": 4000, "T": 1, "pool_size": 4000}),
        ),
        attacks=(AttackVariant("zero", "zero"), AttackVariant("abs", "abs-rescale")),
    )
    result = run_matrix(spec, tmp_path, workers=1)
    assert len(result.cells) == 6
    assert [(c.encoder, c.attack) for c in result.cells][:2] == [("mixup[T=2]", "zero"), ("mixup[T=2]", "abs")]
    ok = [c for c in result.cells if c.status == "ok"]
    failed = [c for c in result.cells if c.status == "failed"]
    assert len(ok) == 4 and len(failed) == 2
    assert all(c.encoder == "too-many" and "challenge generation failed" in c.message for c in failed)
    for cell in ok:
        assert 0 <= cell.max_ssim <= 1 and Path(cell.entry_path).exists() and Path(cell.grid_path).exists()
        assert cell.runtime_seconds is not None and cell.peak_memory_bytes > 0

    stored = MatrixResult.load(tmp_path / "matrix.json")
    assert stored.cells == result.cells
    assert json.loads((tmp_path / "matrix.json").read_text())["spec"]["encoders"][2]["label"] == "too-many"

    assert set(curves(result, "T")) == {"zero on mixup", "abs on mixup"}
    page = render_report(result, tmp_path).read_text()
    assert "max_ssim_vs_T.png" in page and (tmp_path / "report-figures" / "max_ssim_vs_T.png").exists()
    assert page.count('<figure class="grid">') == 4
    assert "challenge generation failed" in page
