"""Build a challenge from a preset and data sources (what ``instahide-bench generate`` runs)."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from instahide_bench.core.challenge import EncodedChallenge, write_challenge
from instahide_bench.core.data import parse_source
from instahide_bench.encoders.presets import get_preset

logger = logging.getLogger(__name__)

DEFAULT_SOURCE = "embedded"


@dataclass(frozen=True)
class GenerationTimes:
    """Seconds spent per step, so that benchmarks can report them separately."""

    private_load: float
    public_load: float
    encode: float
    write: float


def build_challenge(
    preset: str,
    *,
    overrides: dict[str, Any] | None = None,
    private_source: str = DEFAULT_SOURCE,
    public_source: str = DEFAULT_SOURCE,
    seed: int | None = None,
    data_seed: int = 0,
) -> tuple[EncodedChallenge, GenerationTimes]:
    """Load the images a preset needs and encode them (nothing is written)."""
    encoder = get_preset(preset).build(overrides)
    clock = time.perf_counter()
    private = parse_source(private_source, "private").load(encoder.required_private(), data_seed)
    private_time = time.perf_counter() - clock
    public, clock = None, time.perf_counter()
    if encoder.required_public():
        # A different stream than the private choice, so that the two sets never share a draw.
        public = parse_source(public_source, "public").load(encoder.required_public(), data_seed + 1)
    public_time = time.perf_counter() - clock
    clock = time.perf_counter()
    encoded = encoder.encode(private, public, seed=seed)
    encode_time = time.perf_counter() - clock
    source_kinds = {"private": private_source.partition(":")[0]}
    if public is not None:
        source_kinds["public"] = public_source.partition(":")[0]
    key = dataclasses.replace(
        encoded.key,
        provenance={
            **encoded.key.provenance,
            "preset": preset,
            "overrides": dict(overrides or {}),
            "private_source": private_source,
            "public_source": public_source if public is not None else None,
            "data_seed": data_seed,
        },
    )
    encoded = dataclasses.replace(encoded, preset=preset, sources=source_kinds, key=key)
    return encoded, GenerationTimes(private_time, public_time, encode_time, 0.0)


def generate(
    preset: str,
    out_dir: str | os.PathLike[str],
    *,
    overrides: dict[str, Any] | None = None,
    private_source: str = DEFAULT_SOURCE,
    public_source: str = DEFAULT_SOURCE,
    seed: int | None = None,
    data_seed: int = 0,
    overwrite: bool = False,
    original_layout: bool = False,
) -> tuple[Path, GenerationTimes]:
    """Build a challenge and write it atomically to ``out_dir`` (``original_layout``: no challenge.json)."""
    encoded, times = build_challenge(
        preset,
        overrides=overrides,
        private_source=private_source,
        public_source=public_source,
        seed=seed,
        data_seed=data_seed,
    )
    clock = time.perf_counter()
    path = write_challenge(out_dir, encoded, overwrite=overwrite, original_layout=original_layout)
    times = dataclasses.replace(times, write=time.perf_counter() - clock)
    logger.info("generate %s: %s", preset, times)
    return path, times
