"""Measured values behind the suite's numeric margins, logged when a margin check asks for them.

A test that compares two measured figures (``ensemble > alone + 0.005``) calls :func:`record`
with the figures. Normally that does nothing. ``scripts/check_test_margins.py`` runs those tests
under the variations that change floating-point results across machines (math-library code
paths, vector widths, thread counts) with :data:`LOG_ENV` set, and prints each figure's spread,
so that every margin can be set wider than that spread and the spread written beside it.
"""

from __future__ import annotations

import json
import os

#: Where :func:`record` appends one JSON line per call (unset: no logging).
LOG_ENV = "INSTAHIDE_BENCH_MARGIN_LOG"
#: The environment variables a margin check varies, recorded with each line.
VARIED = ("MKL_CBWR", "ATEN_CPU_CAPABILITY", "OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


def record(test: str, **values: float) -> None:
    """Log ``values`` (name -> measured figure) of ``test`` when :data:`LOG_ENV` names a file."""
    path = os.environ.get(LOG_ENV)
    if not path:
        return
    line = {"test": test, "env": {k: os.environ.get(k, "") for k in VARIED}, "values": values}
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")
