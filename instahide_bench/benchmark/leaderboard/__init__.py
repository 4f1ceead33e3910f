"""The leaderboard: entries (one JSON file each), their grids, and rendered views.

Public API: :class:`LeaderboardEntry` (+ :class:`AttackInfo`, :class:`ChallengeInfo`,
:func:`measured_entry`), :func:`record_entry`, :func:`load_entries`, :class:`GridSource`,
:func:`render_leaderboard`. Names are imported on first use, so that importing
``leaderboard.layout`` (as the CLI does for its defaults) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AttackInfo": ".entry",
    "ChallengeInfo": ".entry",
    "LeaderboardEntry": ".entry",
    "measured_entry": ".entry",
    "GridSource": ".grid",
    "write_grid_png": ".grid",
    "render_leaderboard": ".render",
    "StoredEntry": ".store",
    "load_entries": ".store",
    "record_entry": ".store",
    "DEFAULT_ROOT": ".layout",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)


__all__ = list(_EXPORTS)
