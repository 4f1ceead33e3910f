"""Auxiliary simulation: InstaHide run by the attacker on images that are not the challenge's.

Everything the later stages learn (the similarity embedding, the colour correction) is
learned here, from encryptions the attacker makes itself with the challenge's PUBLIC
parameters (k, private slots, upper, dom, pixel space, mask, T) on auxiliary images: the
photographs bundled with scikit-image by default, or any data source the user names
(``cifar10:PATH?split=test`` for a CIFAR challenge, say). The challenge's key is never read.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from instahide_bench.core.config import apply_overrides, field_types
from instahide_bench.core.data import ImageSet, parse_source
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.instahide import InstaHideConfig, encode, required_public

logger = logging.getLogger(__name__)

#: Public pool of a simulation: enough patches for its epochs, far fewer than a full pool.
SIMULATION_POOL = 1000


@dataclass(frozen=True)
class Simulation:
    """One simulated challenge with its ground truth (the attacker's own, so it may use it)."""

    encryption: np.ndarray
    labels: np.ndarray
    private: np.ndarray
    private_index: np.ndarray
    coefficients: np.ndarray
    private_labels: np.ndarray

    @property
    def num_private(self) -> int:
        return int(self.private.shape[0])

    @property
    def num_rows(self) -> int:
        return int(self.encryption.shape[0])

    def rows_of_image(self) -> list[np.ndarray]:
        """For each private image, the rows that hold it (in any private slot)."""
        return [np.flatnonzero((self.private_index == j).any(axis=1)) for j in range(self.num_private)]

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Simulation:
        return cls(**{field.name: arrays[field.name] for field in dataclasses.fields(cls)})


def simulation_config(params: dict[str, Any], n: int, T: int, pool: int = SIMULATION_POOL) -> InstaHideConfig:
    """The challenge's public encoder parameters, with the simulation's own n, T and a seeded RNG."""
    known = field_types(InstaHideConfig)
    public = {key: value for key, value in params.items() if key in known and value is not None}
    public.pop("seed_bits", None)
    config = apply_overrides(InstaHideConfig(), public)
    slots_public = config.k - config.slots_private
    overrides: dict[str, Any] = {"n": n, "T": T, "rng": "legacy-seeded"}
    if slots_public and config.public_reuse == "epoch":
        overrides["pool_size"] = max(n, min(config.pool_size, pool))
    config = dataclasses.replace(config, **overrides)
    config.validate()
    return config


def auxiliary_images(
    private_source: str, public_source: str, n: int, public_count: int, seed: int
) -> tuple[ImageSet, ImageSet | None]:
    """``n`` auxiliary private images and ``public_count`` public patches (None when no public slot)."""
    source = parse_source(private_source, "private")
    try:
        private = source.load(n, seed)
    except (ConfigError, ValueError) as exc:
        raise ConfigError(f"auxiliary source {private_source!r} cannot give {n} images: {exc}") from None
    public = parse_source(public_source, "public").load(public_count, seed + 1) if public_count else None
    return private, public


def simulate(params: dict[str, Any], private: ImageSet, public: ImageSet | None, T: int, seed: int) -> Simulation:
    """Encrypt ``private`` T times each with the challenge's public parameters (seeded, reproducible)."""
    config = simulation_config(params, len(private), T)
    encoded = encode(config, private, public, seed=seed % 2**32, encoder="instahide", encoder_version="simulation")
    key = encoded.key
    slots = config.slots_private
    return Simulation(
        encryption=encoded.encryption,
        labels=encoded.labels,
        private=key.private,
        private_index=key.private_index[:, :slots],
        coefficients=key.coefficients[:, :slots],
        private_labels=key.private_labels,
    )


def simulate_from_sources(
    params: dict[str, Any], private_source: str, public_source: str, n: int, T: int, seed: int
) -> Simulation:
    """Load ``n`` auxiliary images and simulate; a source holding fewer is a ``ConfigError``.

    The auxiliary images should not be the challenge's: with ``embedded`` data on both sides the
    simulation may draw some of the same photo tiles (harmless for CIFAR challenges, whose
    images the embedded photographs never contain; say so when quoting embedded-data figures).
    """
    config = simulation_config(params, n, T)
    needed_public = required_public(config)
    private, public = auxiliary_images(private_source, public_source, n, needed_public, seed)
    logger.info("simulating InstaHide on %d auxiliary images (%s), T=%d", len(private), private.origin, T)
    return simulate(params, private, public, T, seed)


__all__ = [
    "SIMULATION_POOL",
    "Simulation",
    "auxiliary_images",
    "simulate",
    "simulate_from_sources",
    "simulation_config",
]
