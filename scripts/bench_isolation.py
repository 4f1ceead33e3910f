#!/usr/bin/env python
"""What the kernel sandbox costs: one attack's wall time with Landlock and with the audit hook only.

    python scripts/bench_isolation.py [--attack mixup-sign-recovery] [--preset mixup] [--n 100] [--T 5] [--repeats 3]

Builds one challenge, then runs the attack through :func:`run_attack` under each isolation,
interleaved (landlock, landlock without namespaces, audit-hook, again ``--repeats`` times) so
that machine load hits all alike. Prints, per isolation, the median wall time seen by the
parent (process start, sandbox set-up, imports, the attack, output checks) and the attack's
own runtime, the ratios to the audit-hook run, and whether every decryption is identical
(the sandbox must not change a single figure).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from instahide_bench.benchmark.generate import generate
from instahide_bench.benchmark.landlock import abi_version
from instahide_bench.benchmark.runner import RunOptions, run_attack

MODES = {
    "landlock + namespaces": RunOptions(isolation="landlock"),
    "landlock alone": RunOptions(isolation="landlock", namespaces=False),
    "audit-hook": RunOptions(isolation="audit-hook"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attack", default="mixup-sign-recovery")
    parser.add_argument("--preset", default="mixup")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--T", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    abi = abi_version()
    if not abi:
        raise SystemExit("this kernel has no Landlock: nothing to compare")
    with tempfile.TemporaryDirectory(prefix="bench-isolation-") as name:
        root = Path(name)
        challenge, _ = generate(args.preset, root / "challenge", overrides={"n": args.n, "T": args.T})
        wall: dict[str, list[float]] = {mode: [] for mode in MODES}
        own: dict[str, list[float]] = {mode: [] for mode in MODES}
        decryptions: list[np.ndarray] = []
        isolation: dict[str, str] = {}
        for repeat in range(args.repeats):
            for mode, options in MODES.items():
                out = root / f"{mode.replace(' ', '-')}-{repeat}"
                started = time.perf_counter()
                report = run_attack(args.attack, challenge, out, options=options)
                wall[mode].append(time.perf_counter() - started)
                own[mode].append(report.runtime_seconds)
                decryptions.append(np.load(out / "decryption.npy"))
                isolation[mode] = report.isolation + (
                    f" ({', '.join(report.isolation_details.get('namespaces', [])) or 'no namespaces'})"
                    if report.isolation != "audit-hook"
                    else ""
                )
    rows = args.n * args.T
    print(f"{args.attack} on {args.preset} (E = {rows} rows), {args.repeats} interleaved runs each, kernel ABI {abi}")
    base_wall, base_own = statistics.median(wall["audit-hook"]), statistics.median(own["audit-hook"])
    print(f"{'isolation':<24} {'recorded as':<44} {'wall s':>8} {'ratio':>6} {'attack s':>9} {'ratio':>6}")
    for mode in MODES:
        w, a = statistics.median(wall[mode]), statistics.median(own[mode])
        print(f"{mode:<24} {isolation[mode]:<44} {w:8.2f} {w / base_wall:6.3f} {a:9.2f} {a / base_own:6.3f}")
    for mode in MODES:
        print(f"  {mode}: wall {', '.join(f'{v:.2f}' for v in wall[mode])} s")
    identical = all(np.array_equal(decryptions[0], d) for d in decryptions[1:])
    print(f"decryptions identical across all {len(decryptions)} runs: {identical}")


if __name__ == "__main__":
    main()
