"""The challenge directory (docs/specification.md §2): writer and reader, with the public/key split.

::

    CHALLENGE/
      challenge.json    public metadata, with a sha256 of each public file
      encryption.npy    float32, E x 32 x 32 x 3 (NHWC)
      label.npy         float32, E x C
      candidates.npy, candidate_labels.npy
                        membership challenges only: the candidates (see core/membership.py)
      key/              ground truth: never given to an attack
        private.npy     float32, n x 32 x 32 x 3, in the challenge's pixel space
        assignment.npz  per row: private indices, all k coefficients, public indices, ...
        public.npy      the public pool (cross-dataset)
        init_index.npy  releases (dataset condensation, random subset) only: per row, the
                        private image it was initialised from or copies (-1: none)
        membership.npy, candidate_index.npy
                        membership challenges only: the truth about each candidate
        key.json        seed, data provenance and sha256 of the key files

A gradient challenge (federated learning, :mod:`~instahide_bench.core.gradients`) has no
``encryption.npy``: its public files are ``weights.npz``, ``gradients.npz`` and, when labels
are public, ``label.npy``; its key adds ``inputs.npy``, the rows the model was fed.

A directory holding only ``encryption.npy`` and ``label.npy`` (the layout of the original
InstaHide Challenge release) loads as a challenge without key.

Attacks only ever receive a :class:`PublicChallenge`; the key is read by a separate function
that the scorer calls, and that the attack runner never hands to an attack.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from instahide_bench import __version__
from instahide_bench.core.errors import InputFileError
from instahide_bench.core.images import IMAGE_SHAPE, check_image_shape
from instahide_bench.core.io import (
    load_npy,
    load_npz,
    make_sibling_dir,
    read_json,
    save_npy_atomic,
    save_npz_atomic,
    sha256_file,
    write_json_atomic,
)
from instahide_bench.core.pixels import PixelSpace, get_pixel_space, pixel_space_from_json
from instahide_bench.core.release2020 import assumed_release_params

if TYPE_CHECKING:
    from instahide_bench.core.gradients import GradientRelease, GradientSetup
    from instahide_bench.core.membership import MembershipCandidates, MembershipSet

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
ENCRYPTION_FILE = "encryption.npy"
LABEL_FILE = "label.npy"
META_FILE = "challenge.json"
KEY_DIR = "key"
PUBLIC_FILES = (ENCRYPTION_FILE, LABEL_FILE)
INIT_INDEX_FILE = "init_index.npy"
_FINITE_CHUNK_ROWS = 4096


def library_versions() -> dict[str, str]:
    """Versions that decide whether a seeded challenge can be replayed bit for bit."""
    import torch

    return {
        "instahide_bench": __version__,
        "numpy": np.__version__,
        "torch": torch.__version__.split("+")[0],
        "python": platform.python_version(),
    }


@dataclass(frozen=True)
class ChallengeMeta:
    """Everything in challenge.json: public parameters, never secrets (seed, which images).

    Attacks may read all of it; it is what a real attacker of a deployed scheme would know.

    Attributes
    ----------
    challenge_id : str
        For a written challenge, ``<preset or encoder>-<first 10 hex digits of encryption.npy's sha256>``.
    encoder, encoder_version : str
        The registered encoder and its version.
    preset : str or None
        The named preset the challenge was generated from, if any.
    params : dict
        The encoder's public parameters (e.g. :meth:`InstaHideConfig.public_params`).
    class_names : list of str
        One per label column.
    num_rows : int
        E, the number of encryptions.
    pixels : PixelSpace
        The space the encryptions (and the expected decryptions) live in.
    versions : dict
        Library versions at generation time (see :func:`library_versions`).
    created : str
        ISO 8601 UTC time of generation ("" for the original release).
    sources : dict
        Public description of the data sources (kind and options, no secrets).
    files : dict
        sha256 of each public file, checked when the challenge is loaded.
    format_version : int
        The challenge directory format (only 1 exists).
    image_shape : tuple of int
        Always (32, 32, 3).
    original_release : bool
        True for a bare ``encryption.npy`` + ``label.npy`` directory (the 2020 release), whose
        metadata is inferred rather than read: its ``params`` are the release's published ones
        (:func:`~instahide_bench.core.release2020.assumed_release_params`).
    assumed : tuple of str
        Names of the ``params`` that were assumed rather than read from challenge.json.
    membership : dict or None
        For a membership challenge (:mod:`~instahide_bench.core.membership`): the candidate counts
        and the non-members' source; None otherwise.
    gradients : GradientSetup or None
        For a gradient challenge (:mod:`~instahide_bench.core.gradients`): the FedSGD run's
        public description; None for a release.
    """

    challenge_id: str
    encoder: str
    encoder_version: str
    preset: str | None
    params: dict[str, Any]
    class_names: list[str]
    num_rows: int
    pixels: PixelSpace
    versions: dict[str, str]
    created: str
    sources: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    image_shape: tuple[int, int, int] = IMAGE_SHAPE
    original_release: bool = False
    assumed: tuple[str, ...] = ()
    membership: dict[str, Any] | None = None
    gradients: GradientSetup | None = None

    @property
    def kind(self) -> str:
        """``gradients`` for a gradient challenge, else ``release`` (encryptions or a released set)."""
        return "release" if self.gradients is None else "gradients"

    @property
    def num_classes(self) -> int:
        """C, the number of label columns."""
        return len(self.class_names)

    @property
    def num_private(self) -> int | None:
        """n, the number of private images, when the encoder published it."""
        value = self.params.get("n")
        return int(value) if value is not None else None

    def to_json(self) -> dict[str, Any]:
        """The challenge.json object (read back by :meth:`from_json`)."""
        return {
            "format_version": self.format_version,
            "challenge_id": self.challenge_id,
            "encoder": self.encoder,
            "encoder_version": self.encoder_version,
            "preset": self.preset,
            "params": self.params,
            "pixels": self.pixels.to_json(),
            "class_names": list(self.class_names),
            "num_rows": self.num_rows,
            "image_shape": list(self.image_shape),
            "sources": self.sources,
            "versions": self.versions,
            "created": self.created,
            "original_release": self.original_release,
            "files": self.files,
            **({"membership": self.membership} if self.membership is not None else {}),
            **({"kind": "gradients", "gradients": self.gradients.to_json()} if self.gradients is not None else {}),
        }

    @classmethod
    def from_json(cls, obj: Any, path: Path) -> ChallengeMeta:
        """Check and read a parsed challenge.json.

        Parameters
        ----------
        obj
            The parsed JSON.
        path : Path
            The file it came from, named in error messages.

        Returns
        -------
        ChallengeMeta

        Raises
        ------
        InputFileError
            When a required field is missing or malformed, or the format version is unknown.
        """
        if not isinstance(obj, dict):
            raise InputFileError(path, "must hold a JSON object")
        required = ("format_version", "challenge_id", "encoder", "params", "pixels", "class_names", "num_rows", "files")
        missing = [k for k in required if k not in obj]
        if missing:
            raise InputFileError(path, f"missing field(s): {', '.join(missing)}")
        if obj["format_version"] != FORMAT_VERSION:
            raise InputFileError(
                path, f"format_version {obj['format_version']!r} is not supported (this tool reads {FORMAT_VERSION})"
            )
        try:
            pixels = pixel_space_from_json(obj["pixels"])
        except Exception as exc:
            raise InputFileError(path, f"bad 'pixels' field: {exc}") from None
        if not isinstance(obj["files"], dict) or not all(isinstance(v, str) for v in obj["files"].values()):
            raise InputFileError(path, "'files' must map file names to sha256 strings")
        if not isinstance(obj["num_rows"], int) or obj["num_rows"] <= 0:
            raise InputFileError(path, f"'num_rows' must be a positive integer, got {obj['num_rows']!r}")
        if not isinstance(obj["class_names"], list) or not obj["class_names"]:
            raise InputFileError(path, "'class_names' must be a non-empty list")
        membership = None
        if obj.get("membership") is not None:
            from instahide_bench.core.membership import check_membership_meta

            membership = check_membership_meta(obj["membership"], path)
        gradients = None
        if obj.get("gradients") is not None or obj.get("kind") == "gradients":
            from instahide_bench.core.gradients import GradientSetup

            gradients = GradientSetup.from_json(obj.get("gradients"), path)
            if gradients.num_rows != obj["num_rows"] or gradients.num_classes != len(obj["class_names"]):
                raise InputFileError(path, "'gradients' disagrees with num_rows or class_names")
        elif obj.get("kind", "release") != "release":
            raise InputFileError(path, f"unknown challenge kind {obj.get('kind')!r} (known: release, gradients)")
        shape = obj.get("image_shape", list(IMAGE_SHAPE))
        if not isinstance(shape, list) or tuple(shape) != IMAGE_SHAPE:
            raise InputFileError(path, f"image_shape {shape!r} is not supported (only {list(IMAGE_SHAPE)})")
        for name in ("params", "versions", "sources"):
            if not isinstance(obj.get(name, {}), dict):
                raise InputFileError(path, f"'{name}' must be a JSON object, got {type(obj[name]).__name__}")
        return cls(
            challenge_id=str(obj["challenge_id"]),
            encoder=str(obj["encoder"]),
            encoder_version=str(obj.get("encoder_version", "")),
            preset=obj.get("preset"),
            params=dict(obj["params"]),
            class_names=[str(c) for c in obj["class_names"]],
            num_rows=int(obj["num_rows"]),
            pixels=pixels,
            versions=dict(obj.get("versions", {})),
            created=str(obj.get("created", "")),
            sources=dict(obj.get("sources", {})),
            files=dict(obj["files"]),
            format_version=int(obj["format_version"]),
            image_shape=IMAGE_SHAPE,
            original_release=bool(obj.get("original_release", False)),
            membership=membership,
            gradients=gradients,
        )


@dataclass(frozen=True)
class PublicChallenge:
    """What an attacker receives: encryptions, labels and public metadata. No key.

    The key is a separate object (:class:`ChallengeKey`) read by a separate function, so an
    attack cannot reach it through this one.

    Attributes
    ----------
    meta : ChallengeMeta
        The contents of challenge.json.
    encryption : numpy.ndarray
        float32, E x 32 x 32 x 3 (NHWC), in ``meta.pixels``.
    labels : numpy.ndarray
        float32, E x C: each encryption's mixed label.
    path : Path or None
        The directory it was loaded from (a public copy, for isolated runs); None in memory.
    membership : MembershipCandidates or None
        A membership challenge's candidates (images and labels, no truth); None otherwise.
    gradients : GradientRelease or None
        A gradient challenge's release (first weights, updates, public labels); None otherwise.
        Such a challenge has no encryptions (``encryption`` has no rows; ``labels`` holds the
        public labels, or no rows when they are hidden).
    """

    meta: ChallengeMeta
    encryption: np.ndarray
    labels: np.ndarray
    path: Path | None = None
    membership: MembershipCandidates | None = None
    gradients: GradientRelease | None = None

    @property
    def num_rows(self) -> int:
        """E, the number of encryptions (gradient challenges: S*B rows fed), and of decryption rows expected."""
        if self.gradients is not None:
            return self.gradients.setup.num_rows
        return int(self.encryption.shape[0])

    @property
    def pixels(self) -> PixelSpace:
        """The pixel space of the encryptions, and of the decryption an attack returns."""
        return self.meta.pixels


@dataclass(frozen=True)
class ChallengeKey:
    """Ground truth of a challenge: what the scorer compares a decryption with.

    Attributes
    ----------
    private : numpy.ndarray
        float32, n x 32 x 32 x 3: the private images, in the challenge's pixel space.
    private_labels : numpy.ndarray
        int64, n: their class indices.
    private_index : numpy.ndarray
        int64, E x slots: one column per private slot (slot 0 is the image a row encrypts,
        slot 1 its private partner; inside-dataset encoders fill all k slots). A release that
        is not a mixture (dataset condensation, a random subset) has one column: the private
        image each row is scored against.
    coefficients : numpy.ndarray
        float64, E x k: the mixing weights of every slot.
    public_index : numpy.ndarray
        int64, E x slots: one column per public slot (-1 where the slot is private or absent).
    epoch : numpy.ndarray
        int64, E: the epoch each row was drawn in.
    seed : int or None
        The encoder seed, for seeded (legacy) randomness.
    public : numpy.ndarray or None
        float32, P x 32 x 32 x 3: the public pool (cross-dataset).
    provenance : dict
        Where the images came from (written to key.json).
    init_index : numpy.ndarray or None
        int64, E, releases only (``key/init_index.npy``): the private index of the image each
        release row was initialised from (dataset condensation with ``init=real``) or is a copy
        of (random subset); -1 where there is none (``init=noise``). None for encryptions.
    inputs : numpy.ndarray or None
        float32, E x 32 x 32 x 3, gradient challenges only (``key/inputs.npy``): the rows the
        model was fed (the encodings), in the challenge's pixel space.
    """

    private: np.ndarray
    private_labels: np.ndarray
    private_index: np.ndarray
    coefficients: np.ndarray
    public_index: np.ndarray
    epoch: np.ndarray
    seed: int | None = None
    public: np.ndarray | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    init_index: np.ndarray | None = None
    inputs: np.ndarray | None = None

    def validate(self, num_rows: int, path: Path) -> None:
        """Shape and range checks, each failure naming the key file concerned.

        Parameters
        ----------
        num_rows : int
            E, from the public part of the challenge.
        path : Path
            The key directory, for error messages.

        Raises
        ------
        InputFileError
            Naming the key file whose array has the wrong shape, dtype or range.
        """
        assignment = path / "assignment.npz"
        n = self.private.shape[0]
        _check_images(self.private, path / "private.npy")
        if self.private_labels.shape != (n,):
            raise InputFileError(assignment, f"private_labels has shape {self.private_labels.shape}, expected ({n},)")
        for name, array in (
            ("private_index", self.private_index),
            ("coefficients", self.coefficients),
            ("public_index", self.public_index),
        ):
            if array.ndim != 2 or array.shape[0] != num_rows:
                raise InputFileError(assignment, f"{name} has shape {array.shape}, expected {num_rows} rows")
        if self.epoch.shape != (num_rows,):
            raise InputFileError(assignment, f"epoch has shape {self.epoch.shape}, expected ({num_rows},)")
        for name, array in (
            ("private_index", self.private_index),
            ("private_labels", self.private_labels),
            ("public_index", self.public_index),
            ("epoch", self.epoch),
        ):
            if array.dtype.kind not in "iu":
                raise InputFileError(assignment, f"{name} must hold integers, got {array.dtype}")
        if self.coefficients.dtype.kind != "f" or not np.isfinite(self.coefficients).all():
            raise InputFileError(assignment, "coefficients must be finite floats")
        if self.coefficients.size and (self.coefficients.min() < 0 or self.coefficients.max() > 1):
            raise InputFileError(assignment, "coefficients must lie in [0, 1] (each row's mixing weights)")
        if self.public_index.size and self.public_index.min() < 0:
            raise InputFileError(assignment, "public_index values may not be negative")
        if self.private_index.shape[1] < 1:
            raise InputFileError(
                assignment, "private_index needs at least one column (the image a row is scored against)"
            )
        if self.private_index.min() < 0 or self.private_index.max() >= n:
            raise InputFileError(assignment, f"private_index values must lie in [0, {n})")
        if self.public is not None:
            _check_images(self.public, path / "public.npy")
            if self.public_index.size and self.public_index.max() >= self.public.shape[0]:
                raise InputFileError(assignment, "public_index points past the end of public.npy")
        if self.init_index is not None:
            _check_init_index(self.init_index, num_rows, n, path / INIT_INDEX_FILE)


def _check_init_index(init_index: np.ndarray, num_rows: int, n: int, path: Path) -> None:
    """A release's init_index: one integer per row, each -1 (no init image) or a private index."""
    if init_index.shape != (num_rows,):
        raise InputFileError(path, f"shape {init_index.shape}, expected ({num_rows},): one entry per release row")
    if not np.issubdtype(init_index.dtype, np.integer):
        raise InputFileError(path, f"dtype {init_index.dtype}, expected an integer type")
    if init_index.size and (init_index.min() < -1 or init_index.max() >= n):
        raise InputFileError(path, f"values must be -1 (no init image) or lie in [0, {n})")


