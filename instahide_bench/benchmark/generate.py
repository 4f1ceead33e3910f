"""Build a challenge from a preset and data sources (what ``instahide-bench generate`` runs)."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from instahide_bench.core.challenge import EncodedChallenge, write_challenge
from instahide_bench.core.data import ImageSet, parse_source
from instahide_bench.core.membership import build_membership_set, load_non_members, split_candidates
from instahide_bench.encoders.presets import get_preset

logger = logging.getLogger(__name__)

DEFAULT_SOURCE = "embedded"
#: Offset of the non-members' data seed from ``data_seed`` (private images use it, the public pool +1).
NON_MEMBER_SEED_OFFSET = 5


@dataclass(frozen=True)
class MembershipRequest:
    """``generate --membership``: add candidates (members and non-members) to the challenge.

    Attributes
    ----------
    candidates : int or None
        Total candidates, half members (sampled from the private images) and half non-members;
        None: every private image, and as many non-members.
    non_members : str or None
        The non-members' source; None: the private source (its images outside the private set).
    """

    candidates: int | None = None
    non_members: str | None = None


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
    membership: MembershipRequest | None = None,
) -> tuple[EncodedChallenge, GenerationTimes]:
    """Load the images a preset needs and encode them (nothing is written); add membership
    candidates when ``membership`` is given."""
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
    if membership is not None:
        encoded = _add_membership(encoded, membership, private, private_source, data_seed)
    return encoded, GenerationTimes(private_time, public_time, encode_time, 0.0)


def _add_membership(
    encoded: EncodedChallenge, request: MembershipRequest, private: ImageSet, private_source: str, data_seed: int
) -> EncodedChallenge:
    """Members: the encoder's private images (key/private.npy's order); non-members: other images
    of the same distribution, held out of the private set."""
    if len(private) != encoded.key.private.shape[0]:
        raise ValueError("the encoder's key does not hold the private images it was given")
    members, count = split_candidates(len(private), request.candidates)
    spec = request.non_members or private_source
    non_members = load_non_members(spec, private_source, private, count, data_seed + NON_MEMBER_SEED_OFFSET)
    rng = np.random.default_rng(np.random.SeedSequence([data_seed, NON_MEMBER_SEED_OFFSET]))
    info = {
        "non_member_source": spec.partition(":")[0],
        "member_selection": "all" if members == len(private) else "sample",
    }
    chosen = build_membership_set(
        private, non_members, encoded.pixels, members=members, rng=rng, info=info, init_index=encoded.key.init_index
    )
    key = dataclasses.replace(
        encoded.key,
        provenance={**encoded.key.provenance, "non_member_source": spec, "non_member_ids": non_members.ids.tolist()},
    )
    return dataclasses.replace(encoded, membership=chosen, key=key)


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
    membership: MembershipRequest | None = None,
) -> tuple[Path, GenerationTimes]:
    """Build a challenge and write it atomically to ``out_dir`` (``original_layout``: no challenge.json)."""
    encoded, times = build_challenge(
        preset,
        overrides=overrides,
        private_source=private_source,
        public_source=public_source,
        seed=seed,
        data_seed=data_seed,
        membership=membership,
    )
    clock = time.perf_counter()
    path = write_challenge(out_dir, encoded, overwrite=overwrite, original_layout=original_layout)
    times = dataclasses.replace(times, write=time.perf_counter() - clock)
    logger.info("generate %s: %s", preset, times)
    return path, times
