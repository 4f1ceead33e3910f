"""Kind ``folder:PATH``: a folder of JPEG/PNG photographs, cut into SIFT-filtered 32x32 patches.

Its main use is the public pool of cross-dataset InstaHide (the challenge used ImageNet crops
with more than 40 SIFT keypoints; ``/work/shared/data/imagenet-samples`` is such a folder). The
folder is searched recursively; hidden files and folders are ignored. Patches are cut by
:mod:`.patches` and cached on disk, so the second run with the same files, count, seed and crop
parameters is a file read. In the private role each patch is labelled with the top-level
subfolder its photograph lies in (``images`` for files directly in ``PATH``).

``origin`` records the kind and the crop parameters, never the folder's absolute path, since
it may end up in public challenge files.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.data.patches import (
    CropConfig,
    Patches,
    cached_sample_patches,
    file_fingerprints,
    public_image_set,
)
from instahide_bench.core.data.sources import DataSource, Role, register_source
from instahide_bench.core.errors import ConfigError, InputFileError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
TOP_LEVEL_CLASS = "images"


def list_image_files(root: Path) -> list[Path]:
    """JPEG/PNG files below ``root`` in a stable (sorted) order, hidden entries skipped."""
    if not root.exists():
        raise InputFileError(root, "directory not found")
    if not root.is_dir():
        raise InputFileError(root, "not a directory (folder:PATH wants a folder of JPEG/PNG images)")
    found: list[Path] = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        found.extend(
            Path(directory, name)
            for name in sorted(files)
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES
        )
    if not found:
        raise InputFileError(root, "no JPEG/PNG images found (searched recursively)")
    return found


def class_of(path: Path, root: Path) -> str:
    """The top-level subfolder holding ``path`` (its class), or ``images`` for top-level files."""
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else TOP_LEVEL_CLASS


class FolderSource:
    """``count`` patches of the photographs below ``root``, deterministic in ``seed``, cached on disk."""

    def __init__(self, root: str | os.PathLike[str], role: Role, config: CropConfig | None = None) -> None:
        self.root = Path(root)
        self.role = role
        self.config = config if config is not None else CropConfig()
        self.spec = f"folder:{os.fspath(root)}"

    def load(self, count: int, seed: int) -> ImageSet:
        files = list_image_files(self.root)
        patches = cached_sample_patches(
            files,
            count,
            seed,
            self.config,
            namespace="folder",
            fingerprints=file_fingerprints(files, self.root),
            source=self.root,
        )
        origin = f"folder({self.config.describe()})"
        if self.role == "public":
            return public_image_set(patches, origin)
        return self._labelled(patches, files, origin)

    def _labelled(self, patches: Patches, files: list[Path], origin: str) -> ImageSet:
        file_classes = [class_of(path, self.root) for path in files]
        class_names = tuple(sorted(set(file_classes)))
        file_labels = np.array([class_names.index(name) for name in file_classes], np.int64)
        return ImageSet(patches.images, file_labels[patches.file_index], class_names, origin, patches.ids)


@register_source("folder")
def folder_source(path: str | None, role: Role) -> DataSource:
    if not path:
        raise ConfigError("the folder source needs a path: folder:PATH")
    return FolderSource(path, role)
