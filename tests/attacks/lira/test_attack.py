"""lira end to end: an overfit release gives its members away; variants, the stage cache, the key out of reach."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from instahide_bench.attacks.lira import attack as lira_attack
from instahide_bench.attacks.lira.attack import LiraAttack, LiraConfig
from instahide_bench.benchmark.cli import main
from instahide_bench.benchmark.generate import MembershipRequest, build_challenge
from instahide_bench.core.attack import AttackContext
from instahide_bench.core.challenge import EncodedChallenge, load_challenge, write_challenge
from instahide_bench.core.data import ImageSet, parse_source
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.membership import build_membership_set, load_membership_key
from instahide_bench.core.membership_scoring import score_membership
from instahide_bench.encoders import ENCODERS

LIRA_DIR = Path(lira_attack.__file__).parent
#: Overfits random labels on one CPU thread in seconds: no augmentation, no weight decay, batches of 8.
OVERFIT = LiraConfig(shadows=2, epochs=25, batch_size=8, lr=0.05, augment="none", weight_decay=0.0)
NAMES = ("a", "b", "c", "d")


def _random_label_release(members: int, tmp_path: Path) -> tuple[EncodedChallenge, str]:
    """A vanilla release of ``members`` embedded tiles with random labels (only memorising helps), as many
    non-members, and an auxiliary npz of other tiles with random labels of the same four classes."""
    pool = parse_source("embedded", "private").load_all()
    rng = np.random.default_rng(0)
    rows = rng.choice(len(pool), 6 * members, replace=False)
    labels = rng.integers(0, 4, 6 * members)

    def images(part: slice) -> ImageSet:
        return ImageSet(pool.images[rows[part]], labels[part], NAMES, "test", pool.ids[rows[part]])

    private, non_members, aux = (
        images(slice(0, members)),
        images(slice(members, 2 * members)),
        images(slice(2 * members, None)),
    )
    np.savez(tmp_path / "aux.npz", images=aux.images, labels=aux.labels, class_names=np.array(NAMES))
    vanilla = ENCODERS.get("vanilla")
    encoded = vanilla(vanilla.Config(n=members)).encode(private, seed=0)
    chosen = build_membership_set(
        private, non_members, encoded.pixels, members=members, rng=rng, init_index=encoded.key.init_index
    )
    return dataclasses.replace(encoded, membership=chosen), f"npy:{tmp_path / 'aux.npz'}"


def _auc(encoded: EncodedChallenge, scores: np.ndarray) -> float:
    assert encoded.membership is not None
    return score_membership(encoded.membership.key, scores, resamples=0).all.auc


def test_overfit_release_members_stand_out(tmp_path: Path) -> None:
    """8 members, 2 shadows: online LiRA well above chance and above a random score; asking for
    per-candidate variances (the same shadows, from the cache) falls back to the pooled one."""
    encoded, aux = _random_label_release(8, tmp_path)
    challenge = encoded.public_view()
    context = AttackContext(workdir=tmp_path / "work", resume=True)
    config = dataclasses.replace(OVERFIT, aux=aux)
    online = LiraAttack(config).run(challenge, context)
    assert online.membership_scores is not None and online.decryption is None
    assert online.info["in_per_candidate_min"] == online.info["in_per_candidate_max"] == 1
    random = np.random.default_rng(0).normal(size=16)
    auc = _auc(encoded, online.membership_scores)
    assert auc > 0.7 and auc >= _auc(encoded, random), auc  # measured: 0.80 (random: 0.36)
    own = LiraAttack(dataclasses.replace(config, fixed_variance=False)).run(challenge, context).membership_scores
    # one IN and one OUT observation per candidate: no per-candidate variance, the pooled one stands in
    assert own is not None and np.array_equal(own, online.membership_scores)


@pytest.mark.slow
def test_every_variant_on_a_larger_overfit_release(tmp_path: Path) -> None:
    """16 members, 4 shadows (~70 s): online and offline, pooled and per-candidate variances."""
    encoded, aux = _random_label_release(16, tmp_path)
    challenge = encoded.public_view()
    context = AttackContext(workdir=tmp_path / "work", resume=True)
    config = dataclasses.replace(OVERFIT, shadows=4, epochs=30, aux=aux)
    random = _auc(encoded, np.random.default_rng(0).normal(size=32))
    floors = {("online", True): 0.75, ("online", False): 0.55, ("offline", True): 0.7, ("offline", False): 0.7}
    for (variant, fixed), floor in floors.items():  # measured: 0.84, 0.64, 0.78, 0.82
        result = LiraAttack(dataclasses.replace(config, variant=variant, fixed_variance=fixed)).run(challenge, context)
        assert result.membership_scores is not None and np.all(np.isfinite(result.membership_scores))
        auc = _auc(encoded, result.membership_scores)
        assert auc > floor and auc >= random, (variant, fixed, auc)
        assert result.info["pool_candidates"] == (32 if variant == "online" else 0)


def test_resume_reuses_cached_shadows_and_trains_only_new_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    encoded, aux = _random_label_release(4, tmp_path)
    challenge = encoded.public_view()
    config = LiraConfig(shadows=2, epochs=1, batch_size=8, augment="none", aux=aux)
    context = AttackContext(workdir=tmp_path / "work", resume=True)
    first = LiraAttack(config).run(challenge, context).membership_scores
    trained: list[str] = []
    real = lira_attack.train_on_rows

    def counting(*args: object, **kwargs: object) -> object:
        trained.append(str(kwargs.get("label")))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lira_attack, "train_on_rows", counting)
    again = LiraAttack(config).run(challenge, context).membership_scores
    assert trained == [] and np.array_equal(first, again)
    LiraAttack(dataclasses.replace(config, shadows=4)).run(challenge, context)
    assert trained == ["lira shadow 3/4", "lira shadow 4/4"]
    offline = LiraAttack(dataclasses.replace(config, variant="offline")).run(challenge, context)
    assert len(trained) == 4 and offline.info["pool_candidates"] == 0  # the target is cached; OUT-only shadows are new
    assert offline.membership_scores is not None and np.all(np.isfinite(offline.membership_scores))
    measured = LiraAttack(dataclasses.replace(config, eval_data=aux)).run(challenge, context)
    assert trained[4:] == ["lira target"]  # the target's utility is measured once it is trained; shadows are reused
    assert measured.info["test_images"] == 16 and 0 <= measured.info["test_accuracy"] <= 1
    assert np.array_equal(measured.membership_scores, first)  # the same target (same recipe and seed)
    LiraAttack(dataclasses.replace(config, epochs=2)).run(challenge, dataclasses.replace(context, resume=False))
    assert len(trained) == 8  # another recipe (or no --resume) trains everything again


def test_bad_settings_and_challenges_are_refused(tmp_path: Path) -> None:
    for bad in ({"shadows": 1}, {"variant": "both"}, {"augmentations": "crop"}, {"epochs": 0}):
        with pytest.raises(ConfigError):
            LiraAttack(LiraConfig(**bad))  # type: ignore[arg-type]
    encoded, _ = _random_label_release(4, tmp_path)
    plain = dataclasses.replace(encoded, membership=None).public_view()
    with pytest.raises(ConfigError, match="needs a membership challenge"):
        LiraAttack(LiraConfig(epochs=1)).run(plain, AttackContext())
    with pytest.raises(ConfigError, match="classes"):  # offline needs auxiliary images of the challenge's classes
        LiraAttack(LiraConfig(epochs=1, variant="offline")).run(encoded.public_view(), AttackContext())


def test_no_module_touches_a_key() -> None:
    """Nothing the attack runs imports the key loaders or types (the runner test below proves no read)."""
    for path in sorted(LIRA_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
        assert not imported & {"load_key", "ChallengeKey", "load_membership_key", "MembershipKey"}, path.name
        assert '"key"' not in path.read_text(encoding="utf-8"), path.name


def test_isolated_run_never_reads_the_key(tmp_path: Path) -> None:
    """``instahide-bench attack lira`` in the runner's sandboxed child (where touching key/ fails the run),
    on a vanilla release of embedded tiles; the key files stay untouched (resuming: the in-process test above)."""
    encoded, _ = build_challenge("vanilla", overrides={"n": 12}, membership=MembershipRequest())
    directory = write_challenge(tmp_path / "challenge", encoded)
    out = tmp_path / "out"
    settings = {"shadows": 2, "epochs": 1, "batch_size": 16, "augment": "none", "threads": 1}
    command = ["attack", "lira", "--challenge", str(directory), "--out", str(out), "--device", "cpu"]
    command += [f"--set={name}={value}" for name, value in settings.items()]
    key_files = {path: (path.stat().st_mtime_ns, path.stat().st_size) for path in (directory / "key").iterdir()}
    assert main(command) == 0
    scores = np.load(out / "membership_scores.npy")
    challenge = load_challenge(directory)
    assert scores.shape == (len(challenge.membership or []),) and np.all(np.isfinite(scores))
    assert json.loads((out / "run.json").read_text())["info"]["shadows"] == 2
    cache = out / "work" / "cache"
    assert {path.parent.name for path in cache.glob("*/output.npz")} == {
        "target",
        "online-shadow-000",
        "online-shadow-001",
    }
    assert {path: (path.stat().st_mtime_ns, path.stat().st_size) for path in (directory / "key").iterdir()} == key_files
    assert load_membership_key(directory, challenge).num_members == 12  # the truth is there; the attack never saw it
