import sys

from instahide_bench.benchmark.cli import main

sys.exit(main())