@dataclass(frozen=True)
class EncodedChallenge:
    """An encoder's output before it is written to disk (by :func:`write_challenge`).

    Attributes
    ----------
    encryption : numpy.ndarray
        E x 32 x 32 x 3 (NHWC), in ``pixels``; written as float32.
    labels : numpy.ndarray
        E x C mixed labels; written as float32.
    class_names : list of str
        One per label column.
    encoder, encoder_version : str
        The registered encoder and its version.
    params : dict
        The encoder's public parameters (challenge.json's ``params``).
    pixels : PixelSpace
        The pixel space of ``encryption`` and of ``key.private``.
    key : ChallengeKey
        The ground truth; written under ``key/``.
    preset : str or None
        The named preset, if any (prefixes the challenge id).
    sources : dict
        Public description of the data sources.
    membership : MembershipSet or None
        Candidates and their truth, for a membership challenge (``generate --membership``).
    gradients : GradientRelease or None
        For a gradient challenge: what the server received. ``encryption`` and ``labels`` then
        hold the rows the model was fed and their labels (the key's ``inputs``; the labels are
        written only when public).
    """

    encryption: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    encoder: str
    encoder_version: str
    params: dict[str, Any]
    pixels: PixelSpace
    key: ChallengeKey
    preset: str | None = None
    sources: dict[str, str] = field(default_factory=dict)
    membership: MembershipSet | None = None
    gradients: GradientRelease | None = None

    def public_view(self, challenge_id: str = "in-memory") -> PublicChallenge:
        """The attacker's view, without writing anything (for tests and in-process runs).

        Parameters
        ----------
        challenge_id : str
            The id to put in the metadata (a written challenge derives it from a hash instead).

        Returns
        -------
        PublicChallenge
            Sharing ``encryption`` and ``labels`` with this object (no copy), with ``path=None``.
        """
        meta = _build_meta(self, challenge_id, files={})
        candidates = None if self.membership is None else self.membership.candidates
        if self.gradients is not None:
            labels = self.labels if self.gradients.setup.labels_public else self.labels[:0]
            return PublicChallenge(meta, self.encryption[:0], labels, gradients=self.gradients)
        return PublicChallenge(meta, self.encryption, self.labels, membership=candidates)


