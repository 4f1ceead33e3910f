"""Regression thresholds per (encoder, attack), and the verdict table ``regress`` prints.

Thresholds sit in the same TOML file as the matrix they apply to::

    [[thresholds]]
    encoder = "instahide-cross"        # a label, a sweep family ("x" matches "x[T=5]"), or a glob
    attack = "prng-seed-search"
    must = "fail"                      # the attack must report no success ("succeed": the opposite)
    reason = "secure RNG: no seed may reproduce label.npy"

    [[thresholds]]
    encoder = "instahide-cross"
    attack = "mixup-sign-recovery"
    max_ssim_at_most = 0.3             # the encoder must keep this attack below 0.3

``max_ssim_at_least`` guards the other direction (an attack that should keep working).
``accuracy_at_least`` guards an encoder's utility (the ``[utility]`` table of the same file
trains a model on its encodings; see :mod:`.utility`); such a rule names no attack::

    [[thresholds]]
    encoder = "mixup"
    accuracy_at_least = 0.5            # a model trained on mixup's encodings keeps this test accuracy

A rule whose cell failed to run, or that matches no cell, is an error, never a pass.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from instahide_bench.benchmark.matrix.run import CellResult, MatrixResult
from instahide_bench.benchmark.matrix.utility import UtilityRow
from instahide_bench.core.errors import InputFileError

Verdict = Literal["pass", "regressed", "error"]
_KINDS = ("must", "max_ssim_at_most", "max_ssim_at_least", "accuracy_at_least")
#: What the verdict table shows in the attack column of a utility rule.
UTILITY_ATTACK = "(utility)"


@dataclass(frozen=True)
class Threshold:
    """One rule; exactly one of ``must``, ``max_ssim_at_most``, ``max_ssim_at_least``, ``accuracy_at_least``."""

    encoder: str
    attack: str
    must: Literal["succeed", "fail"] | None = None
    max_ssim_at_most: float | None = None
    max_ssim_at_least: float | None = None
    reason: str = ""
    accuracy_at_least: float | None = None

    @property
    def is_utility(self) -> bool:
        return self.accuracy_at_least is not None

    def describe(self) -> str:
        if self.accuracy_at_least is not None:
            return f"accuracy >= {self.accuracy_at_least:g}"
        if self.must is not None:
            return f"must {self.must}"
        if self.max_ssim_at_most is not None:
            return f"Max_SSIM <= {self.max_ssim_at_most:g}"
        return f"Max_SSIM >= {self.max_ssim_at_least:g}"

    def matches_encoder(self, label: str) -> bool:
        return fnmatch.fnmatchcase(label, self.encoder) or label.startswith(self.encoder + "[")

    def matches(self, cell: CellResult) -> bool:
        return self.matches_encoder(cell.encoder) and fnmatch.fnmatchcase(cell.attack, self.attack)


@dataclass(frozen=True)
class RuleResult:
    """The verdict of one rule on one cell."""

    threshold: Threshold
    encoder: str
    attack: str
    measured: str
    verdict: Verdict
    message: str = ""


def thresholds_from_dict(document: Mapping[str, Any], path: str | os.PathLike[str]) -> list[Threshold]:
    rules = document.get("thresholds", [])
    if not isinstance(rules, list) or not rules:
        raise InputFileError(path, "needs at least one [[thresholds]] rule")
    parsed = []
    for number, rule in enumerate(rules, start=1):
        where = f"[[thresholds]] rule {number}"
        utility = isinstance(rule, dict) and "accuracy_at_least" in rule
        if not isinstance(rule, dict) or "encoder" not in rule or ("attack" not in rule and not utility):
            raise InputFileError(path, f"{where} needs 'encoder' and 'attack' (or 'encoder' and 'accuracy_at_least')")
        unknown = set(rule) - {"encoder", "attack", "reason", *_KINDS}
        if unknown:
            raise InputFileError(path, f"{where} has unknown key(s): {', '.join(sorted(unknown))}")
        kinds = [k for k in _KINDS if k in rule]
        if len(kinds) != 1:
            raise InputFileError(path, f"{where} needs exactly one of {' / '.join(_KINDS)}")
        if utility and "attack" in rule:
            raise InputFileError(path, f"{where}: accuracy_at_least is about the encoder; it takes no attack")
        if "must" in rule and rule["must"] not in ("succeed", "fail"):
            raise InputFileError(path, f"{where}: must is 'succeed' or 'fail', not {rule['must']!r}")
        try:
            parsed.append(
                Threshold(
                    encoder=str(rule["encoder"]),
                    attack=UTILITY_ATTACK if utility else str(rule["attack"]),
                    must=rule.get("must"),
                    max_ssim_at_most=None if "max_ssim_at_most" not in rule else float(rule["max_ssim_at_most"]),
                    max_ssim_at_least=None if "max_ssim_at_least" not in rule else float(rule["max_ssim_at_least"]),
                    reason=str(rule.get("reason", "")),
                    accuracy_at_least=None if not utility else float(rule["accuracy_at_least"]),
                )
            )
        except (TypeError, ValueError) as exc:
            raise InputFileError(path, f"{where}: {exc}") from None
    return parsed


def _judge(threshold: Threshold, cell: CellResult) -> RuleResult:
    def result(measured: str, verdict: Verdict, message: str = "") -> RuleResult:
        return RuleResult(threshold, cell.encoder, cell.attack, measured, verdict, message)

    if cell.status != "ok" or cell.scores is None:
        return result("did not run", "error", cell.message)
    if cell.max_ssim is None:
        return result(
            "no Max_SSIM", "error", f"{cell.attack} is a {cell.threat_model} attack; this rule needs Max_SSIM"
        )
    max_ssim = cell.max_ssim
    if threshold.must is not None:
        outcome = "succeeded" if cell.succeeded else "did not succeed"
        wanted = (threshold.must == "succeed") == bool(cell.succeeded)
        detail = f"{cell.attack} {outcome} on {cell.encoder}" + (f" ({cell.message})" if cell.message else "")
        return result(outcome, "pass" if wanted else "regressed", "" if wanted else detail)
    measured = f"Max_SSIM {max_ssim:.4f}"
    if threshold.max_ssim_at_most is not None and max_ssim > threshold.max_ssim_at_most:
        return result(
            measured,
            "regressed",
            f"{cell.attack} reaches {max_ssim:.4f} on {cell.encoder}, above the allowed {threshold.max_ssim_at_most:g}",
        )
    if threshold.max_ssim_at_least is not None and max_ssim < threshold.max_ssim_at_least:
        return result(
            measured,
            "regressed",
            f"{cell.attack} only reaches {max_ssim:.4f} on {cell.encoder}, "
            f"below the required {threshold.max_ssim_at_least:g}",
        )
    return result(measured, "pass")


def _judge_utility(threshold: Threshold, row: UtilityRow) -> RuleResult:
    assert threshold.accuracy_at_least is not None
    if row.status != "ok" or row.accuracy is None:
        return RuleResult(threshold, row.encoder, UTILITY_ATTACK, "did not run", "error", row.message)
    measured = f"accuracy {row.accuracy:.4f}"
    if row.accuracy < threshold.accuracy_at_least:
        message = (
            f"a model trained on {row.encoder}'s encodings reaches {row.accuracy:.4f}, "
            f"below the required {threshold.accuracy_at_least:g}"
        )
        return RuleResult(threshold, row.encoder, UTILITY_ATTACK, measured, "regressed", message)
    return RuleResult(threshold, row.encoder, UTILITY_ATTACK, measured, "pass")


def evaluate(
    result: MatrixResult, thresholds: Iterable[Threshold], utility: Iterable[UtilityRow] | None = None
) -> list[RuleResult]:
    """Every rule against every cell (or utility row) it matches; a rule matching nothing is an error."""
    verdicts = []
    utility_rows = list(utility or [])
    for threshold in thresholds:
        if threshold.is_utility:
            rows = [row for row in utility_rows if threshold.matches_encoder(row.encoder)]
            if not rows:
                verdicts.append(
                    RuleResult(
                        threshold,
                        threshold.encoder,
                        UTILITY_ATTACK,
                        "no such row",
                        "error",
                        "no utility result matches this rule (is the encoder in [utility]?)",
                    )
                )
            verdicts.extend(_judge_utility(threshold, row) for row in rows)
            continue
        cells = [cell for cell in result.cells if threshold.matches(cell)]
        if not cells:
            verdicts.append(
                RuleResult(
                    threshold,
                    threshold.encoder,
                    threshold.attack,
                    "no such cell",
                    "error",
                    "no cell of the matrix matches this rule",
                )
            )
        verdicts.extend(_judge(threshold, cell) for cell in cells)
    return verdicts


def format_table(verdicts: list[RuleResult]) -> str:
    """A plain-text table: one line per (rule, cell), regressions explained underneath."""
    header = ("verdict", "encoder", "attack", "threshold", "measured")
    lines = [(v.verdict.upper(), v.encoder, v.attack, v.threshold.describe(), v.measured) for v in verdicts]
    widths = [max(len(str(row[i])) for row in [header, *lines]) for i in range(len(header))]
    text = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *lines]]
    problems = [v for v in verdicts if v.verdict != "pass"]
    if problems:
        text.append("")
        for v in problems:
            why = f" ({v.threshold.reason})" if v.threshold.reason else ""
            text.append(f"{v.verdict.upper()}: {v.message or v.measured}; rule: {v.threshold.describe()}{why}")
    passed = sum(v.verdict == "pass" for v in verdicts)
    text.append("")
    text.append(f"{passed}/{len(verdicts)} checks passed")
    return "\n".join(text)


def has_regressions(verdicts: list[RuleResult]) -> bool:
    return any(v.verdict != "pass" for v in verdicts)


__all__ = [
    "UTILITY_ATTACK",
    "RuleResult",
    "Threshold",
    "evaluate",
    "format_table",
    "has_regressions",
    "thresholds_from_dict",
]
