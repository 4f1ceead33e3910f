"""Hand-made leaderboard entries for the store and render tests (no scoring needed)."""

from __future__ import annotations

from instahide_bench.benchmark.leaderboard import AttackInfo, ChallengeInfo, LeaderboardEntry
from instahide_bench.core.provenance import HardwareInfo
from instahide_bench.core.scoring import Scores


def make_entry(
    name: str,
    max_ssim: float,
    *,
    preset: str | None = "challenge-2020",
    status: str = "measured",
    challenge_id: str = "challenge-2020-0123456789",
    runtime: float | None = 12.5,
) -> LeaderboardEntry:
    return LeaderboardEntry(
        name=name,
        status=status,  # type: ignore[arg-type]
        attack=AttackInfo("abs-baseline", "1.0", {"scale": 2}, "O(E)"),
        challenge=ChallengeInfo(challenge_id, preset, "instahide", {"k": 6, "n": 100}, "ab" * 32),
        scores=Scores(max_ssim, max_ssim / 2, 0.1, 0.3, 5000),
        runtime_seconds=runtime,
        peak_memory_bytes=3 * 2**30 if status == "measured" else None,
        hardware=HardwareInfo("Test CPU | 9000", 8, None, 2**34) if status == "measured" else "reported",
        versions={"numpy": "2.4.6"},
        date="2026-01-02T03:04:05+00:00" if status == "measured" else None,
        command="instahide-bench run abs-baseline",
        notes="a note with <html> & | pipes",
        extras={"cluster_purity": 0.5},
    )
