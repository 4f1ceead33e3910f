"""Leaderboard entries: JSON round trip, and a one-line error for a malformed entry file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from instahide_bench.benchmark.leaderboard import LeaderboardEntry, measured_entry
from instahide_bench.benchmark.leaderboard.entry import AttackInfo
from instahide_bench.core.errors import InputFileError
from instahide_bench.core.provenance import Provenance, hardware_info
from instahide_bench.core.scoring import Scores
from tests.benchmark.leaderboard.entries_support import make_entry
from tests.core.scoring_support import photo_challenge


@pytest.mark.parametrize("status", ["measured", "reported"])
def test_json_round_trip_keeps_every_field(status: str) -> None:
    entry = make_entry("x", 0.5, status=status)
    text = json.dumps(entry.to_json())
    assert LeaderboardEntry.from_json(json.loads(text), "entry.json") == entry


def test_metrics_are_numbers_in_the_json() -> None:
    metrics = make_entry("x", 0.75).to_json()["metrics"]
    assert metrics == {"max_ssim": 0.75, "mean_ssim": 0.375, "min_l2": 0.1, "mean_l2": 0.3, "num_rows": 5000}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda obj: obj.pop("metrics"), "lacks the field 'metrics'"),
        (lambda obj: obj.update(status="guessed"), "malformed leaderboard entry"),
        (lambda obj: obj["metrics"].update(max_ssim="high"), "malformed leaderboard entry"),
        (lambda obj: obj.update(format_version=99), "format_version 99 is not supported"),
    ],
)
def test_malformed_entries_raise_input_file_errors(mutate, message: str) -> None:
    obj = make_entry("x", 0.5).to_json()
    mutate(obj)
    with pytest.raises(InputFileError, match=message):
        LeaderboardEntry.from_json(obj, Path("bad.json"))


def test_measured_entry_takes_the_challenge_identity_and_provenance() -> None:
    challenge = photo_challenge().public_view("challenge-x")
    provenance = Provenance(hardware_info(), {"numpy": "1"}, "2026-01-01T00:00:00+00:00", "instahide-bench score")
    entry = measured_entry("e", AttackInfo("a"), challenge, Scores(0.1, 0.1, 0.2, 0.3, 40), provenance=provenance)
    assert entry.status == "measured"
    assert entry.challenge.challenge_id == "challenge-x" and entry.challenge.params["n"] == 10
    assert (entry.date, entry.command, entry.versions) == (provenance.date, provenance.command, {"numpy": "1"})
