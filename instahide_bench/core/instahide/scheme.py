"""The InstaHide scheme (docs/specification.md §1, §3): its public parameters, its draws and its mixing.

One implementation, shared by the encoders that write challenges and by the attacks that
simulate or replay them.

Per epoch t = 0..T-1, with the whole private set as one batch, the draws come in the
order of the 2020 challenge (docs/specification.md §3.1), whatever the RNG kind:

1. ``order = randperm(n)``: the data loader's shuffle;
2. cross-dataset with epoch reuse: ``pool_perm = randperm(P)``, the epoch's public batch is
   the first n pool images in that order;
3. the coefficients (numpy-style first draw for the batch, then row-by-row redraws);
4. for slot i = 2..k: ``idx_i = randperm(n)``; private slots take ``batch[idx_i]``, public
   slots ``public_batch[idx_i]``;
5. ``mask = randint(2, (n, 3, 32, 32)) * 2 - 1`` (NCHW), applied and stored NHWC.

With ``public_reuse="fresh"`` every public slot of every row takes a patch no other slot
uses (the authors' suggested mitigation), drawn from one permutation of the pool.

Other known draw orders (:data:`DRAW_ORDERS`) place the same torch draws differently; the
numpy stream, and so what ``label.npy`` reveals about the seed, is the same in all of them:

* ``authors-code``: the order of the authors' training code (``generate_sample()`` in their
  ``train_cross.py``): the public set is shuffled once, before epoch 0, and every epoch mixes
  in the first n images of that order (step 2 happens once, first);
* ``+loader-seed``: each data-loader shuffle (steps 1 and 2) is preceded by the int64 base-seed
  draw that PyTorch's ``DataLoader`` iterators of 2020 (torch 1.x) made from the same generator.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np

from instahide_bench.core.challenge import ChallengeKey, EncodedChallenge
from instahide_bench.core.config import param
from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.images import IMAGE_VALUES
from instahide_bench.core.instahide.coefficients import check_coefficient_acceptance
from instahide_bench.core.instahide.rng import RNG_KINDS, EncoderRNG, fresh_seed, make_rng
from instahide_bench.core.pixels import PIXEL_SPACES, get_pixel_space
from instahide_bench.core.progress import progress
from instahide_bench.core.release2020 import RELEASE_2020
from instahide_bench.core.resources import check_fits_in_memory

logger = logging.getLogger(__name__)

_R = RELEASE_2020

#: A training epoch converts its whole private set to float32 once when that takes at most this
#: many bytes (CIFAR-10's 50,000 images take 614 MB and are converted batch by batch instead).
WHOLE_SET_BYTES = 256 << 20


@dataclass(frozen=True)
class InstaHideConfig:
    """Parameters of an InstaHide-style encoder. All of them are public (written to challenge.json).

    The defaults are the 2020 challenge's published recipe (:data:`instahide_bench.core.release2020.RELEASE_2020`).
    Nothing here is secret (Kerckhoffs' principle): the benchmark measures what an attacker
    learns from the encryptions when the scheme and its parameters are known. Each field's
    meaning is its ``param`` help text, which ``instahide-bench presets`` and
    :func:`~instahide_bench.core.config.describe_config` list; it is not repeated here.

    Raises
    ------
    ConfigError
        From :meth:`validate` (called by the encoder) when the parameters are inconsistent.

    Examples
    --------
    >>> from instahide_bench.core.config import apply_overrides
    >>> config = apply_overrides(InstaHideConfig(), {"k": "4", "mask": "false"})
    >>> config.k, config.mask, config.num_rows == config.n * config.T
    (4, False, True)
    >>> InstaHideConfig.from_public_params(config.public_params()) == config
    True
    """

    mode: Literal["cross", "inside"] = param(
        _R["mode"], "cross: public images fill the slots after the private ones; inside: every slot is private"
    )
    k: int = param(_R["k"], "images mixed into each encryption")
    private_slots: int = param(
        _R["private_slots"], "private images per encryption (cross-dataset; inside-dataset uses all k)"
    )
    upper: float = param(_R["upper"], "largest coefficient allowed; rows above are redrawn")
    dom: float | None = param(
        _R["dom"], "cross-dataset: smallest total weight of the two private images; None disables"
    )
    T: int = param(_R["T"], "encryptions per private image (epochs)")
    n: int = param(_R["n"], "private images")
    pool_size: int = param(5000, "public pool size P (cross-dataset, public_reuse=epoch)")
    public_reuse: Literal["epoch", "fresh"] = param(
        "epoch",
        "epoch: the first n of a fresh pool permutation per epoch, each used k-2 times; "
        "fresh: a new patch for every public slot",
    )
    pixels: str = param(_R["pixels"], "pixel space: " + ", ".join(PIXEL_SPACES))
    mask: bool = param(_R["mask"], "apply the random +-1 sign mask (per pixel and channel)")
    rng: Literal["legacy-seeded", "secure"] = param(
        _R["rng"], "legacy-seeded: numpy RandomState + torch Generator from one seed; secure: OS entropy"
    )
    seed_bits: int = param(_R["seed_bits"], "legacy-seeded: bits of the seed drawn when none is given")
    draw_order: Literal["spec-3.1", "spec-3.1+loader-seed", "authors-code", "authors-code+loader-seed"] = param(
        "spec-3.1",
        "where the torch draws fall: docs/specification.md §3.1's order, or the authors' training code's "
        "(public set shuffled once, first); +loader-seed adds torch 1.x DataLoader base-seed draws",
    )

    @property
    def slots_private(self) -> int:
        """Private images per encryption: all k inside a dataset, ``private_slots`` across datasets."""
        return self.k if self.mode == "inside" else self.private_slots

    @property
    def effective_dom(self) -> float | None:
        """``dom`` where it applies (cross-dataset), else None."""
        return self.dom if self.mode == "cross" else None

    @property
    def num_rows(self) -> int:
        """Encryptions in the challenge, E = n * T."""
        return self.n * self.T

    def validate(self) -> None:
        """Check that the parameters can be satisfied together.

        Raises
        ------
        ConfigError
            Naming the first offending parameter and its allowed range.
        """
        if self.mode not in ("cross", "inside"):
            raise ConfigError(f"mode must be cross or inside, got {self.mode!r}")
        if self.k < 2:
            raise ConfigError(f"k must be at least 2, got {self.k}")
        if self.mode == "cross" and not 2 <= self.private_slots <= self.k:
            raise ConfigError(f"private_slots must lie in [2, k={self.k}], got {self.private_slots}")
        if not 0 < self.upper <= 1 or not self.k * self.upper > 1:
            raise ConfigError(
                f"upper={self.upper:.4g} with k={self.k}: coefficients sum to 1, so their largest is at "
                f"least 1/k = {1 / self.k:.4g}; no coefficient row can satisfy upper <= 1/k "
                "(need 1/k < upper <= 1)"
            )
        if self.effective_dom is not None:
            self._check_dom(self.effective_dom)
        if self.n < 2 or self.T < 1:
            raise ConfigError(f"need n >= 2 and T >= 1, got n={self.n}, T={self.T}")
        check_coefficient_acceptance(self.k, self.upper, self.effective_dom)
        # The encryptions (float32) and, cross-dataset, the public pool in the pixel space.
        check_fits_in_memory(f"T={self.T} with n={self.n}", 4.0 * self.num_rows * IMAGE_VALUES)
        if self.mode == "cross" and self.public_reuse == "epoch":
            check_fits_in_memory(f"pool_size={self.pool_size}", 5.0 * self.pool_size * IMAGE_VALUES)
        if (
            self.mode == "cross"
            and self.public_reuse == "epoch"
            and self.slots_private < self.k
            and self.pool_size < self.n
        ):
            raise ConfigError(
                f"pool_size={self.pool_size} must be at least n={self.n} (each epoch takes n pool images)"
            )
        if self.pixels not in PIXEL_SPACES:
            raise ConfigError(f"unknown pixels {self.pixels!r}; known: {', '.join(PIXEL_SPACES)}")
        if self.rng not in RNG_KINDS:
            raise ConfigError(f"unknown rng {self.rng!r}; known: {', '.join(RNG_KINDS)}")
        if not 1 <= self.seed_bits <= 32:
            raise ConfigError(f"seed_bits must lie in [1, 32], got {self.seed_bits}")
        draw_order_named(self.draw_order)

    def _check_dom(self, dom: float) -> None:
        """``dom`` bounds the two private coefficients' sum, which is at most 1 and at most 2 * upper."""
        if not 0 <= dom <= 1:
            raise ConfigError(f"dom must lie in [0, 1], got {dom}")
        if dom > 2 * self.upper:
            raise ConfigError(
                f"dom={dom:.4g} > 2 * upper = {2 * self.upper:.4g}: two coefficients of at most upper each "
                "never sum to dom"
            )
        if dom >= 1 and self.k > 2:
            raise ConfigError(
                f"dom={dom:.4g} with k={self.k}: the two private coefficients reach 1 only when the other "
                f"{self.k - 2} are exactly 0, which a draw never gives (need dom < 1)"
            )

    @classmethod
    def from_public_params(cls, params: dict[str, Any]) -> InstaHideConfig:
        """Rebuild the config from challenge.json's ``params`` (derived entries are ignored)."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in params.items() if k in names and v is not None}
        return cls(**values)

    def public_params(self) -> dict[str, Any]:
        """What challenge.json publishes: every parameter, plus derived sizes."""
        params = asdict(self)
        params["private_slots"] = self.slots_private
        params["dom"] = self.effective_dom
        params["num_rows"] = self.num_rows
        params["pool_size"] = self.pool_size if self.public_reuse == "epoch" else None
        if self.mode == "inside":
            params["public_reuse"] = None
        return params


@dataclass(frozen=True)
class EpochPlan:
    """Every random choice of one epoch: who is mixed with whom, with which weights and signs.

    Rows of the epoch are the n batch positions. ``private`` holds private-set indices per
    private slot (column 0 is the image the row encrypts), ``public`` pool indices per public
    slot, ``coefficients`` all k weights, ``mask`` the NHWC +-1 mask (None when off).
    """

    private: np.ndarray
    public: np.ndarray
    coefficients: np.ndarray
    mask: np.ndarray | None


@dataclass(frozen=True)
class DrawOrder:
    """Where the torch draws of an encoding fall (the numpy coefficient stream is the same in all).

    Attributes
    ----------
    name : str
        The order's name (``spec-3.1``, ``authors-code``, with ``+loader-seed`` variants).
    public_first : bool
        The public pool is shuffled once, before epoch 0, and every epoch takes its first n
        images (the authors' training code), instead of a new shuffle each epoch (docs/specification.md §3.1).
    loader_seed_draws : bool
        Every data-loader shuffle is preceded by an int64 base-seed draw from the same
        generator, as PyTorch's ``DataLoader`` iterators of 2020 made.
    """

    name: str
    public_first: bool = False
    loader_seed_draws: bool = False


#: The draw orders a legacy-seeded challenge may have been made in; the encoder uses the first.
DRAW_ORDERS: tuple[DrawOrder, ...] = (
    DrawOrder("spec-3.1"),
    DrawOrder("spec-3.1+loader-seed", loader_seed_draws=True),
    DrawOrder("authors-code", public_first=True),
    DrawOrder("authors-code+loader-seed", public_first=True, loader_seed_draws=True),
)


def draw_order_named(name: str) -> DrawOrder:
    """The known draw order called ``name`` (:data:`DRAW_ORDERS`)."""
    for order in DRAW_ORDERS:
        if order.name == name:
            return order
    raise ConfigError(f"unknown draw order {name!r}; known: {', '.join(o.name for o in DRAW_ORDERS)}")


def plan_epochs(cfg: InstaHideConfig, rng: EncoderRNG, order: DrawOrder | None = None) -> Iterator[EpochPlan]:
    """The epochs' random choices, drawn in ``order`` (default: the config's ``draw_order``).

    Shared by the encoder and by anyone who replays a seeded challenge (the PRNG attack):
    the draw order lives here and nowhere else.
    """
    if order is None:
        order = draw_order_named(cfg.draw_order)
    n, k, m = cfg.n, cfg.k, cfg.slots_private
    public_slots = k - m
    reused_pool = bool(public_slots) and cfg.public_reuse == "epoch"
    fresh_order = None
    if public_slots and cfg.public_reuse == "fresh":
        fresh_order = rng.randperm(cfg.num_rows * public_slots)

    def public_shuffle() -> np.ndarray:
        if order.loader_seed_draws:
            rng.loader_seed()
        return rng.randperm(cfg.pool_size)[:n]

    if reused_pool and order.public_first:
        public_batch = public_shuffle()
    for t in range(cfg.T):
        if order.loader_seed_draws:
            rng.loader_seed()
        shuffle = rng.randperm(n)
        if reused_pool and not order.public_first:
            public_batch = public_shuffle()
        coefficients = rng.coefficients(n, k, cfg.upper, cfg.effective_dom)
        private_cols, public_cols = [shuffle], []
        for slot in range(1, k):
            idx = rng.randperm(n)
            if slot < m:
                private_cols.append(shuffle[idx])
            elif fresh_order is None:
                public_cols.append(public_batch[idx])
            else:
                first = (t * public_slots + slot - m) * n
                public_cols.append(fresh_order[first : first + n][idx])
        mask = rng.sign_mask((n, 3, 32, 32)).transpose(0, 2, 3, 1) if cfg.mask else None
        public = np.stack(public_cols, axis=1) if public_cols else np.empty((n, 0), dtype=np.int64)
        yield EpochPlan(np.stack(private_cols, axis=1), public, coefficients, mask)


def mix(plan: EpochPlan, images: np.ndarray, pool: np.ndarray | None) -> np.ndarray:
    """The encryptions of one epoch: the float32 weighted sum over slots, times the mask."""
    lam32 = plan.coefficients.astype(np.float32)
    m = plan.private.shape[1]
    mixture: np.ndarray = lam32[:, 0, None, None, None] * images[plan.private[:, 0]]
    for slot in range(1, lam32.shape[1]):
        source = images[plan.private[:, slot]] if slot < m else pool[plan.public[:, slot - m]]  # type: ignore[index]
        mixture += lam32[:, slot, None, None, None] * source
    if plan.mask is not None:
        mixture *= plan.mask
    return mixture


def mixed_labels(plan: EpochPlan, private_labels: np.ndarray, num_classes: int) -> np.ndarray:
    """The released label rows: sum over private slots of float32(lambda_i) * onehot(y_i)."""
    lam32 = plan.coefficients.astype(np.float32)
    labels = np.zeros((plan.private.shape[0], num_classes), dtype=np.float32)
    rows = np.arange(plan.private.shape[0])
    for slot in range(plan.private.shape[1]):
        labels[rows, private_labels[plan.private[:, slot]]] += lam32[:, slot]
    return labels


def required_public(cfg: InstaHideConfig) -> int:
    """How many public images an encoding with ``cfg`` takes from the public source (0 inside-dataset)."""
    public_slots = cfg.k - cfg.slots_private
    if public_slots == 0:
        return 0
    return cfg.pool_size if cfg.public_reuse == "epoch" else cfg.num_rows * public_slots


def training_config(cfg: InstaHideConfig, n: int) -> InstaHideConfig:
    """The config of ONE training epoch over ``n`` private images: T=1, and a pool of at least n.

    Training re-encodes the whole private set every epoch with fresh keys (the authors'
    ``train_inside.py`` / ``train_cross.py``), so an epoch is an encoding with T = 1; with
    ``public_reuse=epoch`` each epoch takes n images of the pool, which must hold that many.
    """
    pool = max(cfg.pool_size, n) if cfg.public_reuse == "epoch" else cfg.pool_size
    epoch_cfg = dataclasses.replace(cfg, n=n, T=1, pool_size=pool)
    epoch_cfg.validate()
    return epoch_cfg


def _rows(plan: EpochPlan, rows: slice) -> EpochPlan:
    mask = None if plan.mask is None else plan.mask[rows]
    return EpochPlan(plan.private[rows], plan.public[rows], plan.coefficients[rows], mask)


def _check_public(cfg: InstaHideConfig, public: ImageSet | None, what: str) -> int:
    """How many public images ``cfg`` needs; a ConfigError naming ``what`` when ``public`` has fewer."""
    needed = required_public(cfg)
    if needed and (public is None or len(public) < needed):
        have = 0 if public is None else len(public)
        raise ConfigError(f"{what} needs {needed} public images, the public source gave {have}")
    return needed


def encode_epoch_batches(
    cfg: InstaHideConfig,
    private: ImageSet,
    public: ImageSet | None,
    *,
    seed: int | None,
    batch_size: int,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One training epoch: every private image encrypted once (slot 0), streamed in batches of rows.

    The rows come in the plan's shuffled order; each batch is mixed by :func:`mix` and labelled
    by :func:`mixed_labels` (cross-dataset: the private slots' weights only, not renormalised),
    converting the set to the pixel space once when it takes at most ``WHOLE_SET_BYTES`` as
    float32, and otherwise only the images each batch uses, so memory stays bounded whatever the
    set's size. ``private`` may be an augmented copy (augmentation comes before
    mixing). ``seed`` seeds a legacy-seeded RNG (one is drawn when None); a secure RNG ignores it.

    Yields
    ------
    (encodings, soft labels, primary)
        float32 B x 32 x 32 x 3, float32 B x C, and int64 B positions in ``private`` of each
        row's slot-0 image.
    """
    cfg = training_config(cfg, len(private))
    _check_public(cfg, public, f"a training epoch of {cfg.n} rows")
    if cfg.rng == "legacy-seeded" and seed is None:
        seed = fresh_seed(cfg.seed_bits)
    rng = make_rng(cfg.rng, seed if cfg.rng == "legacy-seeded" else None)
    plan = next(plan_epochs(cfg, rng))
    space = get_pixel_space(cfg.pixels)
    num_classes = len(private.class_names)
    # Each image appears in about k rows: converting the whole set once is k times less work
    # than converting each batch's images, where the converted set fits the memory bound.
    whole = space.from_uint8(private.images) if private.images.size * 4 <= WHOLE_SET_BYTES else None
    for start in range(0, cfg.n, batch_size):
        part = _rows(plan, slice(start, start + batch_size))
        if whole is not None:
            images, local = whole, part.private
        else:
            used, flat = np.unique(part.private, return_inverse=True)
            local = flat.reshape(part.private.shape)
            images = space.from_uint8(private.images[used])
        pool, public_local = None, part.public
        if part.public.size and public is not None:
            public_used, public_inverse = np.unique(part.public, return_inverse=True)
            pool = space.from_uint8(public.images[public_used])
            public_local = public_inverse.reshape(part.public.shape)
        local_plan = EpochPlan(local, public_local, part.coefficients, part.mask)
        yield mix(local_plan, images, pool), mixed_labels(part, private.labels, num_classes), part.private[:, 0]


def encode(
    cfg: InstaHideConfig,
    private: ImageSet,
    public: ImageSet | None,
    *,
    seed: int | None,
    encoder: str,
    encoder_version: str,
) -> EncodedChallenge:
    """Encrypt the ``n`` private images ``T`` times each; see the module docstring for the draw order.

    ``encoder`` and ``encoder_version`` name the plugin that asked, for the challenge's metadata.
    """
    n = cfg.n
    if len(private) != n:
        raise ConfigError(f"the encoder is configured for n={n} private images but got {len(private)}")
    needed_public = _check_public(cfg, public, "this configuration")
    if cfg.rng == "legacy-seeded" and seed is None:
        seed = fresh_seed(cfg.seed_bits)
    if cfg.rng == "secure" and seed is not None:
        raise ConfigError("a secure encoder takes no seed (its randomness comes from the OS); use rng=legacy-seeded")
    space = get_pixel_space(cfg.pixels)
    images = space.from_uint8(private.images)
    pool = space.from_uint8(public.images[:needed_public]) if needed_public and public is not None else None

    plans = plan_epochs(cfg, make_rng(cfg.rng, seed))
    epochs = [
        (mix(plan, images, pool), mixed_labels(plan, private.labels, len(private.class_names)), plan)
        for plan in progress(plans, desc=f"encoding ({cfg.mode}, k={cfg.k})", total=cfg.T, unit="epoch")
    ]
    key = ChallengeKey(
        private=images,
        private_labels=private.labels,
        private_index=np.concatenate([plan.private for _, _, plan in epochs]),
        coefficients=np.concatenate([plan.coefficients for _, _, plan in epochs]),
        public_index=np.concatenate([plan.public for _, _, plan in epochs])
        if needed_public
        else np.full((cfg.num_rows, 0), -1, dtype=np.int64),
        epoch=np.repeat(np.arange(cfg.T, dtype=np.int64), n),
        seed=seed,
        public=pool,
        provenance={
            "private_ids": private.ids.tolist(),
            "public_ids": public.ids[:needed_public].tolist() if pool is not None and public is not None else [],
        },
    )
    logger.info("encoded %d rows (n=%d, T=%d, k=%d, %s, rng=%s)", cfg.num_rows, n, cfg.T, cfg.k, cfg.mode, cfg.rng)
    return EncodedChallenge(
        encryption=np.concatenate([enc for enc, _, _ in epochs]),
        labels=np.concatenate([lab for _, lab, _ in epochs]),
        class_names=list(private.class_names),
        encoder=encoder,
        encoder_version=encoder_version,
        params=cfg.public_params(),
        pixels=space,
        key=key,
    )


__all__ = [
    "DRAW_ORDERS",
    "DrawOrder",
    "EpochPlan",
    "InstaHideConfig",
    "draw_order_named",
    "encode",
    "encode_epoch_batches",
    "mix",
    "mixed_labels",
    "plan_epochs",
    "required_public",
    "training_config",
]
