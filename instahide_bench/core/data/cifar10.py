"""Kind ``cifar10:PATH``: the CIFAR-10 python format, read without trusting its pickles.

``PATH`` is the ``cifar-10-batches-py`` folder or the folder holding it. ``cifar10:PATH``
reads the training batches (every ``data_batch_N`` present, so subsets with fewer batches or
fewer rows per batch work); ``cifar10:PATH?split=test`` reads ``test_batch``;
``?split=all`` reads both. ``ids`` are the images' indices in the official ordering: training
row r of ``data_batch_N`` is ``(N-1)*10000 + r`` (for batches of up to 10000 rows), test row r
is ``r`` (``50000 + r`` with ``split=all``).

The batches are pickles, and unpickling can run arbitrary code, so they are read with an
unpickler that only resolves the few globals a numpy array needs (see
:class:`RestrictedUnpickler`). :func:`download_cifar10` fetches the official archive (opt-in),
checks its published md5 and extracts it without letting a member escape the destination.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
import re
import shutil
import tarfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from instahide_bench.core.data.arrays import WholeSetSource
from instahide_bench.core.data.base import ImageSet, parse_classes, source_query
from instahide_bench.core.data.sources import DataSource, Role, register_source
from instahide_bench.core.errors import ConfigError, InputFileError
from instahide_bench.core.images import IMAGE_SHAPE
from instahide_bench.core.io import atomic_path

logger = logging.getLogger(__name__)

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
#: The md5 published on https://www.cs.toronto.edu/~kriz/cifar.html.
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
BATCHES_DIR_NAME = "cifar-10-batches-py"
SPLITS = ("train", "test", "all")
_OFFICIAL_ROWS_PER_BATCH = 10_000
_OFFICIAL_TRAIN_BATCHES = 5
_ROW_BYTES = int(np.prod(IMAGE_SHAPE))


# ---------------------------------------------------------------- safe unpickling


def _numpy_globals() -> dict[tuple[str, str], Any]:
    """The globals a pickled numpy array refers to, under numpy 1.x and 2.x module names."""
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy < 2
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]
    allowed: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{package}.multiarray", "scalar")] = multiarray.scalar
        # numpy's stubs leave out the private _frombuffer that pickled arrays name
        allowed[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer  # type: ignore[attr-defined]
    return allowed


class ForbiddenGlobalError(pickle.UnpicklingError):
    """The pickle asked for a global outside the allowlist."""


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only numpy's array-rebuilding functions and ``_codecs.encode``.

    That is everything the official CIFAR-10 batches (pickled by Python 2) and re-pickled
    copies (Python 3, any protocol) need; ``_codecs.encode`` is how Python 3 pickles ``bytes``
    at protocol 2. Any other global (``os.system``, ``builtins.eval``...) raises
    :class:`ForbiddenGlobalError` before anything is called.
    """

    _allowed: dict[tuple[str, str], Any] | None = None

    def find_class(self, module: str, name: str) -> Any:
        if RestrictedUnpickler._allowed is None:
            import codecs

            RestrictedUnpickler._allowed = {**_numpy_globals(), ("_codecs", "encode"): codecs.encode}
        try:
            return RestrictedUnpickler._allowed[(module, name)]
        except KeyError:
            raise ForbiddenGlobalError(f"{module}.{name}") from None


