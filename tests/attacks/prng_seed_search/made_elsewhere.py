"""Challenges made the way other code would make them, written here from their descriptions only.

The prng-seed-search attack replays a confirmed seed in several known draw orders (see
``instahide_bench.core.instahide.DRAW_ORDERS``). To test that it recognises each one, the
challenges must not come from the planner it replays with: this module re-implements the
generators independently, in the style of a training script (one numpy ``RandomState`` and one
torch ``Generator`` seeded alike, a loader that shuffles, a mixing function):

* docs/specification.md §3.1: every epoch the private loader shuffles, then the public loader shuffles and the
  epoch mixes in its first n images;
* the authors' training code (``generate_sample()`` in their ``train_cross.py``, as the issue
  describes it): the public loader is read once, before training, and every epoch indexes
  its first n images; only the private loader shuffles each epoch;
* either of them with PyTorch 1.x's ``DataLoader``, whose iterator draws an int64 base seed
  from the same generator before the sampler's ``randperm``.

The coefficients are the authors' rule (normal draws, |z| / sum |z|, rows redrawn while their
largest weight exceeds ``upper`` or their two private weights sum below ``dom``).
"""

from __future__ import annotations

import numpy as np
import torch


def _loader_shuffle(size: int, generator: torch.Generator, base_seed_draw: bool) -> torch.Tensor:
    if base_seed_draw:  # DataLoader iterator of torch 1.x: the base seed comes first
        torch.empty((), dtype=torch.int64).random_(generator=generator)
    return torch.randperm(size, generator=generator)


def _coefficients(state: np.random.RandomState, rows: int, k: int, upper: float, dom: float) -> np.ndarray:
    lams = state.normal(0, 1, size=(rows, k))
    for i in range(rows):
        lams[i] = np.abs(lams[i]) / np.sum(np.abs(lams[i]))
        while lams[i].max() > upper or (lams[i][0] + lams[i][1]) < dom:
            lams[i] = state.normal(0, 1, size=(1, k))
            lams[i] = np.abs(lams[i]) / np.sum(np.abs(lams[i]))
    return lams


def make_challenge(
    seed: int,
    private: np.ndarray,
    private_labels: np.ndarray,
    pool: np.ndarray,
    *,
    T: int,
    authors_order: bool,
    base_seed_draws: bool,
    k: int = 6,
    upper: float = 0.65,
    dom: float = 0.3,
    num_classes: int = 10,
) -> tuple[np.ndarray, np.ndarray]:
    """Encryptions (E x 32 x 32 x 3, NHWC float32) and labels (E x C float32), epoch after epoch.

    ``private`` (n images) and ``pool`` (P public images) are float32 NHWC in the challenge's
    pixel space; two private and k - 2 public slots per row.
    """
    n, pool_size = len(private), len(pool)
    state = np.random.RandomState(seed)
    generator = torch.Generator().manual_seed(seed)
    x_all = torch.from_numpy(np.ascontiguousarray(private.transpose(0, 3, 1, 2)))  # NCHW, as torch code holds it
    y_all = torch.from_numpy(private_labels.astype(np.int64))
    help_all = torch.from_numpy(np.ascontiguousarray(pool.transpose(0, 3, 1, 2)))
    if authors_order:
        x_help = help_all[_loader_shuffle(pool_size, generator, base_seed_draws)]
    encryptions, labels = [], []
    for _ in range(T):
        order = _loader_shuffle(n, generator, base_seed_draws)
        x, y = x_all[order], y_all[order]
        if not authors_order:
            x_help = help_all[_loader_shuffle(pool_size, generator, base_seed_draws)]
        lams = torch.from_numpy(_coefficients(state, n, k, upper, dom)).float()
        mixed = lams[:, 0].reshape(-1, 1, 1, 1) * x
        ys = [y]
        for i in range(1, k):
            index = torch.randperm(n, generator=generator)
            source = x if i < 2 else x_help
            mixed = mixed + lams[:, i].reshape(-1, 1, 1, 1) * source[index]
            ys.append(y[index])
        sign = torch.randint(2, size=list(x.shape), generator=generator) * 2.0 - 1
        mixed = mixed * sign
        onehot = [torch.nn.functional.one_hot(label, num_classes).float() for label in ys[:2]]
        labels.append((lams[:, 0:1] * onehot[0] + lams[:, 1:2] * onehot[1]).numpy())
        encryptions.append(mixed.permute(0, 2, 3, 1).numpy())
    return np.concatenate(encryptions).astype(np.float32), np.concatenate(labels).astype(np.float32)


def made_elsewhere(
    seed: int, *, authors_order: bool, base_seed_draws: bool, n: int = 20, T: int = 10, pool_size: int = 100
):
    """A small challenge of this module's making, as (public view with published parameters, private images)."""
    from instahide_bench.core.challenge import ChallengeMeta, PublicChallenge
    from instahide_bench.core.pixels import get_pixel_space
    from tests.core.scoring_support import photo_imageset

    pixels = get_pixel_space("[-1,1]")
    private_set, pool_set = photo_imageset(n, seed % 1000), photo_imageset(pool_size, seed % 1000 + 1)
    classes = len(private_set.class_names)
    private = pixels.from_uint8(private_set.images)
    encryption, labels = make_challenge(
        seed,
        private,
        private_set.labels,
        pixels.from_uint8(pool_set.images),
        T=T,
        authors_order=authors_order,
        base_seed_draws=base_seed_draws,
        num_classes=classes,
    )
    params = {
        "mode": "cross",
        "k": 6,
        "private_slots": 2,
        "upper": 0.65,
        "dom": 0.3,
        "T": T,
        "n": n,
        "pool_size": pool_size,
        "pixels": "[-1,1]",
        "mask": True,
    }
    meta = ChallengeMeta(
        challenge_id="made-elsewhere",
        encoder="made elsewhere",
        encoder_version="",
        preset=None,
        params=params,
        class_names=list(private_set.class_names),
        num_rows=len(encryption),
        pixels=pixels,
        versions={},
        created="",
    )
    return PublicChallenge(meta, encryption, labels), private
