"""Kind ``npy:PATH``: images stored as a numpy array (``.npy``) or archive (``.npz``).

Accepted layout: N x 32 x 32 x 3 (NHWC, the layout of the challenge files), as uint8 (or any
integer type with values 0..255) or as floats in [0, 1] (rounded to 8 bits). N x 3 x 32 x 32
(NCHW, PyTorch's layout) is REFUSED with a message saying so, rather than transposed silently:
the project's files are NHWC everywhere, and a file in the other layout usually means the
wrong array was exported, which is better found now than in a scrambled challenge.

``.npz`` archives hold the images under ``images`` (or ``x``), optionally the labels under
``labels`` (or ``y``) and the class names under ``class_names`` (a string array). Without
labels every image is in class ``images``; without names, classes are named by number.
Files are read with :mod:`..io`'s loaders, which never unpickle.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.data.sources import DataSource, Role, register_source
from instahide_bench.core.errors import ConfigError, InputFileError
from instahide_bench.core.images import check_image_shape
from instahide_bench.core.io import load_npy, load_npz

IMAGE_KEYS = ("images", "x")
LABEL_KEYS = ("labels", "y")
UNLABELLED_CLASS = "images"


def images_to_uint8(array: np.ndarray, path: Path) -> np.ndarray:
    """Validate an N x 32 x 32 x 3 array and return it as uint8; explain any mismatch."""
    check_image_shape(array.shape, path)
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.integer):
        if array.size and (array.min() < 0 or array.max() > 255):
            raise InputFileError(path, f"integer images must lie in 0..255, found {array.min()}..{array.max()}")
        return array.astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise InputFileError(path, "images contain NaN or infinite values")
        if array.size and (array.min() < 0 or array.max() > 1):
            raise InputFileError(
                path,
                f"float images must lie in [0, 1], found {array.min():.3g}..{array.max():.3g} "
                "(for [-1, 1] data use (x + 1) / 2)",
            )
        return np.rint(array * 255.0).astype(np.uint8)
    raise InputFileError(path, f"images must be uint8, integer or float, found {array.dtype}")


def _labels_and_names(arrays: dict[str, np.ndarray], n_images: int, path: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    label_key = next((k for k in LABEL_KEYS if k in arrays), None)
    names = arrays.get("class_names")
    if names is not None and (names.ndim != 1 or names.dtype.kind not in "US"):
        raise InputFileError(path, f"class_names must be a 1-D string array, found {names.dtype} {names.shape}")
    class_names = None if names is None else tuple(str(n.decode() if isinstance(n, bytes) else n) for n in names)
    if label_key is None:
        return np.zeros(n_images, np.int64), class_names or (UNLABELLED_CLASS,)
    labels = arrays[label_key]
    if labels.shape != (n_images,) or not np.issubdtype(labels.dtype, np.integer):
        raise InputFileError(path, f"'{label_key}' must be {n_images} integers, found {labels.dtype} {labels.shape}")
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise InputFileError(path, f"'{label_key}' holds negative class numbers")
    n_classes = int(labels.max()) + 1 if labels.size else 1
    if class_names is None:
        class_names = tuple(str(i) for i in range(n_classes))
    elif n_classes > len(class_names):
        raise InputFileError(
            path, f"'{label_key}' uses class {n_classes - 1} but class_names has {len(class_names)} names"
        )
    return labels, class_names


def load_array_images(path: str | os.PathLike[str]) -> ImageSet:
    """Every image of a ``.npy``/``.npz`` file, validated (see the module docstring)."""
    path = Path(path)
    if path.suffix.lower() == ".npz":
        arrays = load_npz(path)
        image_key = next((k for k in IMAGE_KEYS if k in arrays), None)
        if image_key is None:
            raise InputFileError(path, f"no 'images' or 'x' array (found: {', '.join(sorted(arrays)) or 'none'})")
        images = images_to_uint8(arrays[image_key], path)
        labels, class_names = _labels_and_names(arrays, len(images), path)
    elif path.suffix.lower() == ".npy":
        images = images_to_uint8(load_npy(path), path)
        labels, class_names = np.zeros(len(images), np.int64), (UNLABELLED_CLASS,)
    else:
        raise InputFileError(path, "npy:PATH wants a .npy or .npz file")
    return ImageSet(images, labels, class_names, f"npy({path.suffix.lower().lstrip('.')})")


class WholeSetSource:
    """A source that reads its whole (small) image set, then picks ``count`` images by ``seed``.

    Subclasses set ``spec`` and implement :meth:`load_all`; both roles behave the same.
    """

    spec: str
    #: Appended to the "too many images asked for" error, e.g. to name bigger sources.
    shortage_hint: str = ""

    def load_all(self) -> ImageSet:
        raise NotImplementedError

    def load(self, count: int, seed: int) -> ImageSet:
        images = self.load_all()
        if not 0 <= count <= len(images):
            raise ConfigError(f"{self.spec} holds {len(images)} images; {count} were asked for{self.shortage_hint}")
        return images.choose(count, seed)


class ArraySource(WholeSetSource):
    """The images of one ``.npy``/``.npz`` file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.spec = f"npy:{os.fspath(path)}"

    def load_all(self) -> ImageSet:
        return load_array_images(self.path)


@register_source("npy")
def array_source(path: str | None, role: Role) -> DataSource:
    if not path:
        raise ConfigError("the npy source needs a path: npy:FILE.npy or npy:FILE.npz")
    return ArraySource(path)
