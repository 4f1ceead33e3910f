"""The matrix's utility column: [utility] parsing, accuracy_at_least verdicts, report column and figures."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from instahide_bench.benchmark.matrix.regress import evaluate, format_table, has_regressions, thresholds_from_dict
from instahide_bench.benchmark.matrix.report import (
    FIGURES_DIR,
    privacy_utility_points,
    render_report,
    utility_curves,
)
from instahide_bench.benchmark.matrix.run import CellResult, ChallengeResult, MatrixResult
from instahide_bench.benchmark.matrix.spec import spec_from_dict
from instahide_bench.benchmark.matrix.utility import UtilityRow, run_matrix_utility, utility_spec_from_dict
from instahide_bench.core.errors import InputFileError


def _result() -> MatrixResult:
    challenges, cells = [], []
    for t in (2, 5):
        label = f"mixup[T={t}]"
        challenges.append(ChallengeResult(label, "mixup", {"T": t}, "ok", params={"mode": "inside", "T": t}))
        for attack, max_ssim in (("zero", 0.2), ("mixup-sign-recovery", 0.5 + 0.1 * t)):
            scores = {"max_ssim": max_ssim, "mean_ssim": 0, "min_l2": 0, "mean_l2": 0}
            cells.append(CellResult(label, attack, attack, "ok", True, scores))
    return MatrixResult({"private": "p", "public": "q"}, challenges, cells, "start", "end", {}, {})


def _utility() -> list[UtilityRow]:
    return [
        UtilityRow("vanilla", None, "ok", 0.95, 0.95, 3, 1.0),
        UtilityRow("mixup[T=2]", "mixup", "ok", 0.40, 0.95, 2, 1.0),
        UtilityRow("mixup[T=5]", "mixup", "ok", 0.70, 0.95, 3, 1.0),
    ]


RULES = {"thresholds": [{"encoder": "mixup", "accuracy_at_least": 0.5, "reason": "mixup stays trainable"}]}


def test_accuracy_at_least_passes_and_regresses_per_variant() -> None:
    verdicts = evaluate(_result(), thresholds_from_dict(RULES, "t.toml"), _utility())
    assert [(v.encoder, v.verdict) for v in verdicts] == [("mixup[T=2]", "regressed"), ("mixup[T=5]", "pass")]
    table = format_table(verdicts)
    assert "accuracy >= 0.5" in table and "mixup[T=2]'s encodings reaches 0.4000" in table
    assert has_regressions(verdicts)


def test_a_utility_rule_without_results_or_with_a_failed_run_is_an_error() -> None:
    [missing] = evaluate(_result(), thresholds_from_dict(RULES, "t.toml"), None)
    assert missing.verdict == "error" and "[utility]" in missing.message
    failed = [UtilityRow("mixup[T=2]", "mixup", "failed", message="no training_epoch")]
    [verdict] = evaluate(_result(), thresholds_from_dict(RULES, "t.toml"), failed)
    assert verdict.verdict == "error" and verdict.message == "no training_epoch"


def test_utility_rules_are_checked_when_read() -> None:
    with pytest.raises(InputFileError, match="no attack"):
        thresholds_from_dict({"thresholds": [{"encoder": "m", "attack": "a", "accuracy_at_least": 0.5}]}, "t.toml")
    with pytest.raises(InputFileError, match="exactly one"):
        thresholds_from_dict({"thresholds": [{"encoder": "m", "accuracy_at_least": 0.5, "max_ssim_at_most": 1}]}, "t")
    with pytest.raises(InputFileError, match=r"t\.toml.*unknown key"):
        utility_spec_from_dict({"utility": {"epoch": 3}}, "t.toml")
    assert utility_spec_from_dict({}, "t.toml") is None
    spec = utility_spec_from_dict({"utility": {"rows": 10, "epochs": 2, "encoders": ["mixup"]}}, "t.toml")
    assert spec is not None and spec.rows == 10 and spec.applies_to("mixup[T=5]") and not spec.applies_to("cross")
    assert spec.reference and utility_spec_from_dict({"utility": {"reference": "false"}}, "t").reference is False
    with pytest.raises(InputFileError, match="reference"):
        utility_spec_from_dict({"utility": {"reference": "maybe"}}, "t.toml")


def test_report_has_a_utility_column_and_a_privacy_utility_figure(tmp_path: Path) -> None:
    page = render_report(_result(), tmp_path, _utility()).read_text()
    assert "<th>utility (test accuracy)</th>" in page and "0.7000 (3 epochs)" in page
    assert "no encoding (vanilla): 0.9500 (3 epochs)" in page
    assert f'src="{FIGURES_DIR}/privacy_utility.png"' in page
    with Image.open(tmp_path / FIGURES_DIR / "privacy_utility.png") as png:
        assert png.format == "PNG"
    # x = the best attack's Max_SSIM on the encoder, y = its accuracy
    assert privacy_utility_points(_result(), _utility()) == [("mixup[T=2]", 0.7, 0.40), ("mixup[T=5]", 1.0, 0.70)]
    # the T sweep's figure carries the accuracy curve beside the attacks' Max_SSIM curves
    assert utility_curves(_result(), _utility(), "T") == {"accuracy of mixup": [(2.0, 0.40), (5.0, 0.70)]}


def test_report_without_utility_has_no_column(tmp_path: Path) -> None:
    page = render_report(_result(), tmp_path).read_text()
    assert "utility (test accuracy)" not in page and "privacy_utility" not in page


def test_run_matrix_utility_trains_vanilla_and_each_variant(tmp_path: Path) -> None:
    document = {
        "encoders": {"mixup": {"preset": "mixup", "set": {"T": 1}}, "cross": {"preset": "instahide-cross"}},
        "attacks": {"zero": {}},
        "utility": {"rows": 48, "test_rows": 30, "epochs": 2, "batch_size": 48, "encoders": ["mixup"]},
    }
    utility = utility_spec_from_dict(document, "t.toml")
    assert utility is not None
    rows = run_matrix_utility(spec_from_dict(document, Path("t.toml")), utility, tmp_path)
    # mixup's T=1 (under the cap of 2) sets its epochs; the reference trains as long as the longest variant
    assert [(r.encoder, r.status, r.epochs) for r in rows] == [("vanilla", "ok", 1), ("mixup", "ok", 1)]
    assert rows[1].baseline_accuracy == rows[0].accuracy
    assert (tmp_path / "utility.json").is_file() and len(
        list((tmp_path / "leaderboard" / "utility").glob("*.json"))
    ) == 2
