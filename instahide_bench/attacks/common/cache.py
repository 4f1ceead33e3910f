"""Stage outputs on disk, so that ``--resume`` restarts after the last finished stage.

Each stage writes ``<workdir>/cache/<stage>/output.npz`` and a ``fingerprint.json`` naming the
challenge and every setting the stage's output depends on. A resumed run reuses an output only
when its fingerprint matches; anything else is recomputed (and overwritten).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from instahide_bench.core.attack import AttackContext
from instahide_bench.core.errors import InputFileError
from instahide_bench.core.io import load_npz, read_json, save_npz_atomic, write_json_atomic

logger = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]


def fingerprint(**parts: Any) -> str:
    """A stable hash of JSON-able parts (challenge id, settings, upstream fingerprints)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def lookup(context: AttackContext, stage: str, key: str) -> Arrays | None:
    """The stage's cached arrays when resuming and its fingerprint matches ``key``; else None."""
    directory = context.cache_dir(stage)
    if directory is None or not context.resume:
        return None
    try:
        stored = read_json(directory / "fingerprint.json")
        if isinstance(stored, dict) and stored.get("key") == key:
            logger.info("stage %s: reusing cached output", stage)
            return load_npz(directory / "output.npz")
    except (InputFileError, OSError):  # a missing or damaged entry only means "compute it again"
        pass
    return None


def store(context: AttackContext, stage: str, key: str, arrays: Arrays) -> None:
    """Cache the stage's arrays under ``key`` (nothing without a work directory)."""
    directory = context.cache_dir(stage)
    if directory is None:
        return
    # no fingerprint while the output changes: a run killed between the two writes leaves no key vouching for it
    (directory / "fingerprint.json").unlink(missing_ok=True)
    save_npz_atomic(directory / "output.npz", arrays, compress=False)
    write_json_atomic(directory / "fingerprint.json", {"key": key})


def cached(context: AttackContext, stage: str, key: str, compute: Callable[[], Arrays]) -> Arrays:
    """The stage's arrays: from the cache when resuming with a matching key, else computed (and stored)."""
    arrays = lookup(context, stage, key)
    if arrays is None:
        arrays = compute()
        store(context, stage, key, arrays)
    return arrays


__all__ = ["cached", "fingerprint", "lookup", "store"]
