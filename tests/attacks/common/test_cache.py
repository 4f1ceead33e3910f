"""The stage cache behind --resume: reuse only on resume with a matching key, recompute otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from instahide_bench.attacks import AttackContext
from instahide_bench.attacks.common import cache as cache_module
from instahide_bench.attacks.common.cache import cached, fingerprint


class Stage:
    """A stage that counts its computations and returns a different array each time."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, np.ndarray]:
        self.calls += 1
        return {"value": np.full(3, float(self.calls)), "count": np.int64(self.calls)}


def run(tmp_path: Path, key: str, stage: Stage, resume: bool = True) -> float:
    return float(cached(AttackContext(workdir=tmp_path, resume=resume), "stage", key, stage)["value"][0])


def test_resume_with_the_same_key_reuses_the_output(tmp_path: Path) -> None:
    stage = Stage()
    assert run(tmp_path, "k1", stage, resume=False) == 1.0
    assert (tmp_path / "cache" / "stage" / "output.npz").is_file()
    assert json.loads((tmp_path / "cache" / "stage" / "fingerprint.json").read_text()) == {"key": "k1"}
    assert run(tmp_path, "k1", stage) == 1.0 and stage.calls == 1


def test_without_resume_or_workdir_it_always_computes(tmp_path: Path) -> None:
    stage = Stage()
    run(tmp_path, "k1", stage, resume=False)
    assert run(tmp_path, "k1", stage, resume=False) == 2.0 and stage.calls == 2
    assert run(tmp_path, "k1", stage) == 2.0 and stage.calls == 2  # the fresh output was stored
    no_workdir = AttackContext(resume=True)
    assert cached(no_workdir, "stage", "k1", stage)["value"][0] == 3.0
    assert cached(no_workdir, "stage", "k1", stage)["value"][0] == 4.0


def test_another_key_recomputes_and_replaces_the_entry(tmp_path: Path) -> None:
    stage = Stage()
    run(tmp_path, "k1", stage, resume=False)
    assert run(tmp_path, "k2", stage) == 2.0 and stage.calls == 2
    assert run(tmp_path, "k2", stage) == 2.0 and stage.calls == 2
    assert run(tmp_path, "k1", stage) == 3.0  # the old entry is gone, not kept beside


@pytest.mark.parametrize("damaged", ["output.npz", "fingerprint.json"])
@pytest.mark.parametrize("how", ["garbage", "missing"])
def test_a_damaged_entry_is_recomputed(tmp_path: Path, damaged: str, how: str) -> None:
    stage = Stage()
    run(tmp_path, "k1", stage, resume=False)
    path = tmp_path / "cache" / "stage" / damaged
    if how == "missing":
        path.unlink()
    else:
        path.write_bytes(b"\x00not what was written{")
    assert run(tmp_path, "k1", stage) == 2.0 and stage.calls == 2
    assert run(tmp_path, "k1", stage) == 2.0 and stage.calls == 2  # and stored again, whole


def test_an_interrupted_write_never_pairs_an_output_with_another_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed between writing output.npz and fingerprint.json (a time limit, say): the previous
    key must not vouch for the new output."""
    stage = Stage()
    run(tmp_path, "k1", stage, resume=False)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(cache_module, "write_json_atomic", killed)
        with pytest.raises(KeyboardInterrupt):
            run(tmp_path, "k2", stage)  # output.npz now holds k2's arrays
    assert run(tmp_path, "k1", stage) == 3.0 and stage.calls == 3  # recomputed, not k2's output under k1's name


def test_fingerprints_are_stable_and_sensitive() -> None:
    assert fingerprint(a=1, b=[2, 3]) == fingerprint(b=[2, 3], a=1)
    assert fingerprint(a=1, b=[2, 3]) != fingerprint(a=1, b=[3, 2])
    assert fingerprint(a=1) != fingerprint(a=1, b=None)
    assert len(fingerprint(a=1)) == 24
