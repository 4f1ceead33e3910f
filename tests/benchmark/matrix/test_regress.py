"""Threshold rules and their verdicts, on hand-made matrix results."""

from __future__ import annotations

from pathlib import Path

import pytest

from instahide_bench.benchmark.matrix.regress import evaluate, format_table, has_regressions, thresholds_from_dict
from instahide_bench.benchmark.matrix.run import CellResult, ChallengeResult, MatrixResult
from instahide_bench.core.errors import InputFileError


def _result(*cells: CellResult) -> MatrixResult:
    encoders = sorted({c.encoder for c in cells})
    return MatrixResult(
        {}, [ChallengeResult(e, e.split("[")[0], {}, "ok") for e in encoders], list(cells), "start", "end", {}, {}
    )


def _cell(
    encoder: str, attack: str, max_ssim: float | None, succeeded: bool = True, status: str = "ok", message: str = ""
) -> CellResult:
    scores = None if max_ssim is None else {"max_ssim": max_ssim, "mean_ssim": 0, "min_l2": 0, "mean_l2": 0}
    return CellResult(encoder, attack, attack, status, succeeded, scores, message=message)


RULES = {
    "thresholds": [
        {"encoder": "cross", "attack": "prng", "must": "fail", "reason": "secure RNG"},
        {"encoder": "cross", "attack": "mixup", "max_ssim_at_most": 0.3},
        {"encoder": "mix*", "attack": "mixup", "max_ssim_at_least": 0.9},
    ]
}


def test_all_rules_pass() -> None:
    verdicts = evaluate(
        _result(
            _cell("cross", "prng", 0.05, succeeded=False), _cell("cross", "mixup", 0.2), _cell("mixup", "mixup", 0.97)
        ),
        thresholds_from_dict(RULES, "t.toml"),
    )
    assert [v.verdict for v in verdicts] == ["pass", "pass", "pass"]
    assert not has_regressions(verdicts)
    assert "3/3 checks passed" in format_table(verdicts)


def test_a_weakened_encoder_regresses_with_a_clear_message() -> None:
    verdicts = evaluate(
        _result(
            _cell("cross", "prng", 0.99, succeeded=True, message="seed 4242 found"),
            _cell("cross", "mixup", 0.45),
            _cell("mixup", "mixup", 0.5),
        ),
        thresholds_from_dict(RULES, "t.toml"),
    )
    assert [v.verdict for v in verdicts] == ["regressed", "regressed", "regressed"]
    table = format_table(verdicts)
    assert "REGRESSED: prng succeeded on cross (seed 4242 found); rule: must fail (secure RNG)" in table
    assert "mixup reaches 0.4500 on cross, above the allowed 0.3" in table
    assert "only reaches 0.5000 on mixup, below the required 0.9" in table
    assert has_regressions(verdicts)


def test_sweep_variants_match_their_family_and_failures_are_errors() -> None:
    verdicts = evaluate(
        _result(
            _cell("cross[T=5]", "mixup", 0.1),
            _cell("cross[T=10]", "mixup", None, status="failed", message="attack crashed"),
        ),
        thresholds_from_dict({"thresholds": [RULES["thresholds"][1]]}, "t.toml"),
    )
    assert sorted(v.verdict for v in verdicts) == ["error", "pass"]
    assert "attack crashed" in format_table(verdicts)


def test_a_rule_matching_nothing_is_an_error() -> None:
    verdicts = evaluate(_result(_cell("other", "zero", 0.4)), thresholds_from_dict(RULES, "t.toml"))
    assert {v.verdict for v in verdicts} == {"error"}


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({}, "at least one"),
        ({"thresholds": [{"encoder": "a"}]}, "needs 'encoder' and 'attack'"),
        ({"thresholds": [{"encoder": "a", "attack": "b"}]}, "exactly one of"),
        ({"thresholds": [{"encoder": "a", "attack": "b", "must": "win"}]}, "must is 'succeed' or 'fail'"),
        ({"thresholds": [{"encoder": "a", "attack": "b", "max_ssim_at_most": 0.1, "colour": 1}]}, "unknown key"),
    ],
)
def test_bad_rules_name_the_file(rules: dict, message: str) -> None:
    with pytest.raises(InputFileError, match=message):
        thresholds_from_dict(rules, Path("t.toml"))
