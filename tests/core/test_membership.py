"""Membership challenges: candidates and truth written, read back and checked; bad files refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from instahide_bench.benchmark.generate import MembershipRequest, build_challenge
from instahide_bench.core.challenge import copy_public_files, load_challenge, load_key, write_challenge
from instahide_bench.core.errors import ConfigError, InputFileError
from instahide_bench.core.membership import (
    CANDIDATE_INDEX_FILE,
    CANDIDATE_LABELS_FILE,
    CANDIDATES_FILE,
    MEMBERSHIP_KEY_FILE,
    load_membership_key,
    split_candidates,
)


@pytest.fixture(scope="module")
def vanilla_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    encoded, _ = build_challenge("vanilla", overrides={"n": 12}, membership=MembershipRequest())
    return write_challenge(tmp_path_factory.mktemp("membership") / "vanilla", encoded)


def _copy(source: Path, destination: Path) -> Path:
    import shutil

    shutil.copytree(source, destination)
    return destination


def test_round_trip_members_are_the_private_images(vanilla_dir: Path) -> None:
    challenge = load_challenge(vanilla_dir)
    assert challenge.membership is not None and len(challenge.membership) == 24
    assert challenge.meta.membership == {
        "candidates": 24,
        "members": 12,
        "non_members": 12,
        "non_member_source": "embedded",
        "member_selection": "all",
    }
    key = load_key(vanilla_dir, challenge.num_rows)
    truth = load_membership_key(vanilla_dir, challenge)
    members = truth.is_member
    assert members.sum() == 12 and 0 < members[:12].sum() < 12, "candidates must be shuffled"
    np.testing.assert_array_equal(challenge.membership.images[members], key.private[truth.private_index[members]])
    np.testing.assert_array_equal(
        challenge.membership.labels[members], key.private_labels[truth.private_index[members]]
    )
    assert np.all(truth.private_index[~members] == -1)
    # the vanilla release is the private set: every member initialised (is) a release row
    assert truth.init is not None and np.array_equal(truth.init, members)
    # non-members are images of the same source that are not private
    provenance = key.provenance
    assert not set(provenance["non_member_ids"]) & set(provenance["private_ids"])
    for image in challenge.membership.images[~members]:
        assert not np.any(np.all(key.private == image, axis=(1, 2, 3)))


def test_instahide_release_with_sampled_members(tmp_path: Path) -> None:
    request = MembershipRequest(candidates=10)
    encoded, _ = build_challenge("instahide-inside", overrides={"n": 12, "T": 2}, membership=request)
    path = write_challenge(tmp_path / "ih", encoded)
    challenge = load_challenge(path)
    truth = load_membership_key(path, challenge)
    assert challenge.meta.membership is not None and challenge.meta.membership["member_selection"] == "sample"
    assert (truth.num_members, truth.num_non_members, truth.init) == (5, 5, None)
    key = load_key(path)
    np.testing.assert_array_equal(
        challenge.membership.images[truth.is_member], key.private[truth.private_index[truth.is_member]]
    )


def test_public_copy_carries_candidates_never_the_truth(vanilla_dir: Path, tmp_path: Path) -> None:
    copy = copy_public_files(vanilla_dir, tmp_path / "public")
    assert {p.name for p in copy.iterdir()} >= {CANDIDATES_FILE, CANDIDATE_LABELS_FILE, "challenge.json"}
    assert not (copy / "key").exists()
    assert load_challenge(copy).membership is not None
    with pytest.raises(InputFileError, match="key"):
        load_membership_key(copy, load_challenge(copy))


def test_bad_candidate_files_are_refused(vanilla_dir: Path, tmp_path: Path) -> None:
    changed = _copy(vanilla_dir, tmp_path / "changed")
    candidates = np.load(changed / CANDIDATES_FILE)
    np.save(changed / CANDIDATES_FILE, candidates[:-1])
    with pytest.raises(InputFileError, match=r"candidates\.npy: sha256 mismatch"):
        load_challenge(changed)

    missing = _copy(vanilla_dir, tmp_path / "missing")
    (missing / CANDIDATE_LABELS_FILE).unlink()
    with pytest.raises(InputFileError, match=r"candidate_labels\.npy: file not found"):
        load_challenge(missing)

    counts = _copy(vanilla_dir, tmp_path / "counts")
    meta = json.loads((counts / "challenge.json").read_text())
    meta["membership"]["members"] = 13
    (counts / "challenge.json").write_text(json.dumps(meta))
    with pytest.raises(InputFileError, match="members \\+ non_members = candidates"):
        load_challenge(counts)


def test_bad_truth_files_are_refused(vanilla_dir: Path, tmp_path: Path) -> None:
    broken = _copy(vanilla_dir, tmp_path / "broken")
    challenge = load_challenge(broken)
    truth = np.load(broken / "key" / MEMBERSHIP_KEY_FILE)
    np.save(broken / "key" / MEMBERSHIP_KEY_FILE, truth.astype(np.int64))
    with pytest.raises(InputFileError, match=r"membership\.npy: .*expected bool"):
        load_membership_key(broken, challenge)
    np.save(broken / "key" / MEMBERSHIP_KEY_FILE, truth)
    index = np.load(broken / "key" / CANDIDATE_INDEX_FILE)
    index[np.flatnonzero(index >= 0)[0]] = -1
    np.save(broken / "key" / CANDIDATE_INDEX_FILE, index)
    with pytest.raises(InputFileError, match="members must have a private index"):
        load_membership_key(broken, challenge)


def test_plain_challenges_are_not_membership_challenges(tiny_challenge_dir: Path) -> None:
    challenge = load_challenge(tiny_challenge_dir)
    assert challenge.membership is None and challenge.meta.membership is None
    with pytest.raises(InputFileError, match="not a membership challenge"):
        load_membership_key(tiny_challenge_dir, challenge)


def test_candidate_counts_and_sources_are_checked(tmp_path: Path) -> None:
    assert split_candidates(12, None) == (12, 12)
    assert split_candidates(12, 9) == (4, 5)
    with pytest.raises(ConfigError, match="only 12 private images"):
        split_candidates(12, 30)
    # 353 embedded images: 200 private leave 153 to be non-members
    with pytest.raises(ConfigError, match="non-members: embedded has 153 images outside the private set; 200"):
        build_challenge("vanilla", overrides={"n": 200}, membership=MembershipRequest())
    encoded, _ = build_challenge("vanilla", overrides={"n": 12}, membership=MembershipRequest())
    with pytest.raises(InputFileError, match="drop --original-layout"):
        write_challenge(tmp_path / "original", encoded, original_layout=True)
