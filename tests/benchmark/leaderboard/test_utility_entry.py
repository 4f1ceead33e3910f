"""Utility leaderboard entries: JSON round trip with provenance; malformed files are named and skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from instahide_bench.benchmark.leaderboard.utility import (
    UTILITY_DIR,
    UtilityEntry,
    load_utility_entries,
    record_utility_entry,
)
from instahide_bench.core.errors import InputFileError
from instahide_bench.core.provenance import hardware_info


def _entry(**changes: object) -> UtilityEntry:
    values = {
        "name": "mixup",
        "encoder": "mixup",
        "preset": "mixup",
        "params": {"k": 4},
        "model": "small-cnn",
        "epochs": 10,
        "private": "mnist5k",
        "test": "mnist5k?split=test",
        "train_rows": 4000,
        "test_rows": 1000,
        "accuracy": 0.9,
        "baseline_accuracy": 0.97,
        "seconds": 100.0,
        "images_per_second": 400.0,
        "device": "cpu",
        "hardware": hardware_info(),
        "versions": {"torch": "2"},
        "date": "2026-11-30T10:00:00Z",
        "command": "instahide-bench utility --encoder mixup",
    }
    values.update(changes)
    return UtilityEntry(**values)  # type: ignore[arg-type]


def test_round_trip(tmp_path: Path) -> None:
    entry = _entry()
    path = record_utility_entry(entry, tmp_path)
    assert path.parent == tmp_path / UTILITY_DIR
    [(loaded, loaded_path)] = load_utility_entries(tmp_path)
    assert loaded == entry and loaded_path == path


def test_malformed_entries_are_named_and_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    record_utility_entry(_entry(), tmp_path)
    bad = tmp_path / UTILITY_DIR / "broken.json"
    bad.write_text(json.dumps({"kind": "utility", "format_version": 1, "name": "x"}))
    with pytest.raises(InputFileError, match=r"broken\.json"):
        UtilityEntry.from_json(json.loads(bad.read_text()), bad)
    assert len(load_utility_entries(tmp_path)) == 1
    assert "broken.json" in caplog.text
    assert load_utility_entries(tmp_path / "missing") == []


def test_the_rendered_leaderboard_lists_utility_entries(tmp_path: Path) -> None:
    from instahide_bench.benchmark.leaderboard import render_leaderboard

    render_leaderboard(tmp_path)
    assert "## Utility" not in (tmp_path / "README.md").read_text()
    record_utility_entry(_entry(), tmp_path)
    record_utility_entry(_entry(name="a|b", accuracy=0.5), tmp_path)
    render_leaderboard(tmp_path)
    text = (tmp_path / "README.md").read_text()
    assert "## Utility" in text and "| mnist5k | mixup | 0.9000 | 0.9700 | small-cnn | 10 | 4000 / 1000 |" in text
    assert text.index("0.9000") < text.index("0.5000") and "a\\|b" in text


def test_entries_show_no_local_directories() -> None:
    from instahide_bench.benchmark.leaderboard.utility import shown_source

    assert (
        shown_source("cifar10:/home/me/data/cifar-10-batches-py?split=test") == "cifar10:cifar-10-batches-py?split=test"
    )
    assert shown_source("mnist5k?split=test") == "mnist5k?split=test" and shown_source("embedded") == "embedded"