def _build_meta(encoded: EncodedChallenge, challenge_id: str, files: dict[str, str]) -> ChallengeMeta:
    return ChallengeMeta(
        challenge_id=challenge_id,
        encoder=encoded.encoder,
        encoder_version=encoded.encoder_version,
        preset=encoded.preset,
        params=dict(encoded.params),
        class_names=list(encoded.class_names),
        num_rows=int(encoded.encryption.shape[0]),
        pixels=encoded.pixels,
        versions=library_versions(),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        sources=dict(encoded.sources),
        files=files,
        membership=None if encoded.membership is None else encoded.membership.meta(),
        gradients=None if encoded.gradients is None else encoded.gradients.setup,
    )


# --------------------------------------------------------------------------------------- writing


def write_challenge(
    out_dir: str | os.PathLike[str],
    encoded: EncodedChallenge,
    *,
    overwrite: bool = False,
    original_layout: bool = False,
) -> Path:
    """Write a challenge directory atomically: built beside ``out_dir``, then renamed into place.

    With ``original_layout`` the public part is the 2020 release's: ``encryption.npy`` and
    ``label.npy`` only, no challenge.json (the key is still written, so that it can be scored);
    a reader then assumes the release's published parameters.
    """
    out_dir = Path(out_dir)
    check_output_dir(out_dir, overwrite)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = make_sibling_dir(out_dir)
    try:
        if encoded.gradients is not None:
            if original_layout or encoded.membership is not None:
                raise InputFileError(out_dir, "a gradient challenge takes neither --original-layout nor --membership")
            files, challenge_id = _write_gradient_release(staging, encoded)
        else:
            save_npy_atomic(staging / ENCRYPTION_FILE, encoded.encryption.astype(np.float32, copy=False))
            save_npy_atomic(staging / LABEL_FILE, encoded.labels.astype(np.float32, copy=False))
            files = {name: sha256_file(staging / name) for name in PUBLIC_FILES}
            challenge_id = f"{encoded.preset or encoded.encoder}-{files[ENCRYPTION_FILE][:10]}"
        if encoded.membership is not None:
            if original_layout:
                raise InputFileError(out_dir, "a membership challenge needs challenge.json (drop --original-layout)")
            from instahide_bench.core.membership import write_membership_files

            files.update(write_membership_files(staging, encoded.membership, staging / KEY_DIR))
        _write_key(staging / KEY_DIR, encoded.key, files)
        if original_layout:
            challenge_id = f"original-{files[ENCRYPTION_FILE][:10]}"  # what the reader will call it
        else:
            write_json_atomic(staging / META_FILE, _build_meta(encoded, challenge_id, files).to_json())
        _replace_dir(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("wrote challenge %s (%d rows) to %s", challenge_id, encoded.encryption.shape[0], out_dir)
    return out_dir


def is_challenge_dir(path: Path) -> bool:
    """Whether ``path`` holds a challenge this suite wrote (or an original-layout one): its marker files."""
    return (path / META_FILE).is_file() or (path / KEY_DIR / "key.json").is_file()


def enclosing_challenge(path: str | os.PathLike[str]) -> Path | None:
    """The challenge directory ``path`` is (or lies inside), symlinks resolved; None when there is none."""
    real = Path(path).resolve()
    for folder in (real, *real.parents):
        if folder.is_dir() and is_challenge_dir(folder):
            return folder
    return None


def refuse_inside_challenge(path: str | os.PathLike[str], what: str) -> None:
    """Refuse an output ``path`` inside a challenge (its public files or key), before anything is written."""
    challenge = enclosing_challenge(path)
    if challenge is not None:
        raise InputFileError(path, f"{what} may not be written inside the challenge {challenge}; choose another place")


def check_output_file(
    path: str | os.PathLike[str], what: str, inputs: tuple[str | os.PathLike[str] | None, ...] = ()
) -> None:
    """Refuse an output file that would land on an input: inside a challenge (its key, its public
    files), on one of ``inputs`` (the submission being scored), or on a directory. Cheap: call it
    before any work."""
    refuse_inside_challenge(path, what)
    real = Path(path).resolve()
    for source in inputs:
        if source is not None and Path(source).resolve() == real:
            raise InputFileError(path, f"{what} would overwrite the input {source}; choose another file")
    if real.is_dir():
        raise InputFileError(path, f"is a directory; {what} is a file")


def check_output_dir(out_dir: str | os.PathLike[str], overwrite: bool) -> None:
    """Refuse a challenge's ``out_dir`` that would replace something it should not; cheap, so callers
    check it before any encoding work.

    A non-empty ``out_dir`` is refused unless ``overwrite``, and even then unless it is a challenge
    itself (``--overwrite`` replaces what the suite wrote, never a folder of other things); a
    folder inside another challenge (``C/key``, ``C/key/sub``) is refused always.
    """
    out_dir = Path(out_dir)
    if out_dir.is_symlink() and not out_dir.exists():
        raise InputFileError(out_dir, "is a symlink to a place that does not exist; give a real directory")
    parent = enclosing_challenge(out_dir.parent)
    if parent is not None:
        raise InputFileError(out_dir, f"lies inside the challenge {parent}; a challenge may not be written there")
    try:  # the challenge is built beside out_dir and renamed: that folder must take a new entry
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        os.rmdir(tempfile.mkdtemp(prefix=".probe-", dir=out_dir.parent))
    except OSError as exc:
        raise InputFileError(out_dir, f"cannot be written: {exc.strerror or exc}") from None
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        if not overwrite:
            raise InputFileError(out_dir, "already exists and is not empty (pass --overwrite to replace it)")
        if not out_dir.is_dir() or out_dir.is_symlink() or not is_challenge_dir(out_dir):
            raise InputFileError(
                out_dir,
                "is not a challenge this suite wrote (no challenge.json or key/key.json); "
                "--overwrite replaces only those",
            )


def _write_gradient_release(staging: Path, encoded: EncodedChallenge) -> tuple[dict[str, str], str]:
    """The public files of a gradient challenge; the fed rows go to the key (``key/inputs.npy``)."""
    from instahide_bench.core.gradients import GRADIENTS_FILE, INPUTS_FILE, write_gradient_files

    assert encoded.gradients is not None
    files = write_gradient_files(staging, encoded.gradients)
    if encoded.gradients.setup.labels_public:
        save_npy_atomic(staging / LABEL_FILE, encoded.labels.astype(np.float32, copy=False))
        files[LABEL_FILE] = sha256_file(staging / LABEL_FILE)
    (staging / KEY_DIR).mkdir()
    save_npy_atomic(staging / KEY_DIR / INPUTS_FILE, encoded.encryption.astype(np.float32, copy=False))
    return files, f"{encoded.preset or encoded.encoder}-fl-{files[GRADIENTS_FILE][:10]}"


def _replace_dir(staging: Path, target: Path) -> None:
    """Move a finished directory into place; an old one is only removed once the new one is in."""
    if target.exists():
        backup = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, backup)
        os.replace(staging, target)
        shutil.rmtree(backup, ignore_errors=True)
    else:
        os.replace(staging, target)


