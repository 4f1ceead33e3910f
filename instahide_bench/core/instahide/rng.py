"""The two kinds of randomness an encoder can run on.

``legacy-seeded`` reproduces the 2020 challenge: one 32-bit seed feeds numpy's legacy
``RandomState`` (coefficients) and a torch CPU ``Generator`` (permutations, sign masks).
A seed space of 2**32 can be enumerated, which is exactly the flaw the PRNG attack exploits.

``secure`` draws everything from the operating system's CSPRNG (``os.urandom``); it keeps no
state, so nothing that could regenerate a challenge ever reaches a file.
"""

from __future__ import annotations

import os
import secrets
from abc import ABC, abstractmethod

import numpy as np
import torch

from instahide_bench.core.instahide.coefficients import draw_coefficients

RNG_KINDS = ("legacy-seeded", "secure")


class EncoderRNG(ABC):
    """The three kinds of draws an InstaHide encoder makes."""

    kind: str

    @abstractmethod
    def normal(self, shape: tuple[int, ...]) -> np.ndarray:
        """Standard normal float64 draws (coefficients)."""

    @abstractmethod
    def randperm(self, n: int) -> np.ndarray:
        """A uniformly random permutation of range(n) (int64)."""

    @abstractmethod
    def sign_mask(self, shape: tuple[int, ...]) -> np.ndarray:
        """Independent uniform +-1 values (int8)."""

    def coefficients(self, n: int, k: int, upper: float, dom: float | None) -> np.ndarray:
        return draw_coefficients(self.normal, n, k, upper, dom)

    def loader_seed(self) -> None:  # noqa: B027 - a no-op unless the generator is a replayable stream
        """The int64 base-seed draw a PyTorch ``DataLoader`` iterator makes before its shuffle (advances the stream)."""


class LegacySeededRNG(EncoderRNG):
    """numpy ``RandomState(seed)`` + torch ``Generator().manual_seed(seed)``, as in the 2020 challenge."""

    kind = "legacy-seeded"

    def __init__(self, seed: int) -> None:
        if not 0 <= seed < 2**32:
            raise ValueError(f"legacy seeds are 32-bit: 0 <= seed < 2**32, got {seed}")
        self.seed = int(seed)
        self._numpy = np.random.RandomState(self.seed)
        self._torch = torch.Generator(device="cpu").manual_seed(self.seed)

    def normal(self, shape: tuple[int, ...]) -> np.ndarray:
        return self._numpy.normal(0, 1, size=shape)

    def randperm(self, n: int) -> np.ndarray:
        return torch.randperm(n, generator=self._torch).numpy().astype(np.int64)

    def sign_mask(self, shape: tuple[int, ...]) -> np.ndarray:
        return (torch.randint(2, shape, generator=self._torch) * 2 - 1).numpy().astype(np.int8)

    def loader_seed(self) -> None:
        torch.empty((), dtype=torch.int64).random_(generator=self._torch)


class SecureRNG(EncoderRNG):
    """Every draw straight from ``os.urandom``: no seed, no state to leak."""

    kind = "secure"

    @staticmethod
    def _uniform(count: int) -> np.ndarray:
        """``count`` uniform doubles in (0, 1) with 53 random bits each."""
        words = np.frombuffer(os.urandom(8 * count), dtype=np.uint64) >> np.uint64(11)
        uniform: np.ndarray = (words.astype(np.float64) + 0.5) / float(2**53)
        return uniform

    def normal(self, shape: tuple[int, ...]) -> np.ndarray:
        count = int(np.prod(shape))
        half = (count + 1) // 2
        u1, u2 = self._uniform(half), self._uniform(half)
        radius = np.sqrt(-2.0 * np.log(u1))
        values = np.concatenate([radius * np.cos(2 * np.pi * u2), radius * np.sin(2 * np.pi * u2)])
        return values[:count].reshape(shape)

    def randperm(self, n: int) -> np.ndarray:
        # Sorting 64-bit random keys: ties have probability below n**2 / 2**64.
        keys = np.frombuffer(os.urandom(8 * n), dtype=np.uint64)
        return np.argsort(keys, kind="stable").astype(np.int64)

    def sign_mask(self, shape: tuple[int, ...]) -> np.ndarray:
        count = int(np.prod(shape))
        bits = np.unpackbits(np.frombuffer(os.urandom((count + 7) // 8), dtype=np.uint8))[:count]
        return (bits.astype(np.int8) * 2 - 1).reshape(shape)


def fresh_seed(bits: int = 32) -> int:
    """A seed drawn from the OS, restricted to ``bits`` bits (the weak-seed presets use < 32)."""
    if not 1 <= bits <= 32:
        raise ValueError(f"seed_bits must lie in [1, 32], got {bits}")
    return secrets.randbits(bits)


def make_rng(kind: str, seed: int | None) -> EncoderRNG:
    if kind == "legacy-seeded":
        if seed is None:
            raise ValueError("a legacy-seeded encoder needs a seed")
        return LegacySeededRNG(seed)
    if kind == "secure":
        if seed is not None:
            raise ValueError("a secure encoder takes no seed: its randomness comes from the OS")
        return SecureRNG()
    raise ValueError(f"unknown RNG kind {kind!r}; known: {', '.join(RNG_KINDS)}")
