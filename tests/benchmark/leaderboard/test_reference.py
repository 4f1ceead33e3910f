"""The original leaderboard rows: built from the dataclass, and the committed files match them."""

from __future__ import annotations

import json
from pathlib import Path

from instahide_bench.benchmark.leaderboard import load_entries
from instahide_bench.benchmark.leaderboard.reference import ORIGINAL_CHALLENGE_ID, reference_entries

REPO_LEADERBOARD = Path(__file__).resolve().parents[3] / "leaderboard"


def test_the_three_rows_of_spec_section_5() -> None:
    entries = reference_entries()
    table = {
        e.name: (e.scores.max_ssim, e.scores.mean_ssim, e.scores.min_l2, e.scores.mean_l2) for e in entries.values()
    }
    assert table == {
        "Carlini et al. ver.1 (with final colour step)": (0.90, 0.43, 0.01, 0.31),
        "Carlini et al. ver.2": (0.79, 0.37, 0.05, 0.42),
        "PRNG seed attack (2^32 seeds)": (0.98, 0.47, 0.00, 0.27),
    }
    for entry in entries.values():
        assert entry.status == "reported" and entry.hardware == "reported" and entry.grid is None
        assert entry.challenge.preset == "challenge-2020" and entry.scores.num_rows == 5000
    assert entries["prng-seed-attack"].runtime_seconds == 432000.0


def test_committed_entry_files_match_the_builder() -> None:
    directory = REPO_LEADERBOARD / "entries" / ORIGINAL_CHALLENGE_ID
    expected = {f"{stem}.json": entry.to_json() for stem, entry in reference_entries().items()}
    actual = {path.name: json.loads(path.read_text()) for path in directory.glob("*.json")}
    assert actual == expected, "re-run scripts/make_reference_entries.py"
    assert len(load_entries(REPO_LEADERBOARD)) >= 3