def _write_key(key_dir: Path, key: ChallengeKey, public_files: dict[str, str]) -> None:
    """The key's files, and key.json: their sha256 and those of the public files the key belongs to."""
    key_dir.mkdir(parents=True, exist_ok=True)
    save_npy_atomic(key_dir / "private.npy", key.private.astype(np.float32, copy=False))
    save_npz_atomic(
        key_dir / "assignment.npz",
        {
            "private_index": key.private_index.astype(np.int64),
            "private_labels": key.private_labels.astype(np.int64),
            "coefficients": key.coefficients.astype(np.float64),
            "public_index": key.public_index.astype(np.int64),
            "epoch": key.epoch.astype(np.int64),
            "seed": np.int64(-1 if key.seed is None else key.seed),
        },
    )
    if key.public is not None:
        save_npy_atomic(key_dir / "public.npy", key.public.astype(np.float32, copy=False))
    if key.init_index is not None:
        save_npy_atomic(key_dir / INIT_INDEX_FILE, key.init_index.astype(np.int64, copy=False))
    files = {p.name: sha256_file(p) for p in sorted(key_dir.iterdir()) if p.suffix in {".npy", ".npz"}}
    write_json_atomic(
        key_dir / "key.json",
        {"seed": key.seed, "provenance": key.provenance, "files": files, "public_files": dict(public_files)},
    )


