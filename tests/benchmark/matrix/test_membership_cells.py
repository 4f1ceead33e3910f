"""Membership cells in the matrix: challenges with candidates, AUC cells, ROC figures, regress rules."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from instahide_bench.benchmark.matrix.regress import Threshold, _judge
from instahide_bench.benchmark.matrix.report import render_report
from instahide_bench.benchmark.matrix.run import CellResult, ChallengeResult, MatrixResult, attack_task, generate_task
from instahide_bench.benchmark.matrix.spec import AttackVariant, EncoderVariant, MatrixSpec, spec_from_dict
from instahide_bench.core.challenge import load_challenge

SCORES = {
    "auc": 0.75,
    "tpr_at_0.1%_fpr": 0.02,
    "tpr_at_1%_fpr": 0.1,
    "balanced_accuracy": 0.7,
    "reliable": {"tpr_at_0.1%_fpr": False, "tpr_at_1%_fpr": True},
}


def test_membership_cell_is_shown_with_its_roc_curve(tmp_path: Path) -> None:
    roc = tmp_path / "roc.png"
    Image.new("RGB", (4, 4)).save(roc)
    challenges = [ChallengeResult("vanilla", "vanilla", {}, "ok", "c", "id", {"n": 20})]
    cell = CellResult(
        "vanilla",
        "loss-threshold",
        "loss-threshold",
        "ok",
        True,
        SCORES,
        2.0,
        threat_model="membership",
        roc_path=str(roc),
    )
    result = MatrixResult({"private": "p", "public": "q"}, challenges, [cell], "a", "b", {"cpu_cores": 2}, {})
    page = render_report(result, tmp_path).read_text()
    assert "<b>AUC 0.750</b>" in page and "TPR@0.1% FPR 0.020 †" in page and "TPR@1% FPR 0.100" in page
    assert 'src="roc.png"' in page and "Membership inference: ROC curves" in page
    assert cell.max_ssim is None and cell.auc == 0.75
    judged = _judge(Threshold("vanilla", "loss-threshold", max_ssim_at_most=0.3), cell)
    assert judged.verdict == "error" and "membership attack" in judged.message


def test_toml_membership_builds_candidates_and_a_cell_without_them_fails_clearly(tmp_path: Path) -> None:
    document = {"matrix": {"membership": True, "candidates": 16}, "encoders": {"vanilla": {}}, "attacks": {"zero": {}}}
    assert spec_from_dict(document, tmp_path / "m.toml").candidates == 16
    variant = EncoderVariant("vanilla", "vanilla", {"n": 8})
    attack = AttackVariant("loss-threshold", "loss-threshold", {"epochs": 1})
    made = generate_task(variant, MatrixSpec((variant,), (attack,), membership=True), str(tmp_path / "with"))
    assert made.status == "ok" and made.challenge_dir is not None
    assert len(load_challenge(made.challenge_dir).membership or ()) == 16
    plain_spec = MatrixSpec((variant,), (attack,))
    plain = generate_task(variant, plain_spec, str(tmp_path / "without"))
    assert plain.challenge_dir is not None and load_challenge(plain.challenge_dir).membership is None
    cell = attack_task(plain, attack, plain_spec, str(tmp_path / "without"), str(tmp_path / "board"))
    assert cell.status == "failed" and "not a membership challenge" in cell.message
