#!/usr/bin/env python
"""What keeping plugin code out of the parent costs: this runner against an earlier one, side by side.

    python scripts/bench_runner_overhead.py [--baseline-rev a9738ed] [--attack zero] [--repeats 5]

Checks out ``--baseline-rev`` (default: the last commit whose runner imported the attack in
the parent and scored in-process) into a temporary git worktree, builds one challenge, then
times the real command line, ``python -m instahide_bench.benchmark.cli attack ATTACK
--challenge C --out O [--score]``, with each tree first on ``PYTHONPATH`` (so the parent, the
sandboxed worker and the scorer all come from that tree), interleaved ``--repeats`` times so
that machine load hits both alike. Prints the median wall time of each, their ratio
(this tree / baseline), and whether the decryptions and scores are identical.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
#: The runner before issue 31: it imported, configured and constructed the attack in the parent.
DEFAULT_BASELINE = "a9738ed"


def _run(tree: Path, attack: str, challenge: Path, out: Path, score: bool) -> tuple[float, dict]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, "-m", "instahide_bench.benchmark.cli", "attack", attack]
    command += ["--challenge", str(challenge), "--out", str(out), "--json"] + (["--score"] if score else [])
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=out.parent, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"{tree}: {' '.join(command)} failed:\n{done.stderr}")
    return elapsed, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-rev", default=DEFAULT_BASELINE)
    parser.add_argument("--attack", default="zero")
    parser.add_argument("--preset", default="mixup")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--T", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from instahide_bench.benchmark.generate import generate

    with tempfile.TemporaryDirectory(prefix="bench-runner-") as name:
        root = Path(name)
        baseline = root / "baseline"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(baseline), args.baseline_rev],
            check=True,
            capture_output=True,
        )
        try:
            challenge, _ = generate(args.preset, root / "challenge", overrides={"n": args.n, "T": args.T})
            trees = {"baseline": baseline, "this tree": REPO}
            wall: dict[tuple[str, bool], list[float]] = {}
            answers: dict[tuple[str, bool], list[np.ndarray]] = {}
            scores: dict[str, dict] = {}
            for repeat in range(args.repeats):
                for score in (False, True):
                    for label, tree in trees.items():
                        out = root / f"{label.replace(' ', '-')}-{int(score)}-{repeat}"
                        seconds, report = _run(tree, args.attack, challenge, out, score)
                        wall.setdefault((label, score), []).append(seconds)
                        answers.setdefault((label, score), []).append(np.load(out / "decryption.npy"))
                        if score:
                            scores[label] = report["scores"]
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(baseline)], check=False)
    print(
        f"`attack {args.attack}` on {args.preset} (E = {args.n * args.T}), {args.repeats} interleaved runs each; "
        f"baseline {args.baseline_rev}"
    )
    print(f"{'command':<28} {'baseline s':>11} {'this tree s':>12} {'ratio':>7}")
    for score in (False, True):
        base, new = statistics.median(wall[("baseline", score)]), statistics.median(wall[("this tree", score)])
        print(f"{'attack --score' if score else 'attack':<28} {base:11.2f} {new:12.2f} {new / base:7.3f}")
    for key, values in sorted(wall.items()):
        print(f"  {key[0]}{' --score' if key[1] else ''}: {', '.join(f'{v:.2f}' for v in values)} s")
    every = [a for runs in answers.values() for a in runs]
    print(f"decryptions identical across all {len(every)} runs: {all(np.array_equal(every[0], a) for a in every[1:])}")
    print(f"scores identical: {scores['baseline'] == scores['this tree']}")


if __name__ == "__main__":
    main()