# --------------------------------------------------------------------------------------- reading


def _check_images(array: np.ndarray, path: Path) -> None:
    check_image_shape(array.shape, path)
    if array.dtype != np.float32:
        raise InputFileError(path, f"dtype {array.dtype}, expected float32")
    check_finite(array, path)


def check_finite(array: np.ndarray, path: Path) -> None:
    """Raise naming the count and the first row of non-finite values (checked in bounded chunks)."""
    bad_total, first_bad = 0, None
    for start in range(0, array.shape[0], _FINITE_CHUNK_ROWS):
        chunk = np.asarray(array[start : start + _FINITE_CHUNK_ROWS])
        bad = ~np.isfinite(chunk.reshape(chunk.shape[0], -1))
        if bad.any():
            rows = np.flatnonzero(bad.any(axis=1))
            bad_total += int(bad.sum())
            if first_bad is None:
                first_bad = start + int(rows[0])
    if bad_total:
        raise InputFileError(path, f"holds {bad_total} NaN/inf value(s), first in row {first_bad}")


def _verify_sha256(path: Path, expected: str | None) -> None:
    if expected is None:
        raise InputFileError(path.parent / META_FILE, f"no sha256 recorded for {path.name}")
    actual = sha256_file(path)
    if actual != expected:
        raise InputFileError(
            path,
            f"sha256 mismatch: challenge.json records {expected[:16]}..., the file has {actual[:16]}... "
            "(modified or corrupted)",
        )


