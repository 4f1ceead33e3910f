"""Decryptions handed in for scoring: what they must look like, and how a file is read safely.

A decryption is one image per encryption, in the same order: E x 32 x 32 x 3 (NHWC), as
float16/32/64 values in the challenge's pixel space, or as uint8 (0..255, read as docs/specification.md §4
says). Every problem is reported as one line naming the file, and a file is judged by its
header before its data is read: a header that promises gigabytes is refused unread, and
pickled arrays are never unpickled.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from instahide_bench.core.challenge import PublicChallenge, check_finite
from instahide_bench.core.errors import InputFileError
from instahide_bench.core.images import IMAGE_SHAPE, check_image_shape
from instahide_bench.core.io import load_npy, read_npy_header
from instahide_bench.core.pixels import to_pixel_values

ACCEPTED_DTYPES = ("float16", "float32", "float64", "uint8")
_LARGEST_ITEMSIZE = 8  # float64
_CONVERT_CHUNK_ROWS = 4096


def check_decryption_dtype(dtype: np.dtype, source: str | os.PathLike[str]) -> None:
    """Raise :class:`InputFileError` unless ``dtype`` is float16/32/64 or uint8."""
    dtype = np.dtype(dtype)
    if dtype.name not in ACCEPTED_DTYPES:
        raise InputFileError(
            source,
            f"dtype {dtype} is not accepted: use {'/'.join(ACCEPTED_DTYPES[:3])} pixel values "
            "in the challenge's pixel space, or uint8 (0..255)",
        )


def check_decryption_shape(shape: tuple[int, ...], num_rows: int, source: str | os.PathLike[str]) -> None:
    """Raise :class:`InputFileError` unless ``shape`` is num_rows x 32 x 32 x 3 (NHWC)."""
    shape = tuple(shape)
    check_image_shape(shape, source, rows="E", what="decryptions")
    if shape[0] != num_rows:
        raise InputFileError(
            source,
            f"holds {shape[0]} rows but the challenge has {num_rows} "
            "(one decryption per encryption, in the same order)",
        )


def check_decryption(decryption: np.ndarray, num_rows: int, source: str | os.PathLike[str] = "decryption") -> None:
    """Layout and finiteness of an in-memory decryption (an attack's output, or a loaded file)."""
    check_decryption_dtype(decryption.dtype, source)
    check_decryption_shape(decryption.shape, num_rows, source)
    check_finite(decryption, Path(source))


def max_decryption_bytes(num_rows: int) -> int:
    """The most data a valid decryption of ``num_rows`` rows can hold (float64)."""
    return num_rows * int(np.prod(IMAGE_SHAPE)) * _LARGEST_ITEMSIZE


def header_size_limit(num_rows: int) -> int:
    """Headers promising more than this are refused unread: twice the largest valid decryption, plus 1 MiB.

    Generous on purpose, so that a decryption with a few rows too many is reported as a row
    count mismatch (more useful) rather than as an oversized file.
    """
    return 2 * max_decryption_bytes(num_rows) + 2**20


def load_decryption(path: str | os.PathLike[str], challenge: PublicChallenge, *, mmap: bool = False) -> np.ndarray:
    """Read and check a decryption file; return float32 values in the challenge's pixel space.

    With ``mmap`` a float32 file is returned memory-mapped (read-only) instead of copied.
    Values are not clipped here: clipping is part of the metric.
    """
    path = Path(path)
    if path.suffix.lower() != ".npy":
        shown = path.suffix or "none"
        raise InputFileError(path, f"expected a .npy file (extension: {shown}); save the decryption with numpy.save")
    header = read_npy_header(path)  # missing file, bad magic, damaged header, pickled/object arrays
    check_decryption_dtype(header.dtype, path)
    limit, needed = header_size_limit(challenge.num_rows), max_decryption_bytes(challenge.num_rows)
    if header.nbytes > limit:
        raise InputFileError(
            path,
            f"header promises {header.nbytes:,} bytes (shape {header.shape}, {header.dtype}), far more than "
            f"a decryption of this {challenge.num_rows}-row challenge needs (at most {needed:,}); refusing to read it",
        )
    check_decryption_shape(header.shape, challenge.num_rows, path)
    array = load_npy(path, max_bytes=limit, mmap=True)  # also refuses truncated files
    check_finite(array, path)
    if mmap and array.dtype == np.float32:
        return array
    converted = np.empty(array.shape, dtype=np.float32)
    for start in range(0, array.shape[0], _CONVERT_CHUNK_ROWS):
        stop = start + _CONVERT_CHUNK_ROWS
        converted[start:stop] = to_pixel_values(np.asarray(array[start:stop]), challenge.pixels)
    return converted


__all__ = [
    "ACCEPTED_DTYPES",
    "check_decryption",
    "check_decryption_dtype",
    "check_decryption_shape",
    "header_size_limit",
    "load_decryption",
    "max_decryption_bytes",
]
