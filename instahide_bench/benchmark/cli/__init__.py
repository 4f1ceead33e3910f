"""The ``instahide-bench`` command line.

Each module of this package contributes subcommands through ``add_parsers(subparsers)``;
the modules are discovered, so adding a command is adding a module. Every user-facing
error is an :class:`InstaHideBenchError`, printed as one line with a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from instahide_bench import __version__
from instahide_bench.core.errors import InstaHideBenchError

EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="instahide-bench",
        description="Security-evaluation suite for InstaHide-style instance encoding.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        add_parsers = getattr(module, "add_parsers", None)
        if add_parsers is not None:
            add_parsers(subparsers)
    return parser


def _configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose >= 2 else logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if verbose < 2:
        for noisy in ("distributed", "numba", "matplotlib", "PIL", "fsspec", "asyncio"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose, args.quiet)
    try:
        return int(args.func(args) or 0)
    except InstaHideBenchError as exc:
        print(f"instahide-bench: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:
        # An output the system refuses (read-only, missing parent, /proc, a full disk): one line
        # naming the file; the traceback goes to the log (-v).
        logging.getLogger(__name__).debug("I/O error", exc_info=True)
        where = exc.filename if exc.filename is not None else "a file"
        target = f" -> {exc.filename2}" if exc.filename2 is not None else ""
        print(f"instahide-bench: error: {where}{target}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except MemoryError:
        print("instahide-bench: error: ran out of memory; use smaller settings", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("instahide-bench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