def _load_public_arrays(directory: Path, *, mmap: bool, strict_dtype: bool) -> tuple[np.ndarray, np.ndarray]:
    enc_path, lab_path = directory / ENCRYPTION_FILE, directory / LABEL_FILE
    encryption = load_npy(enc_path, mmap=mmap)
    labels = load_npy(lab_path)
    check_image_shape(encryption.shape, enc_path, rows="E", what="encryptions")
    if not np.issubdtype(encryption.dtype, np.floating) or (strict_dtype and encryption.dtype != np.float32):
        raise InputFileError(enc_path, f"dtype {encryption.dtype}, expected float32")
    if labels.ndim != 2 or labels.shape[0] != encryption.shape[0]:
        raise InputFileError(
            lab_path, f"shape {labels.shape}, expected {encryption.shape[0]} rows (one per encryption) x classes"
        )
    if not np.issubdtype(labels.dtype, np.floating) or (strict_dtype and labels.dtype != np.float32):
        raise InputFileError(lab_path, f"dtype {labels.dtype}, expected float32")
    check_finite(encryption, enc_path)
    check_finite(labels, lab_path)
    if encryption.dtype != np.float32:
        encryption = encryption.astype(np.float32)
    return encryption, labels.astype(np.float32, copy=False)


def _original_release_meta(directory: Path, encryption: np.ndarray, labels: np.ndarray) -> ChallengeMeta:
    """Metadata for a bare ``encryption.npy`` + ``label.npy`` directory (the 2020 release layout).

    Its parameters are the ones the release's README published, assumed (and logged as such)
    because no file states them.
    """
    files = {name: sha256_file(directory / name) for name in PUBLIC_FILES}
    params = assumed_release_params(int(encryption.shape[0]))
    assumed = tuple(name for name in params if name != "num_rows")
    logger.warning(
        "%s has no %s: assuming the 2020 InstaHide Challenge's published parameters %s",
        directory,
        META_FILE,
        ", ".join(f"{name}={params[name]}" for name in assumed),
    )
    return ChallengeMeta(
        challenge_id=f"original-{files[ENCRYPTION_FILE][:10]}",
        encoder="unknown (original release layout)",
        encoder_version="",
        preset=None,
        params=params,
        class_names=[f"class_{i}" for i in range(labels.shape[1])],
        num_rows=int(encryption.shape[0]),
        pixels=get_pixel_space("[-1,1]"),
        versions={},
        created="",
        files=files,
        original_release=True,
        assumed=assumed,
    )


