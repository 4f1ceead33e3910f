"""The leaderboard on disk: one JSON file per entry, grouped by challenge.

::

    ROOT/
      entries/<challenge-id>/<date>-<name>-<random>.json   one entry
      entries/<challenge-id>/<same stem>.png                 its grid (optional)
      README.md, leaderboard.csv, index.html                 rendered views (see render.py)

Every file is written atomically (temp file + rename) under a name no other writer picks,
so concurrent recorders never lose or corrupt an entry; the PNG is written before the JSON
that refers to it, so a reader never sees an entry whose picture is missing.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from instahide_bench.benchmark.leaderboard.entry import LeaderboardEntry
from instahide_bench.benchmark.leaderboard.grid import GridSource, write_grid_png
from instahide_bench.benchmark.leaderboard.layout import DEFAULT_ROOT, ENTRIES_DIR
from instahide_bench.core.errors import InputFileError
from instahide_bench.core.io import read_json, write_json_atomic

logger = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class StoredEntry:
    """An entry and the file it was read from."""

    entry: LeaderboardEntry
    path: Path

    @property
    def grid_path(self) -> Path | None:
        return self.path.parent / self.entry.grid if self.entry.grid else None


def slug(text: str, *, max_length: int = 48) -> str:
    """A file-name-safe version of ``text`` (letters, digits, ``.-_``), never empty."""
    cleaned = _UNSAFE.sub("-", text).strip("-.")[:max_length].rstrip("-.")
    return cleaned or "entry"


def challenge_dir(root: str | os.PathLike[str], challenge_id: str) -> Path:
    return Path(root) / ENTRIES_DIR / slug(challenge_id, max_length=120)


def _unique_stem(entry: LeaderboardEntry) -> str:
    date = re.sub(r"[^0-9]", "", entry.date or "")[:14] or "undated"
    return f"{date}-{slug(entry.name)}-{uuid.uuid4().hex[:12]}"


def record_entry(
    entry: LeaderboardEntry,
    root: str | os.PathLike[str] = DEFAULT_ROOT,
    *,
    grid: GridSource | None = None,
    stem: str | None = None,
) -> Path:
    """Write ``entry`` (and, given ``grid``, its PNG) under ``root``; return the JSON file's path.

    File names are unique (date, name, random suffix) unless ``stem`` is given, which replaces
    an entry of that name: meant for curated files such as the reference rows.
    """
    directory = challenge_dir(root, entry.challenge.challenge_id)
    directory.mkdir(parents=True, exist_ok=True)
    stem = slug(stem, max_length=120) if stem else _unique_stem(entry)
    if grid is not None:
        png = write_grid_png(directory / f"{stem}.png", grid)
        entry = replace(entry, grid=png.name)
    path = directory / f"{stem}.json"
    write_json_atomic(path, entry.to_json())
    logger.info("recorded leaderboard entry %r in %s", entry.name, path)
    return path


def load_entry(path: str | os.PathLike[str]) -> StoredEntry:
    path = Path(path)
    return StoredEntry(LeaderboardEntry.from_json(read_json(path), path), path)


def load_entries(root: str | os.PathLike[str] = DEFAULT_ROOT, *, skip_invalid: bool = False) -> list[StoredEntry]:
    """Every entry under ``root`` in a fixed order (by path); temporary files are skipped.

    A corrupt or hand-edited entry raises :class:`InputFileError` naming its file, or, with
    ``skip_invalid``, is logged as an error and left out: one bad file must not take the
    whole leaderboard down.
    """
    entries_root = Path(root) / ENTRIES_DIR
    if not Path(root).is_dir():
        raise InputFileError(root, "leaderboard directory not found")
    if not entries_root.is_dir():
        return []
    paths = sorted(p for p in entries_root.glob("*/*.json") if not p.name.startswith("."))
    entries = []
    for path in paths:
        try:
            entries.append(load_entry(path))
        except InputFileError as exc:
            if not skip_invalid:
                raise
            logger.error("skipping leaderboard entry %s", exc)
    return entries


__all__ = [
    "DEFAULT_ROOT",
    "ENTRIES_DIR",
    "StoredEntry",
    "challenge_dir",
    "load_entries",
    "load_entry",
    "record_entry",
    "slug",
]
