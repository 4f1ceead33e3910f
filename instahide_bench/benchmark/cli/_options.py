"""Options that several commands share, declared once."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from typing import Any


def add_set_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    """The repeatable ``--set KEY=VALUE`` override, collected in ``args.overrides`` (see ``parse_assignments``)."""
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help_text)


def whole_number(low: int, high: int, name: str = "a whole number") -> Callable[[str], int]:
    """An argparse type: an integer in ``[low, high]``, else a one-line error saying the range."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {name}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside [{low:,}, {high:,}]")
        return value

    return parse


def real_number(low: float, high: float = math.inf, *, low_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite float in ``[low, high]`` (``(low, high]`` with ``low_open``); NaN refused."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value < low or (low_open and value == low) or value > high:
            bracket = "(" if low_open else "["
            upper = "" if math.isinf(high) else f"{high:g}"
            raise argparse.ArgumentTypeError(
                f"{text} is outside {bracket}{low:g}, {upper or 'inf'}{']' if upper else ')'}"
            )
        return value

    return parse


#: numpy, torch and the challenge seeds: the legacy generator's seed is 32-bit (``RandomState``).
LEGACY_SEED = whole_number(0, 2**32 - 1, "a 32-bit seed")
#: Any other seed (models, data choice, bootstrap): a non-negative 63-bit integer.
SEED = whole_number(0, 2**63 - 1, "a seed")
#: Counts of things (epochs, rows, steps): at least one, and far below what memory could hold.
COUNT = whole_number(1, 10**9, "a count")
#: A duration or limit: a positive, finite number.
POSITIVE = real_number(0.0, low_open=True)


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def print_json(value: Any) -> None:
    """``--json`` output: strict JSON on stdout (a missing number is null, never a bare NaN)."""
    json.dump(_finite(value), sys.stdout, indent=2, allow_nan=False, default=str)
    print()