def load_challenge(directory: str | os.PathLike[str], *, mmap: bool = False) -> PublicChallenge:
    """Read and check the public part of a challenge (the key is never touched)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputFileError(
            directory, "challenge directory not found" if not directory.exists() else "not a directory"
        )
    meta_path = directory / META_FILE
    if not meta_path.exists():
        missing = [name for name in PUBLIC_FILES if not (directory / name).is_file()]
        if missing:
            raise InputFileError(directory, f"not a challenge: no {META_FILE} and no {' / '.join(missing)}")
        encryption, labels = _load_public_arrays(directory, mmap=mmap, strict_dtype=False)
        return PublicChallenge(_original_release_meta(directory, encryption, labels), encryption, labels, directory)
    meta = ChallengeMeta.from_json(read_json(meta_path), meta_path)
    if meta.gradients is not None:
        return _load_gradient_challenge(directory, meta)
    for name in PUBLIC_FILES:
        if not (directory / name).is_file():
            raise InputFileError(directory / name, "file not found")
        _verify_sha256(directory / name, meta.files.get(name))
    encryption, labels = _load_public_arrays(directory, mmap=mmap, strict_dtype=True)
    if encryption.shape[0] != meta.num_rows:
        raise InputFileError(
            directory / ENCRYPTION_FILE, f"holds {encryption.shape[0]} rows but challenge.json says {meta.num_rows}"
        )
    if labels.shape[1] != meta.num_classes:
        raise InputFileError(
            directory / LABEL_FILE,
            f"has {labels.shape[1]} label columns but challenge.json names {meta.num_classes} classes",
        )
    membership = None
    if meta.membership is not None:
        from instahide_bench.core.membership import load_candidates

        membership = load_candidates(directory, meta.membership, meta.files, meta.num_classes)
    return PublicChallenge(meta, encryption, labels, directory, membership)


def _load_gradient_challenge(directory: Path, meta: ChallengeMeta) -> PublicChallenge:
    from instahide_bench.core.gradients import GRADIENT_FILES, load_gradient_release

    assert meta.gradients is not None
    public = [*GRADIENT_FILES, *([LABEL_FILE] if meta.gradients.labels_public else [])]
    for name in public:
        if not (directory / name).is_file():
            raise InputFileError(directory / name, "file not found")
        _verify_sha256(directory / name, meta.files.get(name))
    labels = np.zeros((0, meta.num_classes), np.float32)
    if meta.gradients.labels_public:
        labels = load_npy(directory / LABEL_FILE, max_bytes=meta.num_rows * meta.num_classes * 8)
        if labels.shape != (meta.num_rows, meta.num_classes) or labels.dtype != np.float32:
            raise InputFileError(
                directory / LABEL_FILE,
                f"must be float32 {meta.num_rows} x {meta.num_classes}, got {labels.dtype} {labels.shape}",
            )
        check_finite(labels, directory / LABEL_FILE)
    release = load_gradient_release(directory, meta.gradients, labels if meta.gradients.labels_public else None)
    empty = np.zeros((0, *IMAGE_SHAPE), np.float32)
    return PublicChallenge(meta, empty, labels, directory, gradients=release)


def _digests(key_json: dict[str, Any], field_name: str, path: Path) -> dict[str, str]:
    """key.json's ``field_name``: plain file names (no path) mapped to sha256 hex strings."""
    value = key_json.get(field_name, {})
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InputFileError(path, f"'{field_name}' must map file names to sha256 strings")
    for name in value:
        if not name or name != Path(name).name or name in (".", ".."):
            raise InputFileError(path, f"'{field_name}' names {name[:80]!r}, which is not a file name in its folder")
    return dict(value)


