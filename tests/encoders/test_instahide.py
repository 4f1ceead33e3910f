"""The InstaHide encoder against docs/specification.md §1 and §3, on tiny sets of real photographs."""

from __future__ import annotations

import numpy as np
import pytest

from instahide_bench.core.errors import ConfigError
from instahide_bench.core.instahide.coefficients import draw_coefficients
from instahide_bench.encoders import PRESETS, get_preset
from tests.conftest import TINY, tiny_encoded

#: The presets of the instahide encoder (the others, docs/specification.md §3.3 releases, are tested beside
#: their encoders).
INSTAHIDE_PRESETS = sorted(name for name, preset in PRESETS.items() if preset.encoder == "instahide")


def recomputed_mixture(encoded) -> np.ndarray:
    """The unmasked mixture rebuilt from the key alone."""
    key = encoded.key
    lam = key.coefficients.astype(np.float32)
    m = key.private_index.shape[1]
    mixture = np.zeros_like(encoded.encryption)
    for slot in range(lam.shape[1]):
        source = key.private[key.private_index[:, slot]] if slot < m else key.public[key.public_index[:, slot - m]]
        mixture += lam[:, slot, None, None, None] * source
    return mixture


@pytest.mark.parametrize("preset", INSTAHIDE_PRESETS)
def test_coefficient_constraints_hold_on_every_row(preset: str) -> None:
    encoded = tiny_encoded(preset, seed=7)
    cfg = get_preset(preset).config
    lam = encoded.key.coefficients
    assert lam.shape == (TINY["n"] * TINY["T"], cfg.k)
    assert np.all(lam >= 0)
    np.testing.assert_allclose(lam.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(lam.max(axis=1) <= cfg.upper)
    if cfg.mode == "cross":
        assert np.all(lam[:, 0] + lam[:, 1] >= cfg.dom)


@pytest.mark.parametrize("preset", INSTAHIDE_PRESETS)
def test_abs_encryption_equals_abs_mixture_from_key(preset: str) -> None:
    encoded = tiny_encoded(preset, seed=11)
    mixture = recomputed_mixture(encoded)
    np.testing.assert_allclose(np.abs(encoded.encryption), np.abs(mixture), rtol=0, atol=1e-6)
    if get_preset(preset).config.mask:
        assert not np.allclose(encoded.encryption, mixture), "mask on but nothing flipped"
    else:
        np.testing.assert_allclose(encoded.encryption, mixture, atol=1e-6)


def test_mask_is_plus_minus_one_per_pixel_and_per_channel() -> None:
    encoded = tiny_encoded("challenge-2020", seed=3)
    mixture = recomputed_mixture(encoded)
    usable = np.abs(mixture) > 1e-3
    ratio = encoded.encryption[usable] / mixture[usable]
    np.testing.assert_allclose(np.abs(ratio), 1.0, atol=1e-4)
    signs = np.where(usable, np.sign(encoded.encryption * mixture), 0)
    # Independent per channel: the three channels of a pixel disagree about as often as chance says.
    disagree = (signs[..., 0] * signs[..., 1] < 0).mean() / usable[..., :2].all(-1).mean()
    assert 0.4 < disagree < 0.6
    # Independent per pixel: neighbours too.
    flips = (signs[:, :, 1:, 0] * signs[:, :, :-1, 0] < 0).mean() / (usable[:, :, 1:, 0] & usable[:, :, :-1, 0]).mean()
    assert 0.4 < flips < 0.6


@pytest.mark.parametrize("preset", INSTAHIDE_PRESETS)
def test_labels_follow_the_formula(preset: str) -> None:
    encoded = tiny_encoded(preset, seed=5)
    key = encoded.key
    lam32 = key.coefficients.astype(np.float32)
    expected = np.zeros_like(encoded.labels)
    rows = np.arange(expected.shape[0])
    for slot in range(key.private_index.shape[1]):
        expected[rows, key.private_labels[key.private_index[:, slot]]] += lam32[:, slot]
    np.testing.assert_array_equal(encoded.labels, expected)
    assert encoded.labels.dtype == np.float32


@pytest.mark.parametrize("preset", INSTAHIDE_PRESETS)
def test_rows_equal_n_times_T_and_each_image_leads_once_per_epoch(preset: str) -> None:
    encoded = tiny_encoded(preset, seed=9, T=4)
    n, T = TINY["n"], 4
    assert encoded.encryption.shape == (n * T, 32, 32, 3)
    assert encoded.labels.shape[0] == n * T
    for t in range(T):
        leads = encoded.key.private_index[t * n : (t + 1) * n, 0]
        assert sorted(leads.tolist()) == list(range(n))


def test_fresh_public_patches_are_never_reused() -> None:
    encoded = tiny_encoded("instahide-cross")
    used = encoded.key.public_index.ravel()
    assert len(np.unique(used)) == used.size


def test_challenge_2020_reuses_n_pool_images_per_epoch() -> None:
    encoded = tiny_encoded("challenge-2020", seed=21)
    n = TINY["n"]
    for t in range(TINY["T"]):
        epoch_public = encoded.key.public_index[t * n : (t + 1) * n]
        values, counts = np.unique(epoch_public, return_counts=True)
        assert len(values) == n and np.all(counts == 4)


def test_challenge_2020_regenerated_from_its_seed_is_bit_identical() -> None:
    first = tiny_encoded("challenge-2020", seed=None)
    seed = first.key.seed
    assert seed is not None and 0 <= seed < 2**32
    again = tiny_encoded("challenge-2020", seed=seed)
    assert first.encryption.tobytes() == again.encryption.tobytes()
    assert first.labels.tobytes() == again.labels.tobytes()
    other = tiny_encoded("challenge-2020", seed=seed + 1)
    assert first.encryption.tobytes() != other.encryption.tobytes()


def test_challenge_2020_follows_the_draw_order_of_spec_3_1() -> None:
    """Replay docs/specification.md §3.1 by hand with numpy and torch and compare with the encoder's key."""
    import torch

    seed, n, k, T, P = 987654321, TINY["n"], 6, TINY["T"], TINY["pool_size"]
    encoded = tiny_encoded("challenge-2020", seed=seed)
    numpy_rng = np.random.RandomState(seed)
    torch_rng = torch.Generator().manual_seed(seed)
    for t in range(T):
        rows = slice(t * n, (t + 1) * n)
        order = torch.randperm(n, generator=torch_rng).numpy()
        pool = torch.randperm(P, generator=torch_rng).numpy()[:n]
        lam = draw_coefficients(lambda shape: numpy_rng.normal(0, 1, size=shape), n, k, 0.65, 0.3)
        idx = [torch.randperm(n, generator=torch_rng).numpy() for _ in range(k - 1)]
        mask = (torch.randint(2, (n, 3, 32, 32), generator=torch_rng) * 2 - 1).numpy()
        np.testing.assert_array_equal(encoded.key.private_index[rows, 0], order)
        np.testing.assert_array_equal(encoded.key.private_index[rows, 1], order[idx[0]])
        for slot in range(4):
            np.testing.assert_array_equal(encoded.key.public_index[rows, slot], pool[idx[slot + 1]])
        np.testing.assert_array_equal(encoded.key.coefficients[rows], lam)
        signs = np.sign(encoded.encryption[rows] * recomputed_mixture(encoded)[rows])
        nonzero = signs != 0
        np.testing.assert_array_equal(signs[nonzero], mask.transpose(0, 2, 3, 1)[nonzero])


@pytest.mark.parametrize("seed", [12345, 1, 2, 3, 4, 5])
def test_first_numpy_outputs_are_row_zero_coefficients(seed: int) -> None:
    """What makes a seed checkable: the stream's first k normals are row 0's first draw."""
    z = np.random.RandomState(seed).normal(0, 1, size=6)
    lam_first = np.abs(z) / np.abs(z).sum()
    stream = np.random.RandomState(seed)
    lam = draw_coefficients(lambda shape: stream.normal(0, 1, size=shape), 4, 6, 0.65, 0.3)
    accepted = lam_first.max() <= 0.65 and lam_first[0] + lam_first[1] >= 0.3
    assert np.allclose(lam[0], lam_first) == accepted


def test_two_secure_runs_differ() -> None:
    a = tiny_encoded("instahide-cross")
    b = tiny_encoded("instahide-cross")
    assert a.key.seed is None and b.key.seed is None
    assert not np.array_equal(a.encryption, b.encryption)
    assert not np.array_equal(a.key.coefficients, b.key.coefficients)


def test_secure_rng_refuses_a_seed() -> None:
    with pytest.raises(ConfigError, match="takes no seed"):
        tiny_encoded("instahide-cross", seed=1, rng="secure")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"k": 1}, "k must be at least 2"),
        ({"upper": 0.1}, "no coefficient row can satisfy upper <= 1/k"),
        ({"upper": 1 / 6, "k": 6}, "no coefficient row can satisfy"),  # k * upper == 1: hung before
        ({"dom": 1.0}, "which a draw never gives"),
        ({"dom": 0.9, "upper": 0.4}, "never sum to dom"),
        ({"k": 1000}, "rejection sampling would not finish"),
        ({"T": 10**9}, "GiB for its arrays alone"),
        ({"pool_size": 3}, "pool_size"),
        ({"pixels": "[0,255]"}, "unknown pixels"),
        ({"private_slots": 7}, "private_slots"),
        ({"seed_bits": 40}, "seed_bits"),
    ],
)
def test_invalid_configs_are_refused_with_a_message(override: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        get_preset("challenge-2020").build({**TINY, **override})


def test_too_few_public_images_is_a_clear_error() -> None:
    from instahide_bench.core.data.base import ImageSet

    private = ImageSet(np.zeros((12, 32, 32, 3), np.uint8), np.zeros(12, int), ("a",), "test")
    public = ImageSet(np.zeros((5, 32, 32, 3), np.uint8), np.zeros(5, int), ("p",), "test")
    with pytest.raises(ConfigError, match="needs 24 public images"):
        get_preset("challenge-2020").build(TINY).encode(private, public, seed=1)


@pytest.mark.parametrize("order", ["spec-3.1", "spec-3.1+loader-seed", "authors-code", "authors-code+loader-seed"])
def test_each_draw_order_matches_an_independent_generator(order: str) -> None:
    """The encoder's draw orders against tests/attacks/prng_seed_search/made_elsewhere.py, written apart."""
    from instahide_bench.core.pixels import get_pixel_space
    from tests.attacks.prng_seed_search.made_elsewhere import make_challenge
    from tests.core.scoring_support import photo_imageset

    n, T, pool_size, seed = 12, 3, 30, 77
    private, pool = photo_imageset(n, 1), photo_imageset(pool_size, 2)
    encoder = get_preset("challenge-2020").build({"n": n, "T": T, "pool_size": pool_size, "draw_order": order})
    encoded = encoder.encode(private, pool, seed=seed)
    pixels = get_pixel_space("[-1,1]")
    encryption, labels = make_challenge(
        seed,
        pixels.from_uint8(private.images),
        private.labels,
        pixels.from_uint8(pool.images),
        T=T,
        authors_order=order.startswith("authors"),
        base_seed_draws=order.endswith("loader-seed"),
        num_classes=len(private.class_names),
    )
    np.testing.assert_array_equal(encoded.labels, labels)
    np.testing.assert_allclose(encoded.encryption, encryption, atol=1e-6)
    assert encoded.params["draw_order"] == order


def test_a_masking_encoder_shows_a_test_image_under_a_fresh_mask() -> None:
    from instahide_bench.encoders import get_preset

    masked, plain = get_preset("instahide-inside").build({}), get_preset("mixup").build({})
    assert masked.masks_signs and not plain.masks_signs
    images = np.random.default_rng(0).uniform(-2, 2, (4, 32, 32, 3)).astype(np.float32)
    rng = np.random.default_rng(1)
    first, second = masked.inference_view(images, rng), masked.inference_view(images, rng)
    np.testing.assert_array_equal(np.abs(first), np.abs(images))
    assert 0.4 < float(np.mean(np.sign(first) != np.sign(images))) < 0.6 and not np.array_equal(first, second)
    np.testing.assert_array_equal(plain.inference_view(images, rng), images)
