"""Stage 2: the embedding separates rows sharing an image; the blockwise class-masked neighbour graph."""

from __future__ import annotations

import numpy as np
import pytest

from instahide_bench.attacks.carlini.magnitude import magnitude
from instahide_bench.attacks.carlini.similarity import (
    Embedding,
    class_presence,
    mann_whitney_auc,
    neighbour_graph,
    pair_auc,
    train_embedding,
)
from instahide_bench.attacks.common.simulate import Simulation


def test_pair_auc_on_a_held_out_simulation(simulations: list[Simulation], embedding: Embedding) -> None:
    held_out = simulations[1]
    auc = pair_auc(embedding.features(magnitude(held_out.encryption)), held_out)
    # measured 0.662 (the attack's own log line on the same setting says the same)
    assert auc > 0.62
    chance = pair_auc(np.random.default_rng(0).standard_normal((held_out.num_rows, 64)).astype(np.float32), held_out)
    assert abs(chance - 0.5) < 0.03  # measured 0.506: random features are at chance
    restored = Embedding.from_arrays(embedding.to_arrays())
    np.testing.assert_array_equal(
        restored.features(magnitude(held_out.encryption[:5])), embedding.features(magnitude(held_out.encryption[:5]))
    )


def planted_simulation(seed: int, images: int = 30, per_image: int = 8) -> Simulation:
    """Tiny 4x4 "encryptions": rows of one image share a 3-d code, every row adds loud 6-d nuisance of its own."""
    rng = np.random.default_rng(seed)
    shared = np.random.default_rng(99).standard_normal((3, 48))
    nuisance = np.random.default_rng(98).standard_normal((6, 48))
    owner = np.repeat(np.arange(images), per_image)
    rows = len(owner)
    flat = (
        20
        + rng.standard_normal((images, 3))[owner] @ shared
        + 4 * rng.standard_normal((rows, 6)) @ nuisance
        + 0.3 * rng.standard_normal((rows, 48))
    )
    return Simulation(
        flat.reshape(rows, 4, 4, 3).astype(np.float32),
        np.ones((rows, 1), np.float32),
        np.zeros((images, 4, 4, 3), np.float32),
        np.c_[owner, owner],
        np.full((rows, 2), 0.3),
        np.zeros(images, np.int64),
    )


def test_learned_projection_finds_the_shared_directions() -> None:
    """The canonical-correlation path (embedding_dim > 0), where it must beat the raw features."""
    train, held_out = planted_simulation(0), planted_simulation(1)
    raw = train_embedding([train], 0)
    learned = train_embedding([train], 3)
    assert raw.projection is None and learned.projection.shape == (48, 3) and learned.dim == 3
    features = learned.features(magnitude(held_out.encryption))
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)
    # measured: raw 0.52 (the nuisance drowns the code), learned 0.92
    assert pair_auc(raw.features(magnitude(held_out.encryption)), held_out) < 0.6
    assert pair_auc(features, held_out) > 0.85


def test_mann_whitney_auc_counts_ties_as_half() -> None:
    assert mann_whitney_auc(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 1.0
    assert mann_whitney_auc(np.array([1.0]), np.array([2.0])) == 0.0
    assert mann_whitney_auc(np.array([1.0, 3.0]), np.array([1.0, 2.0])) == pytest.approx(0.625)  # (0.5 + 1 + 1 + 0) / 4


@pytest.fixture
def rows_and_classes() -> tuple[np.ndarray, np.ndarray]:
    """60 rows of unit features; each names one or two of 5 classes; row 0 alone has class 4."""
    rng = np.random.default_rng(3)
    features = rng.standard_normal((60, 16)).astype(np.float32)
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    present = np.zeros((60, 5), bool)
    present[np.arange(60), rng.integers(0, 4, 60)] = True
    present[np.arange(0, 60, 2), rng.integers(0, 4, 30)] = True
    present[0] = False
    present[0, 4] = True
    present[1, 4] = True  # so row 0 has exactly one compatible row
    return features, present


def test_graph_links_only_distinct_class_compatible_rows(rows_and_classes) -> None:
    features, present = rows_and_classes
    graph = neighbour_graph(features, present, 8)
    assert graph.neighbours.shape == graph.similarity.shape == (60, 8)
    similarity = features @ features.T
    for row in range(60):
        compatible = np.flatnonzero((present[row] & present).any(axis=1))
        compatible = compatible[compatible != row]
        finite = np.isfinite(graph.similarity[row])
        linked = graph.neighbours[row, finite]
        assert row not in linked and set(linked) <= set(compatible)
        # the k best of the compatible rows, best first, with their true similarities
        expected = compatible[np.argsort(-similarity[row, compatible])][:8]
        assert linked.tolist() == expected.tolist()
        np.testing.assert_allclose(graph.similarity[row, finite], similarity[row, linked], atol=1e-5)
    assert np.isfinite(graph.similarity[0]).sum() == 1 and graph.neighbours[0, 0] == 1  # padded with -inf


def test_blockwise_graph_equals_one_block(rows_and_classes) -> None:
    features, present = rows_and_classes
    whole = neighbour_graph(features, present, 8, block_rows=10_000)
    seen = []
    blocks = neighbour_graph(features, present, 8, block_rows=7, progress=lambda it: (seen.append(s) or s for s in it))
    assert len(seen) == 9  # ceil(60 / 7) blocks
    finite = np.isfinite(whole.similarity)
    np.testing.assert_array_equal(np.isfinite(blocks.similarity), finite)
    np.testing.assert_array_equal(blocks.neighbours[finite], whole.neighbours[finite])
    np.testing.assert_allclose(blocks.similarity[finite], whole.similarity[finite], atol=1e-6)


def test_class_presence_reads_the_label_rows() -> None:
    labels = np.array([[0.2, 0.0, 0.35], [0.0, 0.5, 0.0]])
    assert class_presence(labels).tolist() == [[True, False, True], [False, True, False]]
