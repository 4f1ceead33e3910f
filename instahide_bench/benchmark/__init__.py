"""Orchestration: challenge generation, the isolated attack runner, matrices, the leaderboard and the CLI.

The top layer: it may import anything below it (:mod:`instahide_bench.core`, the encoders and
the attacks), and nothing imports it.
"""
