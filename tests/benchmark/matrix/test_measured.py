"""Curves measured outside a matrix: the shipped file, its drawing, and where the report shows it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from instahide_bench.benchmark.matrix.measured import (
    draw_measured,
    load_measurement,
    packaged_measurement,
    series_points,
)
from instahide_bench.benchmark.matrix.report import FIGURES_DIR, render_report
from instahide_bench.benchmark.matrix.run import CellResult, ChallengeResult, MatrixResult
from instahide_bench.core.errors import InputFileError

TINY = {
    "x": "T",
    "points": [{"T": 1, "a": 0.4, "b": "cannot run"}, {"T": 10, "a": 0.5, "b": 0.45}],
    "series": {"a": {"marker": "o", "linestyle": "-", "colour": "C0"}, "b": {"marker": "^"}, "absent": {}},
}


def test_points_skip_what_is_not_a_number() -> None:
    assert series_points(TINY, "a") == [(1.0, 0.4), (10.0, 0.5)]
    assert series_points(TINY, "b") == [(10.0, 0.45)]
    assert series_points(TINY, "absent") == []


def test_drawn_from_the_json(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(TINY))
    png = draw_measured(load_measurement(path), tmp_path / "fig" / "m.png")
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size == (770, 462)


@pytest.mark.parametrize("text", ["{", "[]", '{"x": "T", "points": []}'])
def test_a_bad_file_is_one_line_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InputFileError, match=r"bad\.json"):
        load_measurement(path)


def test_the_shipped_learned_inversion_curve_is_complete() -> None:
    """Every T the issue asks for, at least 1,000 rows each, both simulations, carlini-graph and grey."""
    data = packaged_measurement()
    assert data is not None
    by_t = {point["T"]: point for point in data["points"]}
    assert {1, 2, 5, 10, 20, 50} <= set(by_t)
    for point in by_t.values():
        assert point["E"] >= 1000
        for column in ("zero (grey image)", "learned-inversion (CIFAR test sim.)", "learned-inversion (embedded sim.)"):
            assert 0 < point[column] < 1, (point["T"], column)
        if point["T"] > 1:  # carlini-graph cannot run on one row per image
            assert 0 < point["carlini-graph (CIFAR test sim.)"] < 1, point["T"]


def _matrix(attack: str) -> MatrixResult:
    params = {"mode": "cross", "k": 6, "n": 20, "T": 10}
    challenge = ChallengeResult("instahide-cross", "instahide-cross", {}, "ok", "c", "id", params)
    scores = {"max_ssim": 0.5, "mean_ssim": 0.3, "min_l2": 0.5, "mean_l2": 1.0}
    cell = CellResult("instahide-cross", attack, attack, "ok", True, scores, 1.0)
    return MatrixResult({"private": "embedded", "public": "embedded"}, [challenge], [cell], "s", "f", {}, {})


def test_report_shows_it_beside_a_learned_inversion_cell(tmp_path: Path) -> None:
    page = render_report(_matrix("learned-inversion"), tmp_path / "with").read_text()
    assert "<h2>Measured outside this run</h2>" in page
    assert f'src="{FIGURES_DIR}/learned_inversion_vs_T.png"' in page
    assert (tmp_path / "with" / FIGURES_DIR / "learned_inversion_vs_T.png").is_file()
    page = render_report(_matrix("zero"), tmp_path / "without").read_text()
    assert "Measured outside this run" not in page
