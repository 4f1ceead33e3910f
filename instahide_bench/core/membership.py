"""Membership-inference challenges: public candidates, the membership truth, and their files.

A membership challenge is an ordinary challenge directory (the release in ``encryption.npy``
and ``label.npy``, ``challenge.json``) with a shuffled set of candidate images, some of them
private images of the encoder (members) and the others images from the same distribution that
the encoder never saw (non-members)::

    CHALLENGE/
      candidates.npy          float32, C x 32 x 32 x 3, in the challenge's pixel space  (public)
      candidate_labels.npy    int64, C: each candidate's class                          (public)
      challenge.json          + "membership": {candidates, members, non_members, ...},
                              and the sha256 of the two files above under "files"
      key/membership.npy      bool, C: True for members
      key/candidate_index.npy int64, C: a member's index in key/private.npy, -1 for a non-member

An attack answers with one float per candidate, higher meaning "more likely a member"
(``membership_scores.npy``); :mod:`instahide_bench.core.membership_scoring` scores it. When the
encoder's key says which private image initialised each release row (``key/init_index.npy``,
dataset condensation and random subsets), the scorer also reports those members separately.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from instahide_bench.core.data import parse_source
from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.errors import ConfigError, InputFileError
from instahide_bench.core.images import check_image_shape
from instahide_bench.core.io import load_npy, save_npy_atomic, sha256_file
from instahide_bench.core.pixels import PixelSpace

if TYPE_CHECKING:
    from instahide_bench.core.challenge import ChallengeKey, PublicChallenge

CANDIDATES_FILE = "candidates.npy"
CANDIDATE_LABELS_FILE = "candidate_labels.npy"
#: The public files a membership challenge adds (copied to the attack's sandbox with the others).
MEMBERSHIP_FILES = (CANDIDATES_FILE, CANDIDATE_LABELS_FILE)
MEMBERSHIP_KEY_FILE = "membership.npy"
CANDIDATE_INDEX_FILE = "candidate_index.npy"
#: What an attack on a membership challenge writes: float, one per candidate, higher = member.
SCORES_FILE = "membership_scores.npy"


@dataclass(frozen=True)
class MembershipCandidates:
    """The public half: the images an attack must score, and their classes.

    Attributes
    ----------
    images : numpy.ndarray
        float32, C x 32 x 32 x 3 (NHWC), in the challenge's pixel space (as the release).
    labels : numpy.ndarray
        int64, C: class indices, in the order of the challenge's ``class_names``.
    info : dict
        challenge.json's ``membership`` object: counts and where the non-members came from.
    """

    images: np.ndarray
    labels: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.images.shape[0])


@dataclass(frozen=True)
class MembershipKey:
    """The truth about each candidate (for the scorer; never given to an attack).

    Attributes
    ----------
    is_member : numpy.ndarray
        bool, C.
    private_index : numpy.ndarray
        int64, C: a member's row in ``key/private.npy``; -1 for a non-member.
    init : numpy.ndarray or None
        bool, C: members whose private image initialised (or is) a release row, per the encoder's
        ``key/init_index.npy``; None when the encoder records no such thing (encryptions).
    """

    is_member: np.ndarray
    private_index: np.ndarray
    init: np.ndarray | None = None

    @property
    def num_members(self) -> int:
        return int(self.is_member.sum())

    @property
    def num_non_members(self) -> int:
        return int((~self.is_member).sum())


@dataclass(frozen=True)
class MembershipSet:
    """What generation attaches to an encoded challenge: candidates, truth and the public description."""

    candidates: MembershipCandidates
    key: MembershipKey

    def meta(self) -> dict[str, Any]:
        """challenge.json's ``membership`` object (public: counts and the non-members' source kind)."""
        return {
            "candidates": len(self.candidates),
            "members": self.key.num_members,
            "non_members": self.key.num_non_members,
            **self.candidates.info,
        }


# --------------------------------------------------------------------------------------- building


def split_candidates(num_private: int, total: int | None) -> tuple[int, int]:
    """(members, non-members) for ``total`` candidates: half each; all private images (and as many
    non-members) when ``total`` is None.

    Raises
    ------
    ConfigError
        When ``total`` is below 2 or asks for more members than there are private images.
    """
    if total is None:
        return num_private, num_private
    if total < 2:
        raise ConfigError(f"a membership challenge needs at least 2 candidates, got {total}")
    members = total // 2
    if members > num_private:
        raise ConfigError(
            f"{total} candidates need {members} members but the encoder has only {num_private} private images"
        )
    return members, total - members


def load_non_members(spec: str, private_spec: str, private: ImageSet, count: int, seed: int) -> ImageSet:
    """``count`` images of ``spec`` that are not private images: held-out rows of the same source.

    When ``spec`` is the private source itself, the private images (by id) are excluded first.

    Raises
    ------
    ConfigError
        When the source cannot list its images, has other classes, or too few images remain.
    """
    source = parse_source(spec, "private")
    load_all = getattr(source, "load_all", None)
    if load_all is None:
        raise ConfigError(
            f"non-members: {spec} cannot list its images; use a cifar10:, npy:, mnist5k or embedded source"
        )
    pool: ImageSet = load_all()
    if tuple(pool.class_names) != tuple(private.class_names):
        raise ConfigError(f"non-members: {spec} has other classes than the private source {private_spec}")
    if spec == private_spec:
        pool = pool.subset(np.flatnonzero(~np.isin(pool.ids, private.ids)))
    if count > len(pool):
        raise ConfigError(
            f"non-members: {spec} has {len(pool)} images outside the private set; {count} were asked for "
            "(use fewer --candidates or another --non-members source)"
        )
    return pool.choose(count, seed)


def build_membership_set(
    private: ImageSet,
    non_members: ImageSet,
    pixels: PixelSpace,
    *,
    members: int,
    rng: np.random.Generator,
    info: dict[str, Any] | None = None,
    init_index: np.ndarray | None = None,
) -> MembershipSet:
    """Candidates: ``members`` private images (all, or a sample drawn from ``rng``) and every
    image of ``non_members``, shuffled by ``rng``.

    ``private`` must be the encoder's private set in the order of ``key/private.npy``, so that a
    member's position in it is its ``private_index``; ``init_index`` is the encoder key's, when
    it has one (see :func:`init_members`).
    """
    if members > len(private):
        raise ConfigError(f"{members} members asked for but there are only {len(private)} private images")
    member_rows = (
        np.arange(len(private))
        if members == len(private)
        else np.sort(rng.choice(len(private), members, replace=False))
    )
    images = np.concatenate([private.images[member_rows], non_members.images])
    labels = np.concatenate([private.labels[member_rows], non_members.labels]).astype(np.int64)
    index = np.concatenate([member_rows, np.full(len(non_members), -1)]).astype(np.int64)
    order = rng.permutation(len(index))
    candidates = MembershipCandidates(pixels.from_uint8(images[order]), labels[order], dict(info or {}))
    is_member, private_index = index[order] >= 0, index[order]
    return MembershipSet(
        candidates, MembershipKey(is_member, private_index, init_members(private_index, is_member, init_index))
    )


def init_members(private_index: np.ndarray, is_member: np.ndarray, init_index: np.ndarray | None) -> np.ndarray | None:
    """Which member candidates initialised (or are) a release row, from the encoder key's
    ``init_index`` (per release row, a private index or -1); None when the key has none."""
    if init_index is None:
        return None
    used = np.asarray(init_index)[np.asarray(init_index) >= 0]
    init: np.ndarray = np.isin(private_index, used) & is_member
    return init


# --------------------------------------------------------------------------------------- files


def write_membership_files(directory: Path, membership: MembershipSet, key_dir: Path) -> dict[str, str]:
    """Write the candidates (public) and the truth (under ``key_dir``); return the public files' sha256."""
    save_npy_atomic(directory / CANDIDATES_FILE, membership.candidates.images.astype(np.float32, copy=False))
    save_npy_atomic(directory / CANDIDATE_LABELS_FILE, membership.candidates.labels.astype(np.int64, copy=False))
    key_dir.mkdir(parents=True, exist_ok=True)
    save_npy_atomic(key_dir / MEMBERSHIP_KEY_FILE, membership.key.is_member.astype(bool))
    save_npy_atomic(key_dir / CANDIDATE_INDEX_FILE, membership.key.private_index.astype(np.int64))
    return {name: sha256_file(directory / name) for name in MEMBERSHIP_FILES}