def safe_unpickle(path: Path) -> Any:
    """Unpickle ``path`` with :class:`RestrictedUnpickler`; every failure is an InputFileError."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except ForbiddenGlobalError as exc:
        raise InputFileError(
            path, f"pickle refers to {exc}, which a CIFAR-10 file never does; refusing to load it"
        ) from None
    except Exception as exc:  # truncated or garbage pickles raise many different exception types
        raise InputFileError(path, f"not a readable CIFAR-10 pickle ({exc.__class__.__name__}: {exc})") from None


def _field(record: Any, name: str, path: Path) -> Any:
    """``record[name]`` for dicts with bytes keys (Python 2 pickles) or str keys (re-pickled)."""
    if not isinstance(record, dict):
        raise InputFileError(path, f"expected a pickled dict, found {type(record).__name__}")
    for key in (name.encode(), name):
        if key in record:
            return record[key]
    raise InputFileError(path, f"has no {name!r} entry (keys: {sorted(map(str, record))})")


# ---------------------------------------------------------------- batches


def find_batches_dir(path: str | os.PathLike[str]) -> Path:
    """``path`` itself if it holds CIFAR batches, else its ``cifar-10-batches-py`` subfolder."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "directory not found")
    if not path.is_dir():
        raise InputFileError(path, f"not a directory (cifar10:PATH wants {BATCHES_DIR_NAME}/ or its parent)")
    for candidate in (path, path / BATCHES_DIR_NAME):
        if (candidate / "batches.meta").is_file():
            return candidate
    raise InputFileError(path, f"no batches.meta here or in {BATCHES_DIR_NAME}/; not a CIFAR-10 python folder")


def read_label_names(batches_dir: Path) -> tuple[str, ...]:
    """Class names from ``batches.meta`` (``label_names``)."""
    path = batches_dir / "batches.meta"
    names = _field(safe_unpickle(path), "label_names", path)
    if not isinstance(names, list) or not names or not all(isinstance(n, (bytes, str)) for n in names):
        raise InputFileError(path, "label_names must be a non-empty list of strings")
    return tuple(n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names)


