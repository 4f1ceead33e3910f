"""The seed space and its parts: ``A:B`` ranges (parsed with clear errors) and shards.

A legacy seed is 32 bits, so the whole space is ``[0, 2**32)``. Shards are the units of work
that an engine hands to one thread, GPU batch or Dask task.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from instahide_bench.core.errors import ConfigError

#: Seeds of numpy's ``RandomState`` and torch's ``manual_seed`` in the 2020 challenge: 32 bits.
SEED_SPACE = 2**32
FULL_RANGE_TEXT = f"0:{SEED_SPACE}"


@dataclass(frozen=True)
class SeedRange:
    """Seeds ``start .. stop-1`` (half-open, like Python's ``range``)."""

    start: int
    stop: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.stop <= SEED_SPACE:
            raise ConfigError(f"seed range [{self.start}, {self.stop}) must be non-empty and lie in [0, 2**32)")

    @property
    def size(self) -> int:
        return self.stop - self.start

    @property
    def is_full(self) -> bool:
        return self.start == 0 and self.stop == SEED_SPACE

    def __str__(self) -> str:
        return f"[{self.start}, {self.stop})"

    def shards(self, shard_size: int) -> Iterator[SeedRange]:
        """Consecutive pieces of at most ``shard_size`` seeds, in increasing order."""
        if shard_size < 1:
            raise ConfigError(f"shard size must be positive, got {shard_size}")
        for first in range(self.start, self.stop, shard_size):
            yield SeedRange(first, min(first + shard_size, self.stop))


def _parse_bound(text: str, default: int, side: str, whole: str) -> int:
    text = text.strip().replace("_", "")
    if not text:
        return default
    if text in ("2**32", "2^32"):
        return SEED_SPACE
    try:
        return int(text, 0)
    except ValueError:
        problem = f"{side} bound {text!r} is not an integer (decimal or 0x hex)"
        raise ConfigError(f"seed range {whole!r}: {problem}") from None


def parse_seed_range(text: str) -> SeedRange:
    """``"A:B"`` -> seeds ``A .. B-1``. Either side may be empty (0 and 2**32); ``2**32`` is accepted."""
    before, colon, after = str(text).partition(":")
    if not colon:
        raise ConfigError(f"seed range {text!r} must look like A:B (e.g. 0:4294967296, or 1000: for 1000 to 2**32)")
    start = _parse_bound(before, 0, "lower", text)
    stop = _parse_bound(after, SEED_SPACE, "upper", text)
    if start < 0 or stop > SEED_SPACE:
        raise ConfigError(f"seed range {text!r} leaves the 32-bit seed space [0, {SEED_SPACE})")
    if start >= stop:
        raise ConfigError(f"seed range {text!r} is empty: the lower bound must be below the upper bound")
    return SeedRange(start, stop)


__all__ = ["FULL_RANGE_TEXT", "SEED_SPACE", "SeedRange", "parse_seed_range"]
