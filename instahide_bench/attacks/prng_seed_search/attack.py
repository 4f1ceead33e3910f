"""``prng-seed-search``: find the challenge's 32-bit seed, replay its randomness, solve for the images.

docs/specification.md §3.1: one 32-bit seed feeds numpy's legacy ``RandomState`` (coefficients) and torch's
``Generator`` (permutations, masks), and ``label.npy`` publishes the first coefficients, so a
seed can be checked against the public files alone.

1. search (:mod:`.search`): the fast check (:mod:`.cpu_check`, :mod:`.torch_check`) over the
   seed range, shards on this machine's cores, a GPU or Dask workers; each candidate is
   confirmed exactly (:mod:`.reference`);
2. replay (:mod:`.replay`): every row's images, coefficients and masks, in each known draw
   order until the replayed labels equal ``label.npy`` bit for bit (the order is recorded);
3. solve (:mod:`.solve`): undo the masks, least squares for the private images.

Without a confirmed seed, or with a replay that does not fit the public files (other library
versions), the attack says so (``succeeded=False``) and returns the ``abs-rescale`` baseline.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from instahide_bench.attacks.common.rescale import abs_rescaled
from instahide_bench.attacks.prng_seed_search.ranges import FULL_RANGE_TEXT, parse_seed_range
from instahide_bench.attacks.prng_seed_search.replay import replay_in_matching_order, version_warnings
from instahide_bench.attacks.prng_seed_search.search import (
    DEFAULT_GPU_BLOCK,
    DEFAULT_SHARD_SIZE,
    SearchResult,
    SearchSettings,
    search_seeds,
)
from instahide_bench.attacks.prng_seed_search.solve import DEFAULT_RIDGE, solve_private_images
from instahide_bench.attacks.prng_seed_search.target import SeedTarget
from instahide_bench.core.attack import ATTACKS, Attack, AttackContext, AttackResult
from instahide_bench.core.challenge import PublicChallenge
from instahide_bench.core.config import Endpoint, param
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.io import read_json, write_json_atomic

#: With every image an unknown the model is exact (residual ~1e-8); a relative residual above
#: this means the replayed masks do not fit the encryptions (e.g. torch drew other streams).
RESIDUAL_LIMIT = 1e-3


@dataclass(frozen=True)
class PrngSeedSearchConfig:
    """Parameters of ``prng-seed-search``."""

    seed_range: str = param(FULL_RANGE_TEXT, "seeds to search, A:B (half-open; either side may be empty)")
    engine: Literal["dask", "local"] = param(
        "dask", "dask: shards as Dask tasks; local: this process's threads (a CUDA device uses the GPU under either)"
    )
    scheduler: Endpoint | None = param(
        None, "Dask scheduler tcp://HOST:PORT (the runner opens the network to it); None starts a LocalCluster"
    )
    workers: int | None = param(None, "LocalCluster worker processes / local threads; None = all CPU cores")
    shard_size: int = param(DEFAULT_SHARD_SIZE, "seeds per shard (one Dask task or one local step)")
    gpu_block: int = param(DEFAULT_GPU_BLOCK, "seeds per torch batch on a GPU")
    check_rows: int = param(
        2, "accepted first-draw label rows the fast check compares (2: ~1e-19 false candidates per seed)"
    )
    ridge: float = param(DEFAULT_RIDGE, "least-squares ridge, relative to the normal matrix's mean diagonal")

    def validate(self) -> None:
        self.search_settings()
        if self.check_rows < 1:
            raise ConfigError(f"check_rows must be at least 1, got {self.check_rows}")
        if self.ridge < 0:
            raise ConfigError(f"ridge must be non-negative, got {self.ridge}")

    def search_settings(self, device: str = "cpu") -> SearchSettings:
        return SearchSettings(
            parse_seed_range(self.seed_range),
            self.engine,
            self.scheduler,
            self.workers,
            self.shard_size,
            device,
            self.gpu_block,
        )


@ATTACKS.register("prng-seed-search")
class PrngSeedSearchAttack(Attack):
    """Recover the 32-bit seed from label.npy, replay the encoder, solve least squares."""

    name = "prng-seed-search"
    version = "1.0"
    Config = PrngSeedSearchConfig
    config: PrngSeedSearchConfig
    complexity = (
        "O(S) seed checks (S <= 2^32) + O(E·k) replay + O(N^3 + n·E·3072) least squares, N = n + repeated publics"
    )
    summary = (
        "docs/specification.md §6 PRNG attack: find the 32-bit seed from label.npy, replay masks and mixing, "
        "solve least squares"
    )

    def run(self, challenge: PublicChallenge, context: AttackContext) -> AttackResult:
        try:
            target = SeedTarget.from_challenge(challenge, self.config.check_rows)
        except ConfigError as exc:
            return self._fallback(challenge, f"no seed search: {exc}", {})
        notes = version_warnings(challenge.meta.versions)
        for note in notes:
            context.logger.warning("%s", note)
        search = self._search(challenge, target, context)
        info: dict[str, Any] = {
            **search.to_json(),
            "version_warnings": notes,
            "false_positive_rate": target.false_positive_rate(),
        }
        rng_kind = challenge.meta.params.get("rng")
        if search.seed is None:
            claimed = f" (challenge.json says rng={rng_kind})" if rng_kind not in (None, "legacy-seeded") else ""
            return self._fallback(challenge, f"no seed in {search.seed_range} reproduces label.npy{claimed}", info)

        return self._decrypt(challenge, target, search.seed, info, context)

    def _decrypt(
        self, challenge: PublicChallenge, target: SeedTarget, seed: int, info: dict[str, Any], context: AttackContext
    ) -> AttackResult:
        """Replay the confirmed seed, check the replay against label.npy, solve for the images."""
        replay, mismatches = replay_in_matching_order(seed, target.config, challenge.labels)
        info["label_mismatches_by_draw_order"] = mismatches
        if replay is None:
            info["mismatched_label_rows"] = min(mismatches.values())
            tried = ", ".join(f"{name}: {count}" for name, count in mismatches.items())
            return self._fallback(
                challenge,
                f"seed {seed} was confirmed but no known draw order replays label.npy "
                f"(rows that differ: {tried}; another generator or library versions?)",
                info,
            )
        info["draw_order"] = replay.order
        solution = solve_private_images(challenge.encryption, replay, target.config.n, ridge=self.config.ridge)
        info.update(
            solve_seconds=solution.seconds,
            relative_residual=solution.relative_residual,
            unknowns=solution.num_unknowns,
            repeated_publics=solution.repeated_publics,
            single_public_uses=solution.single_public_uses,
        )
        if solution.single_public_uses == 0 and solution.relative_residual > RESIDUAL_LIMIT:
            return self._fallback(
                challenge,
                f"seed {seed} was confirmed but the replayed masks do not fit the "
                f"encryptions (relative residual {solution.relative_residual:.2g}; library "
                "versions?)",
                info,
            )
        message = (
            f"seed {seed} found in {info['search_seconds']:.1f} s, draw order {replay.order}; "
            f"images solved in {solution.seconds:.1f} s"
        )
        if info["version_warnings"]:
            message += f"; {len(info['version_warnings'])} version warning(s)"
        recovered = challenge.pixels.clip(solution.images)
        assignment = replay.private[:, :2].astype(np.int64)
        return AttackResult(recovered[assignment[:, 0]], recovered, assignment, True, message, info)

    def _search(self, challenge: PublicChallenge, target: SeedTarget, context: AttackContext) -> SearchResult:
        """The seed search, or its cached answer when resuming on the same labels and range."""
        settings = self.config.search_settings(str(context.device))
        cache = context.cache_dir("seed-search")
        cache_file = None if cache is None else cache / "search.json"
        fingerprint = {
            "labels": hashlib.sha256(challenge.labels.tobytes()).hexdigest(),
            "seed_range": self.config.seed_range,
        }
        if context.resume and cache_file is not None and cache_file.exists():
            cached = read_json(cache_file)
            if cached.get("fingerprint") == fingerprint:
                context.logger.info("resuming: seed search result from %s", cache_file)
                return SearchResult.from_json(cached["result"])
        clock = time.perf_counter()
        result = search_seeds(target, settings, bar=context.bar)
        context.logger.info("seed search took %.1f s in all", time.perf_counter() - clock)
        if cache_file is not None:
            write_json_atomic(cache_file, {"fingerprint": fingerprint, "result": result.to_json()})
        return result

    @staticmethod
    def _fallback(challenge: PublicChallenge, message: str, info: dict[str, Any]) -> AttackResult:
        return AttackResult(
            abs_rescaled(challenge.encryption, challenge.pixels), succeeded=False, message=message, info=info
        )


__all__ = ["PrngSeedSearchAttack", "PrngSeedSearchConfig"]
