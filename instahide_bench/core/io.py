"""Safe reading and atomic writing of the files this project exchanges with users.

Reading: ``.npy`` headers are parsed before any data is touched, so that pickled/object
arrays are refused without being unpickled, truncated files and oversized headers are
reported with the file's name, and no traceback from deep inside numpy reaches a user.

Writing: every output goes to a temporary file in the destination's directory and is then
renamed over the destination, so a crash never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import secrets
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from instahide_bench.core.errors import InputFileError

_NPY_MAGIC = b"\x93NUMPY"


@dataclass(frozen=True)
class NpyHeader:
    """What a ``.npy`` header promises, read without touching the data."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    data_offset: int
    file_size: int

    @property
    def nbytes(self) -> int:
        return math.prod(int(d) for d in self.shape) * self.dtype.itemsize  # exact: no int64 overflow


def read_npy_header(path: str | os.PathLike[str]) -> NpyHeader:
    """Parse the header of a ``.npy`` file; raise :class:`InputFileError` on anything odd."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "file not found" if not path.exists() else "not a regular file")
    file_size = path.stat().st_size
    with path.open("rb") as handle:
        magic = handle.read(len(_NPY_MAGIC))
        if magic != _NPY_MAGIC:
            raise InputFileError(path, "not a .npy file (missing the NUMPY magic header)")
        handle.seek(0)
        try:
            major, _minor = np.lib.format.read_magic(handle)
            if major == 1:
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle, max_header_size=100_000)
            elif major in (2, 3):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle, max_header_size=100_000)
            else:
                raise InputFileError(path, f"unsupported .npy format version {major}")
        except InputFileError:
            raise
        except Exception as exc:  # numpy raises ValueError/SyntaxError on damaged headers
            raise InputFileError(path, f"damaged .npy header ({exc.__class__.__name__}: {exc})") from None
        offset = handle.tell()
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise InputFileError(path, "holds a pickled/object array; refusing to unpickle it")
    if any(int(d) < 0 for d in shape):
        raise InputFileError(path, f"negative dimension in header shape {shape}")
    return NpyHeader(tuple(int(d) for d in shape), dtype, bool(fortran), offset, file_size)


def load_npy(
    path: str | os.PathLike[str],
    *,
    max_bytes: int | None = None,
    mmap: bool = False,
) -> np.ndarray:
    """Load a ``.npy`` array safely.

    Refuses object arrays (never unpickles), truncated files, and headers that promise more
    than ``max_bytes`` of data (checked before any data is read).
    """
    header = read_npy_header(path)
    if max_bytes is not None and header.nbytes > max_bytes:
        raise InputFileError(
            path,
            f"header promises {header.nbytes:,} bytes of data (shape {header.shape}, {header.dtype}), "
            f"more than the {max_bytes:,} this use allows; refusing to read it",
        )
    available = header.file_size - header.data_offset
    if available < header.nbytes:
        raise InputFileError(
            path, f"truncated: header promises {header.nbytes:,} bytes of data but the file holds {available:,}"
        )
    try:
        array: np.ndarray = np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except Exception as exc:
        raise InputFileError(path, f"could not be read as .npy ({exc.__class__.__name__}: {exc})") from None
    return array


def load_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Load every array of an ``.npz`` archive, refusing pickled members."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "file not found")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise InputFileError(path, "holds a pickled/object array; refusing to unpickle it") from None
        raise InputFileError(path, f"could not be read as .npz ({exc})") from None
    except Exception as exc:
        raise InputFileError(path, f"could not be read as .npz ({exc.__class__.__name__}: {exc})") from None


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _sibling_name(path: Path, suffix: str) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}{suffix}")


def _create_sibling_file(path: Path) -> Path:
    """An empty new file beside ``path``, created with mode 0666 so that the process umask applies.

    (``tempfile.mkstemp`` creates 0600 files; reading the umask to widen them would mean
    setting it, a process-wide change.)
    """
    while True:
        candidate = _sibling_name(path, ".tmp")
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return candidate


def make_sibling_dir(path: str | os.PathLike[str]) -> Path:
    """A new, empty hidden directory beside ``path`` (mode 0777 less the umask), for building ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        candidate = _sibling_name(path, ".tmp")
        try:
            candidate.mkdir(mode=0o777)
        except FileExistsError:
            continue
        return candidate


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_sibling_file(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def save_npy_atomic(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write an array as ``.npy`` via temp file + rename."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, np.asarray(array), allow_pickle=False)


def save_npz_atomic(
    path: str | os.PathLike[str], arrays: Mapping[str, npt.ArrayLike], *, compress: bool = True
) -> None:
    """Write arrays as ``.npz`` via temp file + rename."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        members = {k: np.asarray(v) for k, v in arrays.items()}
        # numpy's stub lets **members stand for allow_pickle (a bool); passing it explicitly instead
        # would store an array named "allow_pickle" under numpy 1.x, whose savez lacks the flag.
        (np.savez_compressed if compress else np.savez)(handle, **members)  # type: ignore[arg-type]


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write a text file via temp file + rename."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write a binary file via temp file + rename."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write JSON (indented, keys in insertion order, trailing newline) via temp file + rename."""
    write_text_atomic(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")


#: The largest JSON document the suite reads (its own are kilobytes; a leaderboard entry, a spec).
MAX_JSON_BYTES = 64 * 2**20


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} does not fit a float (the suite writes finite numbers only)")
    return value


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number this suite writes (JSON has no NaN or Infinity)")


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file the suite wrote (or a user edited), refusing what it never writes.

    A file over :data:`MAX_JSON_BYTES`, something other than a regular file (``/dev/zero``),
    NaN, Infinity, numbers that overflow a float (``1e400``) and nesting deeper than Python's
    parser takes all end in an :class:`InputFileError` naming the file, before any caller sees
    the value.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "file not found")
    if not path.is_file():
        raise InputFileError(path, "not a regular file")
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise InputFileError(path, f"{size:,} bytes; a JSON file here is at most {MAX_JSON_BYTES:,}")
    try:
        return json.loads(path.read_text(encoding="utf-8"), parse_float=_finite_float, parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(path, f"not valid JSON ({exc})") from None
    except ValueError as exc:
        raise InputFileError(path, f"not valid here: {exc}") from None
    except RecursionError:
        raise InputFileError(path, "nested too deeply to be a file this suite reads") from None


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a TOML file, naming the file in any error."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "file not found")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputFileError(path, f"not valid TOML ({exc})") from None
