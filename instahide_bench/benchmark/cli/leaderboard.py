"""``leaderboard render``: rebuild README.md, leaderboard.csv and index.html from the entries."""

from __future__ import annotations

import argparse

from instahide_bench.benchmark.leaderboard.layout import DEFAULT_ROOT


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    board = subparsers.add_parser("leaderboard", help="leaderboard maintenance (render the tables)")
    actions = board.add_subparsers(dest="leaderboard_command", metavar="ACTION", required=True)
    render = actions.add_parser(
        "render",
        help="render README.md, leaderboard.csv and index.html from ROOT/entries/",
        description="Rebuild the leaderboard views from the entry files; the output depends only on the entries.",
    )
    render.add_argument(
        "--root", default=str(DEFAULT_ROOT), metavar="DIR", help=f"leaderboard root (default: ./{DEFAULT_ROOT})"
    )
    render.set_defaults(func=run_render)


def run_render(args: argparse.Namespace) -> int:
    from instahide_bench.benchmark.leaderboard import render_leaderboard

    for path in render_leaderboard(args.root):
        print(f"wrote {path}")
    return 0
