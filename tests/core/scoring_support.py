"""Tiny challenges made from real photographs (scikit-image's bundled files), for the scorer,
submission and leaderboard tests. Built here rather than through the data loaders, so that these
tests depend only on the encoder and the challenge format."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
from skimage import data as photos

from instahide_bench.core.challenge import EncodedChallenge, write_challenge
from instahide_bench.core.data.base import ImageSet
from instahide_bench.encoders import get_preset

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


@functools.lru_cache(maxsize=8)
def photo_crops(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` random 32x32 crops (uint8) of the photographs halved in size, and each crop's photo index."""
    rng = np.random.default_rng(seed)
    halved = [getattr(photos, name)()[::2, ::2, :3] for name in PHOTOS]
    which = rng.integers(0, len(halved), count)
    crops = []
    for index in which:
        photo = halved[index]
        top, left = rng.integers(0, photo.shape[0] - 32), rng.integers(0, photo.shape[1] - 32)
        crops.append(photo[top : top + 32, left : left + 32])
    return np.ascontiguousarray(np.stack(crops)), which.astype(np.int64)


def photo_imageset(count: int, seed: int) -> ImageSet:
    images, labels = photo_crops(count, seed)
    return ImageSet(images, labels, PHOTOS, f"skimage-photo-crops(seed={seed})")


@functools.lru_cache(maxsize=8)
def photo_challenge(
    n: int = 10, T: int = 4, pool_size: int = 40, seed: int = 1, pixels: str = "[-1,1]"
) -> EncodedChallenge:
    """A challenge-2020-style challenge (n x T rows) of photo crops; cached, so treat it as read-only."""
    encoder = get_preset("challenge-2020").build({"n": n, "T": T, "pool_size": pool_size, "pixels": pixels})
    return encoder.encode(photo_imageset(n, seed), photo_imageset(pool_size, seed + 1000), seed=seed)


@pytest.fixture(scope="session")
def photo_challenge_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default :func:`photo_challenge` (40 rows) written once per session; do not modify it."""
    return write_challenge(tmp_path_factory.mktemp("photo-challenge") / "challenge", photo_challenge())


def abs_rescaled(encryption: np.ndarray) -> np.ndarray:
    """The trivial decryption |e| stretched per row to [-1, 1] (what every attack starts from)."""
    magnitude = np.abs(encryption)
    peak = magnitude.reshape(len(magnitude), -1).max(axis=1)[:, None, None, None]
    return (magnitude / np.maximum(peak, 1e-12) * 2 - 1).astype(np.float32)


# ------------------------------------------------------------------ bad decryption files


def _save(path: Path, array: np.ndarray, **kwargs: object) -> Path:
    with open(path, "wb") as handle:
        np.save(handle, array, **kwargs)  # type: ignore[arg-type]
    return path


def _truncated(path: Path, rows: int) -> Path:
    _save(path, np.zeros((rows, 32, 32, 3), np.float32))
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size - 1000)
    return path


def _huge_header(path: Path, rows: int) -> Path:
    """A 200-byte file whose header promises 10^9 images (about 12 TB)."""
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(
            handle, {"descr": "<f4", "fortran_order": False, "shape": (10**9, 32, 32, 3)}
        )
        handle.write(b"\0" * 64)
    return path


def _with_nan(path: Path, rows: int) -> Path:
    array = np.zeros((rows, 32, 32, 3), np.float32)
    array[3, 0, 0, 0] = np.nan
    array[7, 5, 5, 1] = np.inf
    return _save(path, array)


#: case -> (file name, writer(path, rows), part of the expected message; "{rows}" is the challenge's).
BAD_DECRYPTIONS = {
    "missing": ("absent.npy", lambda p, r: p, "file not found"),
    "wrong-extension": (
        "decryption.txt",
        lambda p, r: _save(p, np.zeros((r, 32, 32, 3), np.float32)),
        "expected a .npy file (extension: .txt)",
    ),
    "bad-magic": (
        "decryption.npy",
        lambda p, r: (p.write_bytes(b"PK\x03\x04 not numpy at all"), p)[1],
        "not a .npy file",
    ),
    "pickled": (
        "decryption.npy",
        lambda p, r: _save(p, np.array([{"x": 1}] * r, dtype=object), allow_pickle=True),
        "pickled/object array; refusing to unpickle",
    ),
    "wrong-rows": (
        "decryption.npy",
        lambda p, r: _save(p, np.zeros((r - 1, 32, 32, 3), np.float32)),
        "holds {rows_minus_one} rows but the challenge has {rows}",
    ),
    "nchw": ("decryption.npy", lambda p, r: _save(p, np.zeros((r, 3, 32, 32), np.float32)), "looks like NCHW"),
    "wrong-shape": (
        "decryption.npy",
        lambda p, r: _save(p, np.zeros((r, 32, 32), np.float32)),
        "expected E x 32 x 32 x 3",
    ),
    "int64": (
        "decryption.npy",
        lambda p, r: _save(p, np.zeros((r, 32, 32, 3), np.int64)),
        "dtype int64 is not accepted",
    ),
    "bool": ("decryption.npy", lambda p, r: _save(p, np.zeros((r, 32, 32, 3), bool)), "dtype bool is not accepted"),
    "complex": (
        "decryption.npy",
        lambda p, r: _save(p, np.zeros((r, 32, 32, 3), np.complex64)),
        "dtype complex64 is not accepted",
    ),
    "strings": ("decryption.npy", lambda p, r: _save(p, np.full((r, 32, 32, 3), "ab")), "dtype <U2 is not accepted"),
    "nan": ("decryption.npy", _with_nan, "holds 2 NaN/inf value(s), first in row 3"),
    "truncated": ("decryption.npy", _truncated, "truncated: header promises"),
    "huge-header": ("decryption.npy", _huge_header, "header promises 12,288,000,000,000 bytes"),
}


def write_bad_decryption(case: str, directory: Path, rows: int) -> tuple[Path, str]:
    """Write the bad file of ``case`` in ``directory``; return it and the message expected for it."""
    name, writer, message = BAD_DECRYPTIONS[case]
    path = writer(directory / name, rows)
    return path, message.format(rows=rows, rows_minus_one=rows - 1)