def check_membership_meta(obj: Any, path: Path) -> dict[str, Any]:
    """challenge.json's ``membership`` object, checked: positive integer counts that add up."""
    if not isinstance(obj, dict):
        raise InputFileError(path, "'membership' must be a JSON object")
    for name in ("candidates", "members", "non_members"):
        if not isinstance(obj.get(name), int) or obj[name] < 0:
            raise InputFileError(path, f"'membership.{name}' must be a non-negative integer, got {obj.get(name)!r}")
    if obj["members"] + obj["non_members"] != obj["candidates"] or obj["candidates"] < 1:
        raise InputFileError(path, "'membership' counts must satisfy members + non_members = candidates >= 1")
    return dict(obj)


def load_candidates(
    directory: Path, info: dict[str, Any], files: dict[str, str], num_classes: int
) -> MembershipCandidates:
    """Read and check the public candidate files named by challenge.json (sha256, shape, dtype, range)."""
    from instahide_bench.core.challenge import _verify_sha256, check_finite

    for name in MEMBERSHIP_FILES:
        if not (directory / name).is_file():
            raise InputFileError(directory / name, "file not found (challenge.json describes a membership challenge)")
        _verify_sha256(directory / name, files.get(name))
    images_path, labels_path = directory / CANDIDATES_FILE, directory / CANDIDATE_LABELS_FILE
    images, labels = load_npy(images_path), load_npy(labels_path)
    check_image_shape(images.shape, images_path, rows="C", what="candidates")
    if images.dtype != np.float32:
        raise InputFileError(images_path, f"dtype {images.dtype}, expected float32")
    check_finite(images, images_path)
    count = int(info["candidates"])
    if images.shape[0] != count:
        raise InputFileError(images_path, f"holds {images.shape[0]} candidates but challenge.json says {count}")
    if labels.shape != (count,) or labels.dtype != np.int64:
        raise InputFileError(labels_path, f"{labels.dtype} array of shape {labels.shape}, expected int64 ({count},)")
    if count and (labels.min() < 0 or labels.max() >= num_classes):
        raise InputFileError(labels_path, f"labels must lie in [0, {num_classes})")
    return MembershipCandidates(images, labels, info)


