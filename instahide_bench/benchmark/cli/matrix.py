"""``matrix``, ``regress`` and ``demo``: attack x encoder matrices, regression checks, the tour."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from instahide_bench.benchmark.cli._options import LEGACY_SEED, POSITIVE, SEED, whole_number
from instahide_bench.core.config import parse_assignments


def _add_runtime_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="Dask scheduler to run the cells on (default: a local cluster)",
    )
    parser.add_argument(
        "--workers",
        type=whole_number(1, 1024),
        default=None,
        help="local cluster workers (default: cores // 2, at least 2)",
    )


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    matrix = subparsers.add_parser(
        "matrix",
        help="run every attack against every encoder preset's challenge (Dask tasks)",
        description="Generate one challenge per encoder (and sweep value), run every attack on each, score and "
        "record every cell, and write OUT/matrix.json, OUT/report.html and OUT/leaderboard/.",
    )
    matrix.add_argument("--encoders", required=True, help="comma-separated presets")
    matrix.add_argument("--attacks", required=True, help="comma-separated attacks")
    matrix.add_argument("--private", default="embedded", metavar="SOURCE", help="private images (default: embedded)")
    matrix.add_argument("--public", default="embedded", metavar="SOURCE", help="public pool (default: embedded)")
    matrix.add_argument(
        "--set-encoder",
        dest="encoder_set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a parameter of every encoder, e.g. n=20 (repeatable)",
    )
    matrix.add_argument(
        "--set-attack",
        dest="attack_set",
        action="append",
        default=[],
        metavar="ATTACK.KEY=VALUE",
        help="override an attack's config field, e.g. prng-seed-search.engine=local (repeatable)",
    )
    matrix.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        help="one encoder variant per value, e.g. T=10,20,50 (repeatable; curves in the report)",
    )
    matrix.add_argument(
        "--seed", type=LEGACY_SEED, default=None, help="seed for legacy-seeded encoders (default: from the OS)"
    )
    matrix.add_argument("--data-seed", type=SEED, default=0, help="which images the sources pick")
    matrix.add_argument(
        "--time-limit", type=POSITIVE, default=None, metavar="SECONDS", help="per-cell wall-clock limit"
    )
    matrix.add_argument("--memory-limit", type=POSITIVE, default=None, metavar="MIB", help="per-cell memory limit")
    matrix.add_argument(
        "--utility",
        action="store_true",
        help="also train a model on each encoder's encodings: a utility column and a privacy-utility figure",
    )
    matrix.add_argument(
        "--set-utility",
        dest="utility_set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="utility setting (implies --utility): private, test, rows, test_rows, epochs, model, encoders=A,B",
    )
    matrix.add_argument("--out", required=True, help="output directory")
    matrix.add_argument(
        "--resume",
        action="store_true",
        help="reuse the challenges and successful cells an interrupted run of the same matrix finished in --out",
    )
    _add_runtime_options(matrix)
    matrix.set_defaults(func=run_matrix_command)

    regress = subparsers.add_parser(
        "regress",
        help="check attack results against thresholds (non-zero exit on a regression)",
        description="Run the matrix a thresholds file describes (or read an earlier matrix.json) and check every "
        "rule; print a table and exit 1 if any rule regressed or could not be checked.",
    )
    regress.add_argument(
        "--thresholds",
        required=True,
        metavar="FILE",
        help="TOML file: [matrix], [encoders.*], [attacks.*] and [[thresholds]] (see docs/regress.md)",
    )
    regress.add_argument("--out", default=None, help="output directory (default: a fresh temporary one)")
    regress.add_argument(
        "--results",
        default=None,
        metavar="MATRIX_JSON",
        help="check an existing matrix.json instead of running the matrix",
    )
    _add_runtime_options(regress)
    regress.set_defaults(func=run_regress_command)

    demo = subparsers.add_parser(
        "demo",
        help="the one-command tour: all attacks against the main presets on embedded data, with a report",
        description="Small challenges from the photographs bundled with scikit-image, every attack against the main "
        "presets, scored, recorded and shown in one HTML report (a few minutes on 2 cores).",
    )
    demo.add_argument(
        "--out", default="instahide-bench-demo", help="output directory (default: ./instahide-bench-demo)"
    )
    _add_runtime_options(demo)
    demo.set_defaults(func=run_demo_command)


def _render(result, out: Path) -> Path:
    """The leaderboard of the run's entries and the HTML report; returns the report's path."""
    from instahide_bench.benchmark.leaderboard import render_leaderboard
    from instahide_bench.benchmark.matrix.report import render_report

    render_leaderboard(out / "leaderboard")
    return render_report(result, out)


def _finish(result, out: Path, started: float) -> Path:
    report = _render(result, out)
    failed = [c for c in result.cells if c.status != "ok"]
    print(
        f"{len(result.cells)} cells in {time.perf_counter() - started:.0f} s"
        + (f", {len(failed)} failed:" if failed else "")
    )
    for cell in failed:
        print(f"  FAILED {cell.encoder} x {cell.attack}: {cell.message}")
    print(f"report: {report.resolve()}")
    return report


def run_matrix_command(args: argparse.Namespace) -> int:
    from instahide_bench.benchmark.matrix.run import run_matrix
    from instahide_bench.benchmark.matrix.spec import parse_sweeps, spec_from_cli

    spec = spec_from_cli(
        args.encoders,
        args.attacks,
        private=args.private,
        public=args.public,
        encoder_set=parse_assignments(args.encoder_set),
        attack_set=parse_assignments(args.attack_set),
        sweeps=parse_sweeps(args.sweep),
        seed=args.seed,
        data_seed=args.data_seed,
        time_limit=args.time_limit,
        memory_limit_mib=args.memory_limit,
    )
    started = time.perf_counter()
    out = Path(args.out)
    result = run_matrix(spec, out, scheduler=args.scheduler, workers=args.workers, resume=args.resume)
    if args.utility or args.utility_set:
        from instahide_bench.benchmark.matrix.utility import run_matrix_utility, utility_spec_from_dict

        utility = utility_spec_from_dict({"utility": _typed(parse_assignments(args.utility_set))}, "--set-utility")
        assert utility is not None
        run_matrix_utility(spec, utility, out, resume=args.resume)
    _finish(result, out, started)
    return 0


def _typed(values: dict[str, str]) -> dict[str, object]:
    """``--set-utility`` values as the [utility] table would hold them (numbers, lists of labels)."""
    typed: dict[str, object] = {}
    for key, value in values.items():
        typed[key] = [v for v in value.split(",") if v] if key == "encoders" else value
    return typed


def run_regress_command(args: argparse.Namespace) -> int:
    import tempfile

    from instahide_bench.benchmark.matrix.regress import evaluate, format_table, has_regressions, thresholds_from_dict
    from instahide_bench.benchmark.matrix.run import MatrixResult, run_matrix
    from instahide_bench.benchmark.matrix.spec import spec_from_dict
    from instahide_bench.benchmark.matrix.utility import (
        UTILITY_FILE,
        load_matrix_utility,
        run_matrix_utility,
        utility_spec_from_dict,
    )
    from instahide_bench.core.io import read_toml

    document = read_toml(args.thresholds)
    thresholds = thresholds_from_dict(document, args.thresholds)
    utility_spec = utility_spec_from_dict(document, args.thresholds)
    utility_rows = None
    if args.results:
        result = MatrixResult.load(args.results)
        beside = Path(args.results).parent / UTILITY_FILE
        utility_rows = load_matrix_utility(beside) if beside.is_file() else None
    else:
        spec = spec_from_dict(document, Path(args.thresholds))
        out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="instahide-regress-"))
        result = run_matrix(spec, out, scheduler=args.scheduler, workers=args.workers)
        if utility_spec is not None:
            utility_rows = run_matrix_utility(spec, utility_spec, out)
        print(f"matrix results: {(out / 'matrix.json').resolve()}; report: {_render(result, out).resolve()}")
    verdicts = evaluate(result, thresholds, utility_rows)
    print(format_table(verdicts))
    return 1 if has_regressions(verdicts) else 0


def run_demo_command(args: argparse.Namespace) -> int:
    from instahide_bench.benchmark.matrix.run import run_matrix
    from instahide_bench.benchmark.matrix.spec import demo_spec

    spec = demo_spec()
    out = Path(args.out)
    started = time.perf_counter()
    print(
        f"demo: {len(spec.encoders)} challenges x {len(spec.attacks)} attacks, where each applies, "
        f"on embedded data, writing to {out}"
    )
    result = run_matrix(spec, out, scheduler=args.scheduler, workers=args.workers)
    _finish(result, out, started)
    return 0
