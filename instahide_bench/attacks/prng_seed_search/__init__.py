"""``prng-seed-search`` (docs/specification.md §6): the 32-bit seed of a ``challenge-2020`` set, then the images.

Modules, one job each. The fast seed check, from the ground up: :mod:`.mt19937` (numpy's
MT19937 stream for blocks of seeds, vectorised in numba), :mod:`.evidence` (label rows as the
check's float32 boxes; the false-positive rate), :mod:`.reference` (the check and the exact
confirmation in numpy's own ``RandomState``: the ground truth), :mod:`.cpu_check` (the check on
this machine's cores), :mod:`.torch_check` (the same check on tensors, for GPUs). Around it:
:mod:`.ranges` (seed ranges and shards), :mod:`.target` (what a seed is checked against),
:mod:`.engines` (local threads, GPU, Dask), :mod:`.search` (orchestration, early stop,
progress), :mod:`.replay` (the encoder's draws for a seed), :mod:`.solve` (least squares),
:mod:`.attack` (the registered attack).
"""

from instahide_bench.attacks.prng_seed_search.attack import PrngSeedSearchAttack, PrngSeedSearchConfig
from instahide_bench.attacks.prng_seed_search.ranges import SEED_SPACE, SeedRange, parse_seed_range
from instahide_bench.attacks.prng_seed_search.replay import Replay, mismatched_label_rows, replay_seed, version_warnings
from instahide_bench.attacks.prng_seed_search.search import SearchResult, SearchSettings, search_seeds
from instahide_bench.attacks.prng_seed_search.solve import Solution, solve_private_images
from instahide_bench.attacks.prng_seed_search.target import SeedTarget

__all__ = [
    "SEED_SPACE",
    "PrngSeedSearchAttack",
    "PrngSeedSearchConfig",
    "Replay",
    "SearchResult",
    "SearchSettings",
    "SeedRange",
    "SeedTarget",
    "Solution",
    "mismatched_label_rows",
    "parse_seed_range",
    "replay_seed",
    "search_seeds",
    "solve_private_images",
    "version_warnings",
]
