#!/usr/bin/env python
"""Run the tests that compare measured figures under the variations that change floating point.

    python scripts/check_test_margins.py [--tests tests/attacks/carlini] [--variations all|quick]

Margins tighter than the spread of a figure across machines make the suite pass only where it
was tuned (issue 32: an ensemble margin of 0.01 held at 0.633 vs 0.619 on one machine and failed
at 0.6194 vs 0.6136 on another). This runs the given tests once per variation of the settings
that pick floating-point code paths, each in a fresh pytest process:

* ``MKL_CBWR`` (torch's MKL: conditional numerical reproducibility branch): unset, COMPATIBLE, AVX2;
* ``ATEN_CPU_CAPABILITY`` (torch's own kernels' vector width): unset, avx2, default (no SIMD);
* ``OPENBLAS_CORETYPE`` (numpy's and scipy's OpenBLAS kernels): unset, Haswell, Prescott (SSE3);
* ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS``: 1 and 2 (the order of parallel reductions).

Tests log their figures through ``tests/margins.py``; the script prints, per test and figure, the
value under each variation, the spread (max - min), and whether each run passed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.margins import LOG_ENV

VARIATIONS: dict[str, dict[str, str]] = {
    "as is": {},
    "MKL_CBWR=COMPATIBLE": {"MKL_CBWR": "COMPATIBLE"},
    "MKL_CBWR=AVX2": {"MKL_CBWR": "AVX2"},
    "ATEN_CPU_CAPABILITY=avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "ATEN_CPU_CAPABILITY=default": {"ATEN_CPU_CAPABILITY": "default"},
    "OPENBLAS_CORETYPE=Haswell": {"OPENBLAS_CORETYPE": "Haswell"},
    "OPENBLAS_CORETYPE=Prescott": {"OPENBLAS_CORETYPE": "Prescott"},
    "1 BLAS/OpenMP thread": {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    "2 BLAS/OpenMP threads": {"OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"},
}
QUICK = ("as is", "MKL_CBWR=COMPATIBLE", "ATEN_CPU_CAPABILITY=default", "OPENBLAS_CORETYPE=Prescott")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", nargs="+", default=["tests/attacks/carlini"], help="pytest node ids or folders")
    parser.add_argument("--variations", choices=("all", "quick"), default="all")
    args = parser.parse_args()
    chosen = VARIATIONS if args.variations == "all" else {k: VARIATIONS[k] for k in QUICK}
    values: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    outcome: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="margins-") as scratch:
        for label, env in chosen.items():
            log = Path(scratch) / f"{len(outcome)}.jsonl"
            variables = {k: v for k, v in os.environ.items() if k not in {"MKL_CBWR", "ATEN_CPU_CAPABILITY"}}
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args.tests]
            done = subprocess.run(
                command,
                cwd=REPO,
                env={**variables, **env, LOG_ENV: str(log)},
                capture_output=True,
                text=True,
                check=False,
            )
            summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
            outcome[label] = summary
            print(f"{label:<30} {summary}", flush=True)
            for line in log.read_text().splitlines() if log.exists() else []:
                entry = json.loads(line)
                for name, value in entry["values"].items():
                    values[(entry["test"], name)][label] = float(value)
    print()
    print(f"{'test / figure':<64} {'min':>8} {'max':>8} {'spread':>8}")
    for (test, name), by_variation in sorted(values.items()):
        low, high = min(by_variation.values()), max(by_variation.values())
        print(f"{test + ' / ' + name:<64} {low:8.4f} {high:8.4f} {high - low:8.4f}")
    print()
    for (test, name), by_variation in sorted(values.items()):
        print(f"{test} / {name}: " + ", ".join(f"{k} {v:.4f}" for k, v in by_variation.items()))


if __name__ == "__main__":
    main()