def _check_key_belongs(directory: Path, key_json: dict[str, Any]) -> None:
    """Refuse a key whose recorded public files are not this challenge's: a key copied from another
    challenge with as many rows would otherwise score that challenge's decryption.

    challenge.json's digests (verified against the files when the challenge is loaded) are
    compared when present; an original-layout folder's files are hashed. Keys written before
    the binding existed (no ``public_files``) are accepted as they are.
    """
    recorded = _digests(key_json, "public_files", directory / KEY_DIR / "key.json")
    if not recorded:
        return
    meta_path = directory / META_FILE
    published: dict[str, str] = {}
    if meta_path.is_file():
        meta = read_json(meta_path)
        files = meta.get("files", {}) if isinstance(meta, dict) else {}
        published = {k: v for k, v in files.items() if isinstance(v, str)} if isinstance(files, dict) else {}
    for name, digest in recorded.items():
        actual = published.get(name)
        if actual is None and (directory / name).is_file():
            actual = sha256_file(directory / name)
        if actual != digest:
            raise InputFileError(
                directory / KEY_DIR / "key.json",
                f"this key belongs to another challenge: its {name} has sha256 {digest[:16]}..., "
                f"{directory / name} has {'no such file' if actual is None else actual[:16] + '...'}",
            )


def _key_seed(value: np.ndarray | None, path: Path) -> int | None:
    """assignment.npz's ``seed``: one integer, -1 (or absent) for an encoder seeded from the OS."""
    if value is None:
        return None
    if value.shape != () or value.dtype.kind not in "iu":
        raise InputFileError(path, f"'seed' must be one integer, got {value.dtype} of shape {value.shape}")
    return int(value) if int(value) >= 0 else None


def has_key(directory: str | os.PathLike[str]) -> bool:
    return (Path(directory) / KEY_DIR / "private.npy").is_file()


def load_key(directory: str | os.PathLike[str], num_rows: int | None = None) -> ChallengeKey:
    """Read the ground truth of a challenge (for scoring; never for attacks)."""
    directory = Path(directory)
    key_dir = directory / KEY_DIR
    if not key_dir.is_dir():
        raise InputFileError(key_dir, "no key directory: this challenge cannot be scored here")
    key_json = read_json(key_dir / "key.json") if (key_dir / "key.json").exists() else {}
    if not isinstance(key_json, dict):
        raise InputFileError(key_dir / "key.json", "must be a JSON object")
    for name, digest in _digests(key_json, "files", key_dir / "key.json").items():
        if (key_dir / name).is_file() and sha256_file(key_dir / name) != digest:
            raise InputFileError(key_dir / name, "sha256 mismatch with key.json (modified or corrupted)")
    _check_key_belongs(directory, key_json)
    if not isinstance(key_json.get("provenance", {}), dict):
        raise InputFileError(key_dir / "key.json", "'provenance' must be a JSON object")
    private = load_npy(key_dir / "private.npy")
    arrays = load_npz(key_dir / "assignment.npz")
    needed = ("private_index", "private_labels", "coefficients", "public_index", "epoch")
    missing = [name for name in needed if name not in arrays]
    if missing:
        raise InputFileError(key_dir / "assignment.npz", f"missing array(s): {', '.join(missing)}")
    public = load_npy(key_dir / "public.npy") if (key_dir / "public.npy").exists() else None
    init_index = load_npy(key_dir / INIT_INDEX_FILE) if (key_dir / INIT_INDEX_FILE).exists() else None
    from instahide_bench.core.gradients import load_inputs

    inputs = load_inputs(key_dir, num_rows if num_rows is not None else arrays["private_index"].shape[0])
    seed = _key_seed(arrays.get("seed"), key_dir / "assignment.npz")
    key = ChallengeKey(
        private=private,
        private_labels=arrays["private_labels"],
        private_index=arrays["private_index"],
        coefficients=arrays["coefficients"],
        public_index=arrays["public_index"],
        epoch=arrays["epoch"],
        seed=seed,
        public=public,
        provenance=dict(key_json.get("provenance", {})),
        init_index=init_index,
        inputs=inputs,
    )
    rows = num_rows if num_rows is not None else key.private_index.shape[0]
    key.validate(rows, key_dir)
    return key


def copy_public_files(directory: str | os.PathLike[str], destination: str | os.PathLike[str]) -> Path:
    """Copy only the public files of a challenge (what an isolated attack may see)."""
    from instahide_bench.core.gradients import GRADIENT_FILES
    from instahide_bench.core.membership import MEMBERSHIP_FILES

    directory, destination = Path(directory), Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    for name in (META_FILE, *PUBLIC_FILES, *MEMBERSHIP_FILES, *GRADIENT_FILES):
        source = directory / name
        if source.exists():
            shutil.copy2(source, destination / name)
    return destination


__all__ = [
    "INIT_INDEX_FILE",
    "ChallengeKey",
    "ChallengeMeta",
    "EncodedChallenge",
    "PublicChallenge",
    "check_finite",
    "check_output_dir",
    "copy_public_files",
    "has_key",
    "library_versions",
    "load_challenge",
    "load_key",
    "write_challenge",
]