def read_batch(path: Path, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> (uint8 N x 32 x 32 x 3 NHWC images, int64 labels), validated."""
    record = safe_unpickle(path)
    data, labels = _field(record, "data", path), _field(record, "labels", path)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _ROW_BYTES:
        found = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise InputFileError(path, f"'data' must be a uint8 array of rows x {_ROW_BYTES}, found {found}")
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError):
        raise InputFileError(path, "'labels' must be a list of integers") from None
    if labels.shape != (data.shape[0],):
        raise InputFileError(path, f"'labels' has {labels.size} entries for {data.shape[0]} image rows")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise InputFileError(path, f"'labels' must lie in [0, {n_classes}) (batches.meta names {n_classes} classes)")
    # rows are channel-major: 1024 red, 1024 green, 1024 blue values, each row by row
    images = data.reshape(-1, 3, IMAGE_SHAPE[0], IMAGE_SHAPE[1]).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ConfigError(f"unknown CIFAR-10 split {split!r}; use one of {', '.join(SPLITS)}")


def batch_files(batches_dir: Path, split: str) -> list[tuple[Path, int]]:
    """(file, batch number) for ``split``: each ``data_batch_N`` present (train), ``test_batch`` as 0."""
    train = sorted(
        (
            (p, int(m.group(1)))
            for p in batches_dir.iterdir()
            if (m := re.fullmatch(r"data_batch_(\d+)", p.name)) and p.is_file()
        ),
        key=lambda item: item[1],
    )
    if split in ("train", "all") and not train:
        raise InputFileError(batches_dir, "no data_batch_N files (the training split)")
    test = [(batches_dir / "test_batch", 0)]
    return {"train": train, "test": test, "all": train + test}[split]


def load_cifar10(path: str | os.PathLike[str], split: str = "train") -> ImageSet:
    """All images of one split, with class names from ``batches.meta`` and official-order ids."""
    check_split(split)
    batches_dir = find_batches_dir(path)
    class_names = read_label_names(batches_dir)
    files = batch_files(batches_dir, split)
    batches = [read_batch(file, len(class_names)) for file, _ in files]
    stride = max(_OFFICIAL_ROWS_PER_BATCH, *(len(labels) for _, labels in batches))
    # officially, test image r follows the 5 training batches (id 50000 + r) when both are loaded
    test_offset = stride * max(_OFFICIAL_TRAIN_BATCHES, *(number for _, number in files)) if split == "all" else 0
    ids = [
        np.arange(len(labels)) + ((number - 1) * stride if number else test_offset)
        for (_, labels), (_, number) in zip(batches, files, strict=True)
    ]
    images = np.concatenate([images for images, _ in batches])
    labels = np.concatenate([labels for _, labels in batches])
    return ImageSet(images, labels, class_names, f"cifar10?split={split}", np.concatenate(ids).astype(np.int64))


def parse_cifar10_spec(spec: str) -> tuple[str, str, tuple[int, ...] | None]:
    """``PATH``, ``PATH?split=test`` or ``PATH?split=test&classes=5-9`` -> (path, split, classes)."""
    path, _sep, query = spec.rpartition("?") if "?" in spec else (spec, "", "")
    options: dict[str, str] = {}
    for item in filter(None, query.split("&")):
        key, eq, value = item.partition("=")
        if not eq:
            raise ConfigError(f"cifar10 option {item!r} must look like key=value")
        options[key.strip()] = value.strip()
    unknown = set(options) - {"split", "classes"}
    if unknown:
        raise ConfigError(f"unknown cifar10 option(s) {', '.join(sorted(unknown))}; known: split, classes")
    classes = parse_classes(options["classes"]) if "classes" in options else None
    return path, options.get("split", "train"), classes


class Cifar10Source(WholeSetSource):
    """The images of one CIFAR-10 split."""

    def __init__(
        self, path: str | os.PathLike[str], split: str = "train", classes: tuple[int, ...] | None = None
    ) -> None:
        check_split(split)
        self.path = Path(path)
        self.split = split
        self.classes = classes
        self.spec = f"cifar10:{os.fspath(path)}" + source_query(split, classes)

    def load_all(self) -> ImageSet:
        return load_cifar10(self.path, self.split).of_classes(self.classes)


@register_source("cifar10")
def cifar10_source(path: str | None, role: Role) -> DataSource:
    if not path:
        raise ConfigError("the cifar10 source needs a path: cifar10:PATH (the cifar-10-batches-py folder)")
    return Cifar10Source(*parse_cifar10_spec(path))


# ---------------------------------------------------------------- opt-in download


def md5_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_archive(path: str | os.PathLike[str], md5: str) -> None:
    """Raise InputFileError unless ``path`` exists and has the md5 ``md5``."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "file not found")
    actual = md5_file(path)
    if actual != md5.lower():
        raise InputFileError(path, f"md5 is {actual}, expected {md5.lower()}: corrupted or not the official archive")


def extract_archive_safely(archive: Path, dest_dir: Path) -> None:
    """Extract a .tar.gz, refusing members that are links, devices, absolute or escape ``dest_dir``."""
    root = dest_dir.resolve()
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                target = (root / member.name).resolve()
                if not (member.isfile() or member.isdir()):
                    raise InputFileError(archive, f"member {member.name!r} is not a plain file or folder; refusing")
                if os.path.isabs(member.name) or (target != root and root not in target.parents):
                    raise InputFileError(archive, f"member {member.name!r} would land outside {dest_dir}; refusing")
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: the library's own safety net too
                tar.extractall(root, members=members, filter="data")
            else:
                tar.extractall(root, members=members)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InputFileError(archive, f"not a readable tar archive ({exc.__class__.__name__}: {exc})") from None


def download_cifar10(dest_dir: str | os.PathLike[str], url: str = CIFAR10_URL, md5: str = CIFAR10_MD5) -> Path:
    """Fetch the archive into ``dest_dir`` (kept if already there and valid), verify, extract.

    Returns the ``cifar-10-batches-py`` folder. Opt-in only: nothing in the project downloads
    by itself.
    """
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / (Path(urllib.parse.urlparse(url).path).name or "cifar-10-python.tar.gz")
    if archive.is_file() and md5_file(archive) == md5.lower():
        logger.info("using the existing verified archive %s", archive)
    else:
        logger.info("downloading %s to %s", url, archive)
        try:
            with (
                urllib.request.urlopen(url, timeout=60) as response,
                atomic_path(archive) as tmp,
                tmp.open("wb") as out,
            ):
                shutil.copyfileobj(response, out)
        except (OSError, ValueError) as exc:  # URLError is an OSError; a malformed URL a ValueError
            raise InputFileError(url, f"download failed ({exc})") from None
        verify_archive(archive, md5)
    extract_archive_safely(archive, dest)
    return find_batches_dir(dest)