def load_membership_key(
    directory: str | os.PathLike[str], challenge: PublicChallenge, key: ChallengeKey | None = None
) -> MembershipKey:
    """Read the membership truth of a challenge (for scoring; never for attacks).

    ``key`` (the encoder's, from :func:`~instahide_bench.core.challenge.load_key`) supplies the
    init images; without it, they are read when the challenge has a key.

    Raises
    ------
    InputFileError
        When the challenge is not a membership challenge or a key file is missing or malformed.
    """
    from instahide_bench.core.challenge import KEY_DIR, META_FILE, has_key, load_key

    directory = Path(directory)
    if challenge.membership is None:
        raise InputFileError(
            directory / META_FILE, "not a membership challenge (no 'membership' entry; generate with --membership)"
        )
    count = len(challenge.membership)
    key_dir = directory / KEY_DIR
    is_member, index = load_npy(key_dir / MEMBERSHIP_KEY_FILE), load_npy(key_dir / CANDIDATE_INDEX_FILE)
    if is_member.shape != (count,) or is_member.dtype != np.bool_:
        raise InputFileError(
            key_dir / MEMBERSHIP_KEY_FILE,
            f"{is_member.dtype} array of shape {is_member.shape}, expected bool ({count},)",
        )
    if index.shape != (count,) or not np.issubdtype(index.dtype, np.integer):
        raise InputFileError(
            key_dir / CANDIDATE_INDEX_FILE, f"{index.dtype} array of shape {index.shape}, expected int64 ({count},)"
        )
    index = index.astype(np.int64)
    if np.any((index >= 0) != is_member):
        raise InputFileError(
            key_dir / CANDIDATE_INDEX_FILE, "members must have a private index >= 0 and non-members -1"
        )
    expected = challenge.membership.info
    if int(is_member.sum()) != expected.get("members"):
        raise InputFileError(
            key_dir / MEMBERSHIP_KEY_FILE,
            f"marks {int(is_member.sum())} members, challenge.json says {expected.get('members')}",
        )
    if key is None and has_key(directory):
        key = load_key(directory, challenge.num_rows)
    init_index = key.init_index if key is not None else None
    return MembershipKey(is_member, index, init_members(index, is_member, init_index))


__all__ = [
    "CANDIDATES_FILE",
    "CANDIDATE_INDEX_FILE",
    "CANDIDATE_LABELS_FILE",
    "MEMBERSHIP_FILES",
    "MEMBERSHIP_KEY_FILE",
    "SCORES_FILE",
    "MembershipCandidates",
    "MembershipKey",
    "MembershipSet",
    "build_membership_set",
    "check_membership_meta",
    "init_members",
    "load_candidates",
    "load_membership_key",
    "load_non_members",
    "split_candidates",
    "write_membership_files",
]
