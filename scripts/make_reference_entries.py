#!/usr/bin/env python
"""Write the original 2020 leaderboard rows (docs/specification.md §5) as reported entries, then re-render.

    python scripts/make_reference_entries.py [--root leaderboard] [--no-render]

The entries are built by ``instahide_bench.benchmark.leaderboard.reference`` from the
``LeaderboardEntry`` dataclass (never typed as JSON by hand); re-running this script after a
change there rewrites the same files, and a test checks that the committed files match.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from instahide_bench.benchmark.leaderboard import record_entry, render_leaderboard
from instahide_bench.benchmark.leaderboard.reference import reference_entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--root", type=Path, default=Path("leaderboard"), help="leaderboard root (default: leaderboard)"
    )
    parser.add_argument("--no-render", action="store_true", help="only write the entries")
    args = parser.parse_args()
    for stem, entry in reference_entries().items():
        print(f"wrote {record_entry(entry, args.root, stem=stem)}")
    if not args.no_render:
        for path in render_leaderboard(args.root):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
