"""Where the leaderboard lives on disk (kept import-light: the CLI reads it when building its parser)."""

from __future__ import annotations

from pathlib import Path

DEFAULT_ROOT = Path("leaderboard")
ENTRIES_DIR = "entries"
