"""A small challenge-2020 set (embedded photographs) and what the carlini-graph stage tests share.

Everything here that reads the key is evaluation, as in ``scripts/bench_carlini.py``: the
stages under test only ever receive public data (or the attacker's own simulation), and the
key is used afterwards to judge what they produced, or as a stand-in input ("given the true
images / assignment") where a test isolates one stage.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from instahide_bench.attacks.carlini.attack import CarliniGraphConfig, Facts, read_facts
from instahide_bench.attacks.carlini.reconstruct import Reconstruction
from instahide_bench.attacks.carlini.similarity import Embedding, train_embedding
from instahide_bench.attacks.carlini.truth import true_slot_images
from instahide_bench.attacks.common.simulate import Simulation, simulate_from_sources
from instahide_bench.core.challenge import ChallengeKey, EncodedChallenge, write_challenge
from tests import torch_threads
from tests.conftest import tiny_encoded

#: n=20 private tiles of the 8 embedded photographs, T=20 epochs (E=400 rows), a 200-patch public pool.
SMALL = {"n": 20, "T": 20, "pool_size": 200}
SEED = 11
#: Cheap whole-attack settings (in-process ~7-9 s on one thread; a run with the defaults but
#: aux_images=12 reaches about the same Max_SSIM in ~13 s).
FAST = {
    "aux_images": 10,
    "aux_T": 10,
    "em_iterations": 10,
    "refine_rounds": 1,
    "threads": 1,
    "colour_steps": 100,
    "colour_width": 16,
}
#: The auxiliary simulations the stage tests learn from: 12 embedded tiles x 20 epochs each.
AUX_IMAGES, AUX_T = 12, 20


@pytest.fixture(scope="package", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One torch thread: with 2 cores shared with other work, 2 threads spin against each other
    (measured: 100 colour-fit steps 1.5 s on one thread, 19 s on two under load)."""
    with torch_threads.one_torch_thread():
        yield


@pytest.fixture(scope="package")
def small_encoded() -> EncodedChallenge:
    return tiny_encoded("challenge-2020", seed=SEED, **SMALL)


@pytest.fixture(scope="package")
def small_dir(small_encoded: EncodedChallenge, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("carlini") / "small-2020"
    write_challenge(path, small_encoded)
    return path


@pytest.fixture(scope="package")
def facts(small_encoded: EncodedChallenge) -> Facts:
    return read_facts(small_encoded.public_view(), CarliniGraphConfig())


@pytest.fixture(scope="package")
def true_slots(small_encoded: EncodedChallenge, facts: Facts) -> np.ndarray:
    """The image behind every slot, from the key (evaluation only)."""
    return true_slot_images(facts.slots, small_encoded.key.private_index, small_encoded.key.private_labels)


@pytest.fixture(scope="package")
def simulations(small_encoded: EncodedChallenge) -> list[Simulation]:
    """Two simulations the way the attack makes them: from challenge.json's public params only."""
    params = small_encoded.public_view().meta.params
    return [
        simulate_from_sources(params, "embedded", "embedded", AUX_IMAGES, AUX_T, seed=index + 1) for index in range(2)
    ]


@pytest.fixture(scope="package")
def embedding(simulations: list[Simulation]) -> Embedding:
    return train_embedding(simulations[:1], CarliniGraphConfig().embedding_dim)


def mixtures_from_key(key: ChallengeKey) -> np.ndarray:
    """The mixtures before the mask (float64), rebuilt from every slot of the key."""
    lam = key.coefficients.astype(np.float64)
    private_slots = key.private_index.shape[1]
    mixture = np.zeros(key.private[key.private_index[:, 0]].shape)
    for slot in range(lam.shape[1]):
        source = (
            key.private[key.private_index[:, slot]]
            if slot < private_slots
            else key.public[key.public_index[:, slot - private_slots]]
        )
        mixture += lam[:, slot, None, None, None] * source
    return mixture


def true_reconstruction(key: ChallengeKey, public_weight: np.ndarray) -> Reconstruction:
    """The reconstruction a perfect stage 5 would give: the true images, the public images' mean
    image (weighted by each row's public weight) and each row's public-noise variance around it."""
    private_slots = 2
    lam = key.coefficients.astype(np.float64)
    public_part = sum(
        lam[:, private_slots + s, None, None, None] * key.public[key.public_index[:, s]]
        for s in range(lam.shape[1] - private_slots)
    )
    mean = public_part.sum(axis=0) / public_weight.sum()
    variance = ((public_part - public_weight[:, None, None, None] * mean) ** 2).reshape(len(lam), -1).mean(axis=1)
    return Reconstruction(key.private.astype(np.float32), mean.astype(np.float32), variance[:, None], 0.0)


def random_within_class(facts: Facts, rng: np.random.Generator) -> np.ndarray:
    """A random slot -> image map that respects label classes (the chance level of stages 3-4)."""
    offsets = np.r_[0, np.cumsum(facts.class_sizes)]
    result = np.empty(len(facts.slots), np.int64)
    for cls in np.flatnonzero(facts.class_sizes):
        members = facts.slots.of_class(cls)
        result[members] = offsets[cls] + rng.integers(0, facts.class_sizes[cls], members.size)
    return result


def slots_right(slot_image: np.ndarray, facts: Facts, key: ChallengeKey) -> np.ndarray:
    """Per slot: is its image one of the row's true images of the slot's class (collided rows: either order)?"""
    images = key.private_index[facts.slots.row, :2]
    allowed = np.where(key.private_labels[images] == facts.slots.cls[:, None], images, -1)
    return (allowed == slot_image[:, None]).any(axis=1)
