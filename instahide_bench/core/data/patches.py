"""SIFT-filtered 32x32 patches cut from photographs: the public pool of cross-dataset InstaHide.

The InstaHide Challenge built its public pool from random crops of ImageNet images, keeping
only crops with more than 40 SIFT keypoints (so that bland sky or wall patches, which would
hide nothing, are dropped), resized to 32x32. Running SIFT on every candidate crop is slow, so
this module runs it ONCE per source image, at a fixed working resolution (short side 256 by
default, like ImageNet's ``Resize(256)``), and counts the keypoints that fall inside each
candidate box with a summed-area table. Crops are cut from that same working image and
downscaled to 32x32 with PIL's BOX filter: every output pixel is the exact area average of the
input pixels it covers, so the result is antialiased without ringing, and it is about five times
faster than LANCZOS (53 vs 283 microseconds a patch here), which matters for 5000-patch pools.
See ``docs/data.md`` for the measured figures behind the defaults.

Everything is deterministic given a seed: the order in which images are used comes from the
seed, and image ``i``'s candidate crops from ``default_rng([seed, i])``, whichever process
runs it. Results can be cached on disk (:func:`cached_sample_patches`).
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import multiprocessing
import os
from collections import deque
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.errors import ConfigError, InputFileError
from instahide_bench.core.images import IMAGE_SHAPE
from instahide_bench.core.io import load_npz, save_npz_atomic
from instahide_bench.core.progress import progress

logger = logging.getLogger(__name__)

PATCH_SIDE = IMAGE_SHAPE[0]
#: Downscaling filter for patches and tiles: exact area averaging (antialiased, no ringing).
PATCH_RESAMPLE = Image.Resampling.BOX
#: ``ids`` of patches are ``file_index * ID_STRIDE + candidate_index``: stable and decodable.
ID_STRIDE = 1_000_000
#: Bumped whenever the sampling algorithm changes, so that stale cache files are never reused.
CACHE_FORMAT_VERSION = 1
#: Below this many images a process pool costs more (spawn + imports) than it saves.
_PARALLEL_MIN_IMAGES = 12


@dataclass(frozen=True)
class CropConfig:
    """How candidate crops are drawn and filtered.

    Crop sides are drawn uniformly between ``min_crop_fraction`` and ``max_crop_fraction`` of
    the working image's short side. Each image first gives at most its quota of patches (the
    count asked for, spread over the images with ``quota_slack`` to spare) and tries
    ``candidates_per_patch`` candidates per quota slot, so a bland image cannot stall a run.
    ``workers`` (worker processes, default 2 or the number of cores if fewer) only changes
    speed, never the result, and is not part of the cache key.
    """

    working_short_side: int = 256
    min_crop_fraction: float = 0.25
    max_crop_fraction: float = 0.75
    min_keypoints: int = 40
    sift_upsampling: int = 2
    candidates_per_patch: float = 4.0
    quota_slack: float = 1.25
    workers: int = field(default_factory=lambda: min(2, os.cpu_count() or 1), compare=False)

    def __post_init__(self) -> None:
        if self.working_short_side < PATCH_SIDE:
            raise ConfigError(f"working_short_side must be at least {PATCH_SIDE}, got {self.working_short_side}")
        if not 0 < self.min_crop_fraction <= self.max_crop_fraction <= 1:
            raise ConfigError("crop fractions must satisfy 0 < min_crop_fraction <= max_crop_fraction <= 1")
        if self.min_side < PATCH_SIDE:
            raise ConfigError(f"crops of {self.min_side} px would be upscaled to {PATCH_SIDE}; raise min_crop_fraction")
        if self.min_keypoints < 0 or self.sift_upsampling not in (1, 2, 4):
            raise ConfigError("min_keypoints must be >= 0 and sift_upsampling one of 1, 2, 4")
        if self.candidates_per_patch < 1 or self.quota_slack < 1 or self.workers < 1:
            raise ConfigError("candidates_per_patch, quota_slack and workers must be >= 1")

    @property
    def min_side(self) -> int:
        return round(self.min_crop_fraction * self.working_short_side)

    def describe(self) -> str:
        """Short public description for ``ImageSet.origin`` (no paths, no seed)."""
        return (
            f"sift>{self.min_keypoints}@{self.working_short_side}px,"
            f"crops {self.min_crop_fraction:g}-{self.max_crop_fraction:g}"
        )

    def cache_fields(self) -> dict[str, object]:
        """The fields that determine the output (``workers`` does not)."""
        fields = asdict(self)
        del fields["workers"]
        return fields


@dataclass(frozen=True)
class Patches:
    """Patches (uint8 N x 32 x 32 x 3) and where each was cut: file, candidate, box, keypoints."""

    images: np.ndarray
    file_index: np.ndarray
    candidate_index: np.ndarray
    boxes: np.ndarray  # (top, left, side) in working-image pixels
    keypoint_counts: np.ndarray

    @property
    def ids(self) -> np.ndarray:
        ids: np.ndarray = self.file_index.astype(np.int64) * ID_STRIDE + self.candidate_index
        return ids

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in _PATCH_ARRAYS}

    @classmethod
    def concatenate(cls, parts: Sequence[Patches]) -> Patches:
        if not parts:
            return cls.empty()
        return cls(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in _PATCH_ARRAYS})

    @classmethod
    def empty(cls) -> Patches:
        return cls(
            np.zeros((0, *IMAGE_SHAPE), np.uint8),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros((0, 3), np.int64),
            np.zeros(0, np.int64),
        )

    def head(self, count: int) -> Patches:
        return Patches(**{name: getattr(self, name)[:count] for name in _PATCH_ARRAYS})


_PATCH_ARRAYS = ("images", "file_index", "candidate_index", "boxes", "keypoint_counts")

#: Public images carry no label (InstaHide mixes them in without one): a single class.
PUBLIC_CLASS_NAMES = ("public",)


def public_image_set(patches: Patches, origin: str) -> ImageSet:
    """Patches as the public pool of a challenge: one class, ids naming file and candidate."""
    return ImageSet(patches.images, np.zeros(len(patches), np.int64), PUBLIC_CLASS_NAMES, origin, patches.ids)


# ---------------------------------------------------------------- one image (runs in a worker)


def load_working_image(path: str | os.PathLike[str], short_side: int) -> Image.Image:
    """Decode an image as RGB and resize it so that its short side is ``short_side`` pixels.

    Resizing every image to one working resolution makes a keypoint count mean the same thing
    for a 300-pixel photograph and a 4000-pixel one (SIFT finds far more keypoints at high
    resolution). Raises OSError/ValueError-like exceptions for unreadable files.
    """
    with Image.open(path) as image:
        image.load()
        rgb = _to_rgb(image)
    width, height = rgb.size
    scale = short_side / min(width, height)
    size = (max(short_side, round(width * scale)), max(short_side, round(height * scale)))
    return rgb.resize(size, Image.Resampling.LANCZOS) if size != rgb.size else rgb


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB view of any PIL mode; 16-bit grayscale is scaled down rather than clipped."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        image = Image.fromarray(np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8))
    return image.convert("RGB")


def detect_keypoints(image: Image.Image, config: CropConfig) -> np.ndarray:
    """(row, col) integer positions of the SIFT keypoints of ``image`` (K x 2; K may be 0)."""
    from skimage.feature import SIFT  # imported here: skimage.feature is slow to import

    gray = np.asarray(image.convert("L"), dtype=np.float32) / np.float32(255.0)
    sift = SIFT(upsampling=config.sift_upsampling)  # type: ignore[no-untyped-call]  # skimage.feature is unannotated
    try:
        sift.detect(gray)  # type: ignore[no-untyped-call]
    except RuntimeError:  # skimage raises when an image has no features at all
        return np.zeros((0, 2), np.int64)
    return np.asarray(sift.keypoints, dtype=np.int64).reshape(-1, 2)


def count_keypoints_in_boxes(keypoints: np.ndarray, shape: tuple[int, int], boxes: np.ndarray) -> np.ndarray:
    """Number of keypoints inside each (top, left, side) box, via a summed-area table (O(1) per box)."""
    height, width = shape
    rows = np.clip(keypoints[:, 0], 0, height - 1)
    cols = np.clip(keypoints[:, 1], 0, width - 1)
    table = np.zeros((height + 1, width + 1), np.int64)
    np.add.at(table, (rows + 1, cols + 1), 1)
    table = table.cumsum(0).cumsum(1)
    top, left, side = boxes[:, 0], boxes[:, 1], boxes[:, 2]
    bottom, right = top + side, left + side
    counts: np.ndarray = table[bottom, right] - table[top, right] - table[bottom, left] + table[top, left]
    return counts


def draw_candidate_boxes(
    rng: np.random.Generator, count: int, shape: tuple[int, int], config: CropConfig
) -> np.ndarray:
    """``count`` random square boxes (top, left, side) inside an image of ``shape``.

    Candidate j uses the j-th row of one (count x 3) uniform draw, so it is the same box
    whatever ``count`` is: a patch's id names the same crop in every run with that seed.
    """
    height, width = shape
    short = min(height, width)
    lo = config.min_side
    hi = max(lo, min(short, round(config.max_crop_fraction * short)))
    uniforms = rng.random((count, 3))
    side = lo + np.floor(uniforms[:, 0] * (hi - lo + 1)).astype(np.int64)
    side = np.minimum(side, hi)
    top = np.floor(uniforms[:, 1] * (height - side + 1)).astype(np.int64)
    left = np.floor(uniforms[:, 2] * (width - side + 1)).astype(np.int64)
    return np.stack([top, left, side], axis=1)


@dataclass(frozen=True)
class _ImageTask:
    path: str
    file_index: int
    seed: int
    quota: int
    config: CropConfig


@dataclass(frozen=True)
class _Candidates:
    """Candidate crops of one image that passed the keypoint test (no pixels yet)."""

    index: np.ndarray
    boxes: np.ndarray
    counts: np.ndarray

    def __getitem__(self, part: slice) -> _Candidates:
        return _Candidates(self.index[part], self.boxes[part], self.counts[part])

    def __len__(self) -> int:
        return int(self.index.size)


@dataclass(frozen=True)
class _ImageResult:
    """The quota of patches of one image, plus its further passing crops for a top-up pass."""

    file_index: int
    patches: Patches
    spare: _Candidates | None = None
    error: str | None = None


def _patches_from_image(task: _ImageTask) -> _ImageResult:
    """Up to ``task.quota`` SIFT-rich patches of one image (module level so workers can run it)."""
    try:
        image = load_working_image(task.path, task.config.working_short_side)
    except Exception as exc:  # any decoder failure means "skip this file", reported by the caller
        return _ImageResult(task.file_index, Patches.empty(), error=f"{exc.__class__.__name__}: {exc}")
    shape = (image.height, image.width)
    keypoints = detect_keypoints(image, task.config)
    n_candidates = min(ID_STRIDE, math.ceil(task.quota * task.config.candidates_per_patch))
    rng = np.random.default_rng([task.seed, task.file_index])
    boxes = draw_candidate_boxes(rng, n_candidates, shape, task.config)
    counts = count_keypoints_in_boxes(keypoints, shape, boxes)
    passing = np.flatnonzero(counts > task.config.min_keypoints)
    candidates = _Candidates(passing.astype(np.int64), boxes[passing], counts[passing].astype(np.int64))
    return _ImageResult(
        task.file_index, _cut_patches(image, task.file_index, candidates[: task.quota]), candidates[task.quota :]
    )


def _cut_patches(image: Image.Image, file_index: int, candidates: _Candidates) -> Patches:
    if not len(candidates):
        return Patches.empty()
    images = np.stack([_resize_box(image, box) for box in candidates.boxes])
    return Patches(
        images,
        np.full(len(candidates), file_index, np.int64),
        candidates.index,
        candidates.boxes.reshape(-1, 3),
        candidates.counts,
    )


def _resize_box(image: Image.Image, box: np.ndarray) -> np.ndarray:
    top, left, side = (int(v) for v in box)
    return downscale_box(image, (left, top, left + side, top + side))


def downscale_box(image: Image.Image, box: tuple[int, int, int, int]) -> np.ndarray:
    """The (left, top, right, bottom) region of ``image`` as a 32x32 uint8 RGB array."""
    return np.asarray(image.resize((PATCH_SIDE, PATCH_SIDE), PATCH_RESAMPLE, box=box), dtype=np.uint8)


# ---------------------------------------------------------------- many images


def _run_in_order(tasks: Iterable[_ImageTask], n_tasks: int, workers: int) -> Generator[_ImageResult, None, None]:
    """Results in task order; a small window of tasks runs ahead in worker processes.

    Consuming in order keeps the output independent of scheduling; the window keeps the work
    wasted when the caller stops early (enough patches) to a few images. Workers are spawned,
    not forked (the parent may hold torch or tqdm threads, which fork can deadlock); if they
    die, e.g. because a calling script lacks ``if __name__ == "__main__":``, the remaining
    images are processed here instead, with the same results.
    """
    task_iter = iter(tasks)
    if workers > 1 and n_tasks >= _PARALLEL_MIN_IMAGES:
        yield from _run_in_pool(task_iter, workers)
    else:
        yield from map(_patches_from_image, task_iter)


def _run_in_pool(task_iter: Iterator[_ImageTask], workers: int) -> Generator[_ImageResult, None, None]:
    """Drain ``task_iter`` through a process pool; if the pool breaks, finish the tasks here."""
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    pending: deque[tuple[_ImageTask, Future[_ImageResult]]] = deque()
    unsubmitted: list[_ImageTask] = []
    try:
        while True:
            while len(pending) < 3 * workers and (task := next(task_iter, None)) is not None:
                unsubmitted = [task]
                pending.append((task, pool.submit(_patches_from_image, task)))
                unsubmitted = []
            if not pending:
                break
            result = pending[0][1].result()
            pending.popleft()
            yield result
    except BrokenProcessPool:
        logger.warning(
            "SIFT worker processes failed (a script that uses worker processes needs "
            '`if __name__ == "__main__":`); continuing in this process'
        )
        task_iter = itertools.chain([task for task, _ in pending], unsubmitted, task_iter)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    yield from map(_patches_from_image, task_iter)


def sample_patches(
    paths: Sequence[str | os.PathLike[str]],
    count: int,
    seed: int,
    config: CropConfig = CropConfig(),
    *,
    source: str | os.PathLike[str] = "image folder",
) -> Patches:
    """``count`` SIFT-filtered 32x32 patches from the images at ``paths``, deterministic in ``seed``.

    Images are visited in a seeded random order; each first gives at most its quota,
    ``ceil(count * quota_slack / len(paths))`` patches, so that the pool spreads over many
    images and the visit can stop early. Only if every image has been visited and patches are
    still missing does a second pass take further passing crops, image by image in the same
    order. Unreadable files are skipped with a warning. ``source`` names the origin in errors.
    """
    if count < 0:
        raise ConfigError(f"cannot cut a negative number of patches ({count})")
    if not paths:
        raise InputFileError(source, "no images to cut patches from")
    if count == 0:
        return Patches.empty()
    quota = max(1, math.ceil(count * config.quota_slack / len(paths)))
    order = np.random.default_rng(seed).permutation(len(paths))
    tasks = (_ImageTask(os.fspath(paths[i]), int(i), seed, quota, config) for i in order)
    visited: list[_ImageResult] = []
    found = 0
    results = _run_in_order(tasks, len(paths), config.workers)
    shown = progress(results, desc="SIFT patches", total=len(paths), unit="image")
    try:
        for result in shown:
            if result.error is not None:
                logger.warning("skipping unreadable image %s (%s)", paths[result.file_index], result.error)
                continue
            visited.append(result)
            found += len(result.patches)
            if found >= count:
                break
    finally:  # stops the bar and the worker pool when we leave early
        shown.close()
        results.close()
    if not visited:
        raise InputFileError(source, f"none of the {len(paths)} image files could be read")
    parts = [result.patches for result in visited]
    if found < count:
        parts += _top_up(paths, visited, count - found, config)
        found = sum(map(len, parts))
    if found < count:
        raise InputFileError(
            source,
            f"could cut only {found} of the {count} patches asked for (crops with more than "
            f"{config.min_keypoints} SIFT keypoints among {math.ceil(quota * config.candidates_per_patch)} "
            f"tried per image, {len(visited)} readable images); ask for fewer patches or add images",
        )
    return Patches.concatenate(parts).head(count)


def _top_up(
    paths: Sequence[str | os.PathLike[str]], visited: list[_ImageResult], missing: int, config: CropConfig
) -> list[Patches]:
    """Second pass: cut the spare passing crops of the visited images, in visiting order."""
    extra = []
    for result in visited:
        if missing <= 0 or result.spare is None or not len(result.spare):
            continue
        take = result.spare[:missing]
        image = load_working_image(paths[result.file_index], config.working_short_side)
        extra.append(_cut_patches(image, result.file_index, take))
        missing -= len(take)
    return extra


# ---------------------------------------------------------------- on-disk cache


def cache_root() -> Path:
    """``$INSTAHIDE_BENCH_CACHE``, else ``~/.cache/instahide-bench``."""
    configured = os.environ.get("INSTAHIDE_BENCH_CACHE")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "instahide-bench"


def file_fingerprints(paths: Sequence[Path], relative_to: Path) -> list[list[object]]:
    """(relative path, size, mtime) per file: what the cache key hashes instead of the contents."""
    fingerprints = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError as exc:
            raise InputFileError(path, f"cannot be read ({exc.strerror or exc})") from None
        fingerprints.append([path.relative_to(relative_to).as_posix(), stat.st_size, stat.st_mtime_ns])
    return fingerprints


def patch_cache_key(
    namespace: str,
    fingerprints: Sequence[Sequence[object]],
    count: int,
    seed: int,
    config: CropConfig,
    extra: Mapping[str, object] | None = None,
) -> str:
    """Hash of everything that decides a patch pool, including the library versions that compute it."""
    import hashlib

    import PIL
    import skimage

    skimage_version: str = skimage.__version__  # type: ignore[attr-defined]  # skimage's __init__.pyi omits it
    material = {
        "format": CACHE_FORMAT_VERSION,
        "namespace": namespace,
        "files": [list(f) for f in fingerprints],
        "count": count,
        "seed": seed,
        "config": config.cache_fields(),
        "extra": dict(extra or {}),
        "versions": {"skimage": skimage_version, "pillow": PIL.__version__, "numpy": np.__version__},
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def cached_sample_patches(
    paths: Sequence[Path],
    count: int,
    seed: int,
    config: CropConfig,
    *,
    namespace: str,
    fingerprints: Sequence[Sequence[object]],
    source: str | os.PathLike[str],
) -> Patches:
    """:func:`sample_patches`, reusing ``<cache_root>/patches/<namespace>-<key>.npz`` when present.

    A damaged cache file is reported and rebuilt; a cache that cannot be written (read-only
    home) only costs speed.
    """
    key = patch_cache_key(namespace, fingerprints, count, seed, config)
    cache_file = cache_root() / "patches" / f"{namespace}-{key[:40]}.npz"
    if cache_file.is_file():
        cached = _read_cache(cache_file, count)
        if cached is not None:
            logger.debug("patch cache hit: %s", cache_file)
            return cached
    patches = sample_patches(paths, count, seed, config, source=source)
    try:
        save_npz_atomic(cache_file, patches.arrays(), compress=False)
    except OSError as exc:
        logger.warning("could not write the patch cache %s (%s); continuing without it", cache_file, exc)
    return patches


def _read_cache(cache_file: Path, count: int) -> Patches | None:
    try:
        arrays = load_npz(cache_file)
        patches = Patches(**{name: arrays[name] for name in _PATCH_ARRAYS})
    except (InputFileError, KeyError) as exc:
        logger.warning("ignoring damaged patch cache %s (%s)", cache_file, exc)
        return None
    if (
        patches.images.dtype != np.uint8
        or patches.images.shape != (count, *IMAGE_SHAPE)
        or any(getattr(patches, name).shape[0] != count for name in _PATCH_ARRAYS)
    ):
        logger.warning("ignoring damaged patch cache %s (unexpected array shapes)", cache_file)
        return None
    return patches
