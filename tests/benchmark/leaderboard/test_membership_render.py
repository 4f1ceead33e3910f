"""Membership entries in the rendered views: README.md section, index.html table, membership.csv."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from instahide_bench.benchmark.leaderboard import AttackInfo, ChallengeInfo
from instahide_bench.benchmark.leaderboard.membership import MembershipEntry, record_membership_entry, write_roc_png
from instahide_bench.benchmark.leaderboard.render import render_leaderboard
from instahide_bench.core.membership import MembershipKey
from instahide_bench.core.membership_scoring import score_membership
from instahide_bench.core.provenance import HardwareInfo


def _record(root: Path, name: str, scores: np.ndarray, accuracy: float | None) -> None:
    """20 members (the first 5 initialised release rows) and 20 non-members, scored by hand."""
    is_member = np.arange(40) < 20
    key = MembershipKey(is_member, np.where(is_member, np.arange(40), -1), init=np.arange(40) < 5)
    entry = MembershipEntry(
        name=name,
        attack=AttackInfo("loss-threshold", "1.0", {"epochs": 3}, "O(E)"),
        challenge=ChallengeInfo("dc-real-0123456789", "dc-real", "dataset-condensation", {"n": 20}, "cd" * 32),
        scores=score_membership(key, scores, resamples=50),
        runtime_seconds=12.0,
        hardware=HardwareInfo("Test CPU", 2, None, 2**34),
        date="2026-01-02T03:04:05+00:00",
        notes="a note with <html>",
        extras={} if accuracy is None else {"test_accuracy": accuracy, "test_images": 100},
    )
    record_membership_entry(entry, root, roc=(key, scores), stem=name)


def test_membership_entries_are_rendered_in_every_view(tmp_path: Path) -> None:
    perfect = np.r_[np.linspace(1, 2, 20), np.linspace(-2, -1, 20)]
    chance = np.random.default_rng(0).normal(size=40)
    _record(tmp_path, "perfect", perfect, accuracy=0.25)
    _record(tmp_path, "chance", chance, accuracy=None)
    paths = render_leaderboard(tmp_path)
    assert tmp_path / "membership.csv" in paths

    table = pd.read_csv(io.StringIO((tmp_path / "membership.csv").read_text()))
    assert list(table["name"]) == ["perfect", "chance"]  # by AUC within the challenge
    assert table["auc"][0] == 1.0 and table["tpr_at_1%_fpr"][0] == 1.0
    assert table["test_accuracy"][0] == 0.25 and np.isnan(table["test_accuracy"][1])
    assert list(table["init_members"]) == [5, 5] and table["members"][0] == 20 and table["non_members"][0] == 20
    assert not table["tpr_at_0.1%_fpr_reliable"][0]  # 20 non-members allow no false positive at 0.1%
    assert table["roc_file"][0] == "membership/perfect.png" and (tmp_path / table["roc_file"][0]).is_file()

    readme = (tmp_path / "README.md").read_text()
    assert "| dc-real-0123456789 | perfect | 0.250 | 1.000 [1.000, 1.000] |" in readme
    assert "| dc-real-0123456789 | chance | — |" in readme

    html = (tmp_path / "index.html").read_text()
    section = html[html.index('id="membership"') :]
    assert section.index(">perfect<") < section.index(">chance<")
    assert '<td class="num" data-sort="0.25">0.250</td>' in section
    assert '<img class="roc" src="membership/perfect.png"' in section
    assert "a note with &lt;html&gt;" in section and "<html>" not in section


def test_no_membership_entries_no_membership_views(tmp_path: Path) -> None:
    paths = render_leaderboard(tmp_path)
    assert not (tmp_path / "membership.csv").exists() and len(paths) == 3
    assert 'id="membership"' not in (tmp_path / "index.html").read_text()


def test_roc_curves_can_be_drawn_from_several_threads(tmp_path: Path) -> None:
    """The runner may score membership runs in threads (bench_membership runs two releases at once);
    unguarded, matplotlib's shared mathtext parser (log-axis tick labels) raised IndexError there."""
    is_member = np.arange(40) < 20
    key = MembershipKey(is_member, np.where(is_member, np.arange(40), -1))
    scores = np.random.default_rng(0).normal(size=40)

    def draw(index: int) -> Path:
        return write_roc_png(tmp_path / f"roc-{index}.png", key, scores, f"run {index}")

    with ThreadPoolExecutor(max_workers=4) as pool:
        written = list(pool.map(draw, range(12)))
    assert all(path.stat().st_size > 1000 for path in written)
