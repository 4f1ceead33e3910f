"""Benchmark: time to build a 5000-row challenge-2020 set, with the public-pool build timed apart.

    python scripts/bench_generate.py                      # embedded data
    python scripts/bench_generate.py --shared ../shared/data   # CIFAR-10 + ImageNet folder

The public pool is built twice, first with an empty patch cache (cold: SIFT on every visited
source image) and then from the cache (warm); the encoding itself is timed on its own.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--shared", type=Path, default=None, help="the shared data folder (CIFAR-10 subset + ImageNet samples)"
    )
    parser.add_argument("--preset", default="challenge-2020")
    args = parser.parse_args()

    if args.shared is not None:
        private = f"cifar10:{args.shared / 'cifar10-subset' / 'cifar-10-batches-py'}"
        public = f"folder:{args.shared / 'imagenet-samples'}"
    else:
        private = public = "embedded"

    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
        os.environ["INSTAHIDE_BENCH_CACHE"] = cache  # a cold cache for the first build
        from instahide_bench.benchmark.generate import generate
        from instahide_bench.core.data import parse_source
        from instahide_bench.encoders import get_preset

        needed = get_preset(args.preset).build().required_public()
        source = parse_source(public, "public")
        clock = time.perf_counter()
        source.load(needed, 1)
        cold = time.perf_counter() - clock
        clock = time.perf_counter()
        source.load(needed, 1)
        warm = time.perf_counter() - clock

        clock = time.perf_counter()
        _path, times = generate(args.preset, Path(out) / "c", private_source=private, public_source=public, seed=1)
        total = time.perf_counter() - clock

    print(f"preset {args.preset}: private {private}, public {public}, {os.cpu_count()} CPU cores")
    print(f"public pool of {needed} patches: cold {cold:.2f} s, warm (cached) {warm:.2f} s")
    print(
        f"5000-row generation (warm pool): total {total:.2f} s = private load {times.private_load:.2f} s "
        f"+ public load {times.public_load:.2f} s + encode {times.encode:.2f} s + write {times.write:.2f} s"
    )


if __name__ == "__main__":
    main()
