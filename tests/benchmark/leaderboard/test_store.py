"""The entry store: unique files per entry, atomic writes, stable order, curated stems."""

from __future__ import annotations

import multiprocessing
import re
from pathlib import Path

import pytest

from instahide_bench.benchmark.leaderboard import GridSource, load_entries, record_entry
from instahide_bench.benchmark.leaderboard.store import challenge_dir, slug
from instahide_bench.core.errors import InputFileError
from tests.benchmark.leaderboard.entries_support import make_entry
from tests.core.scoring_support import photo_challenge


def test_entries_with_the_same_name_get_distinct_files(tmp_path: Path) -> None:
    paths = {record_entry(make_entry("same", 0.5), tmp_path) for _ in range(5)}
    assert len(paths) == 5
    assert all(p.parent == challenge_dir(tmp_path, "challenge-2020-0123456789") for p in paths)
    assert [s.entry for s in load_entries(tmp_path)] == [make_entry("same", 0.5)] * 5


def test_a_stem_replaces_the_entry_of_that_name(tmp_path: Path) -> None:
    record_entry(make_entry("a", 0.1), tmp_path, stem="fixed")
    record_entry(make_entry("a", 0.2), tmp_path, stem="fixed")
    [stored] = load_entries(tmp_path)
    assert stored.entry.scores.max_ssim == 0.2 and stored.path.name == "fixed.json"


def test_grid_is_written_beside_the_entry(tmp_path: Path) -> None:
    encoded = photo_challenge()
    grid = GridSource(encoded.public_view(), encoded.key, encoded.key.private[encoded.key.private_index[:, 1]])
    path = record_entry(make_entry("g", 1.0), tmp_path, grid=grid)
    [stored] = load_entries(tmp_path)
    assert stored.entry.grid == path.with_suffix(".png").name and stored.grid_path.is_file()


def test_unsafe_names_and_ids_stay_inside_the_root(tmp_path: Path) -> None:
    path = record_entry(make_entry("../../evil name", 0.5, challenge_id="../up/../and away"), tmp_path)
    assert tmp_path in path.resolve().parents
    assert slug("") == "entry" and "/" not in slug("a/b")


def test_malformed_files_are_reported_and_temporary_files_skipped(tmp_path: Path) -> None:
    record_entry(make_entry("ok", 0.5), tmp_path)
    directory = challenge_dir(tmp_path, "challenge-2020-0123456789")
    (directory / ".half-written.json.tmp").write_text("{")
    assert len(load_entries(tmp_path)) == 1
    (directory / "broken.json").write_text("{")
    with pytest.raises(InputFileError, match=re.escape("broken.json: not valid JSON")):
        load_entries(tmp_path)


def _record(args: tuple[Path, int]) -> str:
    root, number = args
    return str(record_entry(make_entry(f"parallel {number % 2}", number / 10), root))


def test_parallel_processes_lose_no_entry(tmp_path: Path) -> None:
    with multiprocessing.get_context("fork").Pool(4) as pool:
        paths = pool.map(_record, [(tmp_path, n) for n in range(16)])
    assert len(set(paths)) == 16
    assert sorted(s.entry.scores.max_ssim for s in load_entries(tmp_path)) == [n / 10 for n in range(16)]
