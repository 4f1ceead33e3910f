"""Build a challenge from a preset and data sources (what ``instahide-bench generate`` runs)."""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from instahide_bench.core.challenge import EncodedChallenge, check_output_dir, write_challenge
from instahide_bench.core.data import ImageSet, parse_source
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.gradients import Defences
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


def check_original_layout(preset: str, overrides: dict[str, Any]) -> None:
    """Refuse ``--original-layout`` for a preset whose files a reader would misread.

    A bare ``encryption.npy`` + ``label.npy`` folder says nothing of its parameters; readers
    assume the 2020 release's (``core/release2020.py``). A preset that differs in any of them
    (pixels in [0, 1], k = 4, no mask, ...) would be read back wrongly and scored wrongly (a
    perfect decryption of an ``instahide-inside`` set scored Min_L2 0.29), so it is refused.
    """
    from instahide_bench.core.release2020 import assumed_release_params

    config = getattr(get_preset(preset).build(overrides), "config", None)
    public_params = getattr(config, "public_params", None)
    if public_params is None:
        raise ConfigError(f"--original-layout writes the 2020 release's files, which {preset!r} does not produce")
    params = public_params()
    assumed = assumed_release_params(int(params["num_rows"]))
    differ = [f"{k}={params.get(k)} (read as {v})" for k, v in assumed.items() if params.get(k) != v]
    if differ:
        raise ConfigError(
            "--original-layout: a folder without challenge.json is read with the 2020 release's parameters, "
            f"and {preset} differs in {', '.join(differ)}; drop --original-layout"
        )


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
    gradients: GradientRequest | None = None,
) -> tuple[Path, GenerationTimes]:
    """Build a challenge and write it atomically to ``out_dir`` (``original_layout``: no challenge.json).

    With ``gradients`` the challenge is a gradient challenge (:func:`build_gradient_challenge`).
    An existing ``out_dir`` is refused before any work (unless ``overwrite``).
    """
    check_output_dir(out_dir, overwrite)
    if original_layout:
        check_original_layout(preset, overrides or {})
    if gradients is not None:
        if membership is not None:
            raise ConfigError("a gradient challenge takes no membership candidates")
        encoded, times = build_gradient_challenge(
            preset,
            gradients,
            overrides=overrides,
            private_source=private_source,
            public_source=public_source,
            seed=seed,
            data_seed=data_seed,
        )
    else:
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
    logger.debug("generate %s: %s", preset, times)
    return path, times


@dataclass(frozen=True)
class GradientRequest:
    """``generate --gradients``: a FedSGD client trains on the encoder's output; the server's view is released.

    Attributes
    ----------
    batch_size, steps : int
        B rows per step, S steps: the client feeds S*B rows, each private image encoded afresh
        every epoch (S*B / n epochs).
    model : str
        The server's architecture.
    server_lr : float
        The server's SGD step.
    batchnorm : str
        ``train`` (as the utility recipe trains) or ``eval``.
    labels_public : bool
        Release the rows' soft labels with the gradients.
    defences : Defences
        Gradient pruning, clipping and noise applied by the client.
    model_seed : int
        Seed of the initial weights.
    """

    batch_size: int = 1
    steps: int = 10
    model: str = "small-cnn"
    server_lr: float = 0.1
    batchnorm: str = "train"
    labels_public: bool = False
    defences: Defences = field(default_factory=Defences)
    model_seed: int = 0

    def validate(self) -> None:
        from instahide_bench.core.gradients import BATCHNORM_MODES, MAX_BATCH, MAX_STEPS
        from instahide_bench.core.model_names import MODEL_NAMES

        if not 1 <= self.batch_size <= MAX_BATCH or not 1 <= self.steps <= MAX_STEPS:
            raise ConfigError(f"need 1 <= batch size <= {MAX_BATCH} and 1 <= steps <= {MAX_STEPS}")
        if self.model not in MODEL_NAMES:
            raise ConfigError(f"unknown model {self.model!r}; known: {', '.join(MODEL_NAMES)}")
        if self.batchnorm not in BATCHNORM_MODES:
            raise ConfigError(f"batchnorm must be one of {', '.join(BATCHNORM_MODES)}")
        if not (math.isfinite(self.server_lr) and self.server_lr > 0):
            raise ConfigError(f"the server learning rate must be positive, got {self.server_lr}")
        self.defences.validate()


def build_gradient_challenge(
    preset: str,
    request: GradientRequest,
    *,
    overrides: dict[str, Any] | None = None,
    private_source: str = DEFAULT_SOURCE,
    public_source: str = DEFAULT_SOURCE,
    seed: int | None = None,
    data_seed: int = 0,
) -> tuple[EncodedChallenge, GenerationTimes]:
    """The encoder's rows fed to a FedSGD client, B per step for S steps; what the server sees, with its key.

    An encoder with epochs (``T``) encodes every private image afresh each epoch, as InstaHide
    is used: T is raised to ceil(S*B / n) and the first S*B rows are fed (each epoch's rows
    come in the encoder's shuffled order). A release (``vanilla``, a random subset, a
    condensed set) is fed in a fresh random order each epoch.
    """
    request.validate()
    overrides = dict(overrides or {})
    rows = request.batch_size * request.steps
    encoder = get_preset(preset).build(overrides)
    names = {f.name for f in dataclasses.fields(encoder.config)}
    n = int(getattr(encoder.config, "n", 0) or 0)
    if "T" in names and n:
        needed = math.ceil(rows / n)
        if "T" in overrides and int(overrides["T"]) < needed:
            raise ConfigError(
                f"T={overrides['T']} gives {int(overrides['T']) * n} rows; S*B = {rows} needs T >= {needed}"
            )
        overrides.setdefault("T", needed)
    encoded, times = build_challenge(
        preset,
        overrides=overrides,
        private_source=private_source,
        public_source=public_source,
        seed=seed,
        data_seed=data_seed,
    )
    released = encoded.encryption.shape[0]
    secret = np.random.default_rng(None if seed is None else np.random.SeedSequence([seed, data_seed, 28]))
    if "T" in names and n:
        order = np.arange(rows)
    else:  # a release: each epoch feeds every row once, in a fresh order
        epochs = math.ceil(rows / released)
        order = np.concatenate([secret.permutation(released) for _ in range(epochs)])[:rows]
    clock = time.perf_counter()
    inputs, labels = encoded.encryption[order], encoded.labels[order]
    from instahide_bench.core.training.fedsgd import run_client

    release = run_client(
        inputs,
        labels,
        model=request.model,
        batch_size=request.batch_size,
        server_lr=request.server_lr,
        batchnorm=request.batchnorm,
        defences=request.defences,
        model_seed=request.model_seed,
        noise_rng=secret,
        epochs=rows / max(1, encoded.key.private.shape[0]),
        labels_public=request.labels_public,
    )
    key = encoded.key
    key = dataclasses.replace(
        key,
        private_index=key.private_index[order],
        coefficients=key.coefficients[order],
        public_index=key.public_index[order],
        epoch=key.epoch[order],
        init_index=None if key.init_index is None else key.init_index[order],
        inputs=inputs,
        provenance={**key.provenance, "fed_rows": order.tolist(), "gradients": dataclasses.asdict(request)},
    )
    params = {**encoded.params, "num_rows": rows}
    encoded = dataclasses.replace(encoded, encryption=inputs, labels=labels, key=key, params=params, gradients=release)
    return encoded, dataclasses.replace(times, encode=times.encode + time.perf_counter() - clock)
