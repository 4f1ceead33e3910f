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
A rule whose cell failed to run, or that matches no cell, is an error, never a pass.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from instahide_bench.benchmark.matrix.run import CellResult, MatrixResult
from instahide_bench.core.errors import InputFileError

Verdict = Literal["pass", "regressed", "error"]


@dataclass(frozen=True)
class Threshold:
    """One rule; exactly one of ``must``, ``max_ssim_at_most``, ``max_ssim_at_least`` per rule."""

    encoder: str
    attack: str
    must: Literal["succeed", "fail"] | None = None
    max_ssim_at_most: float | None = None
    max_ssim_at_least: float | None = None
    reason: str = ""

    def describe(self) -> str:
        if self.must is not None:
            return f"must {self.must}"
        if self.max_ssim_at_most is not None:
            return f"Max_SSIM <= {self.max_ssim_at_most:g}"
        return f"Max_SSIM >= {self.max_ssim_at_least:g}"

    def matches(self, cell: CellResult) -> bool:
        encoder_ok = fnmatch.fnmatchcase(cell.encoder, self.encoder) or cell.encoder.startswith(self.encoder + "[")
        return encoder_ok and fnmatch.fnmatchcase(cell.attack, self.attack)


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
        if not isinstance(rule, dict) or "encoder" not in rule or "attack" not in rule:
            raise InputFileError(path, f"{where} needs 'encoder' and 'attack'")
        unknown = set(rule) - {"encoder", "attack", "must", "max_ssim_at_most", "max_ssim_at_least", "reason"}
        if unknown:
            raise InputFileError(path, f"{where} has unknown key(s): {', '.join(sorted(unknown))}")
        kinds = [k for k in ("must", "max_ssim_at_most", "max_ssim_at_least") if k in rule]
        if len(kinds) != 1:
            raise InputFileError(path, f"{where} needs exactly one of must / max_ssim_at_most / max_ssim_at_least")
        if "must" in rule and rule["must"] not in ("succeed", "fail"):
            raise InputFileError(path, f"{where}: must is 'succeed' or 'fail', not {rule['must']!r}")
        try:
            parsed.append(
                Threshold(
                    encoder=str(rule["encoder"]),
                    attack=str(rule["attack"]),
                    must=rule.get("must"),
                    max_ssim_at_most=None if "max_ssim_at_most" not in rule else float(rule["max_ssim_at_most"]),
                    max_ssim_at_least=None if "max_ssim_at_least" not in rule else float(rule["max_ssim_at_least"]),
                    reason=str(rule.get("reason", "")),
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
    max_ssim = float(cell.scores["max_ssim"])
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


def evaluate(result: MatrixResult, thresholds: Iterable[Threshold]) -> list[RuleResult]:
    """Every rule against every cell it matches; a rule matching nothing is an error."""
    verdicts = []
    for threshold in thresholds:
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


__all__ = ["RuleResult", "Threshold", "evaluate", "format_table", "has_regressions", "thresholds_from_dict"]
