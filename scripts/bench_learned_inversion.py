#!/usr/bin/env python
"""learned-inversion against carlini-graph and the grey image: Max_SSIM vs T, training time, peak memory.

    python scripts/bench_learned_inversion.py [--Ts 1,2,5,10,20,50] [--rows 1000] [--seed 2]
                                              [--carlini-Ts 2,5,10,20,50] [--set key=value ...]
                                              [--simulations CIFAR,embedded] [--keep DIR]
                                              [--results JSON] [--figure PNG]
    python scripts/bench_learned_inversion.py figure     # redraw the figure from --results

For each T a challenge-2020 set (k=6, 2 private + 4 public slots, upper .65, dom .3, [-1,1], mask)
with n = rows / T private CIFAR-10 training images and ImageNet-folder patches from
../shared/data (the embedded photographs when it is absent), so every point has ``rows`` rows.
On each set: ``zero`` (the grey image), ``learned-inversion`` with two simulations (``matched``:
CIFAR-10's test split + the ImageNet folder, disjoint from the private images; ``embedded``: the
attack's default), each fused and unfused (``fusion=none``, what one encryption alone gives),
and ``carlini-graph`` with the matched simulation (it needs several rows per image; at T = 1 it
cannot run). The network is trained once per simulation: each later set's workdir starts with a
copy of the first set's ``simulate`` and ``train`` stages (their cache keys do not depend on
the set, only on the public parameters, the same for all T), so they are reused; the first
set's run reports the training time and the peak memory.

Each attack runs in a fresh child process (``_one``) so that its peak resident memory is its
own; the child scores with the key after the attack. Prints JSON lines, a Markdown table and the
machine load; writes the points (with the command, costs and load) as JSON to ``--results`` and
draws the figure from that file (``benchmark/matrix/measured.py``, which the matrix report uses
to draw the same figure). With ``--keep``, finished measurements are stored under names that
include the attack's version, so a changed attack never reads back an older figure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_carlini import auxiliary_settings, sources  # the same data and simulation settings (scripts/)


def matched_settings() -> list[str]:
    """The auxiliary data of an attacker who holds images like the challenge's (CIFAR test split + ImageNet)."""
    return auxiliary_settings("matched")


def make_challenge(out: Path, n: int, T: int, seed: int) -> Path:
    from instahide_bench.benchmark.generate import generate

    if (out / "encryption.npy").is_file():
        return out
    overrides = {"n": n, "T": T, "pool_size": max(n, 5000)}
    path, _ = generate("challenge-2020", out, overrides=overrides, seed=seed, overwrite=True, **sources())
    return path


def child(args: argparse.Namespace) -> None:
    """Run one attack in this process and score it with the key (evaluation only, after the attack)."""
    import torch

    from instahide_bench.attacks import ATTACKS, AttackContext
    from instahide_bench.core.challenge import load_challenge, load_key
    from instahide_bench.core.config import apply_overrides
    from instahide_bench.core.resources import peak_memory_bytes
    from instahide_bench.core.scoring import score_decryption

    torch.set_num_threads(args.threads)
    overrides = dict(item.split("=", 1) for item in args.set)
    challenge = load_challenge(Path(args.challenge))
    attack_cls = ATTACKS.get(args.attack)
    config = apply_overrides(attack_cls.Config(), overrides)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    context = AttackContext(device=device, workdir=Path(args.workdir), seed=0, resume=True)
    clock, cpu_clock = time.perf_counter(), time.process_time()
    result = attack_cls(config).run(challenge, context)
    seconds, cpu_seconds = time.perf_counter() - clock, time.process_time() - cpu_clock
    scores = score_decryption(challenge, load_key(Path(args.challenge), challenge.num_rows), result.decryption).scores
    info = result.info
    print(
        "RESULT "
        + json.dumps(
            {
                "seconds": round(seconds, 1),
                "cpu_seconds": round(cpu_seconds, 1),  # the fairer figure on a shared machine
                "peak_rss_mib": round(peak_memory_bytes() / 2**20),
                "max_ssim": round(scores.max_ssim, 4),
                "mean_ssim": round(scores.mean_ssim, 4),
                "train_seconds": round(info.get("train_seconds", 0.0), 1),
                "trained_here": "train" in info.get("timings_s", {}) and info["timings_s"]["train"] > 1.0,
                "heldout_ssim_simulated": info.get("heldout_ssim_simulated"),
                "device": str(device),
            }
        ),
        flush=True,
    )


def measure(
    attack: str, challenge: Path, workdir: Path, settings: list[str], threads: int, timeout: float | None = None
) -> dict:
    """One attack run in a child process; with ``--keep``, a finished measurement is read back instead."""
    from instahide_bench.attacks import ATTACKS

    # the attack's version is part of the key, so a changed default never reads back an older run's figure
    keyed = [*sorted(settings), f"version={ATTACKS.get(attack).version}"]
    digest = hashlib.sha256(json.dumps(keyed).encode()).hexdigest()[:12]
    record = workdir.parent / "results" / f"{attack}-{challenge.name}-{digest}.json"
    if record.is_file():
        return json.loads(record.read_text())
    result = _measure(attack, challenge, workdir, settings, threads, timeout)
    if "error" not in result:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(result))
    return result


def _measure(
    attack: str, challenge: Path, workdir: Path, settings: list[str], threads: int, timeout: float | None
) -> dict:
    command = [sys.executable, __file__, "_one", "--attack", attack, "--challenge", str(challenge)]
    command += ["--workdir", str(workdir), "--threads", str(threads)]
    for item in settings:
        command += ["--set", item]
    try:
        process = subprocess.run(
            command,
            check=False,
            capture_output=True,
            text=True,
            env={**os.environ, "INSTAHIDE_BENCH_PROGRESS": "0"},
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout:.0f} s"}
    if process.returncode:
        return {"error": process.stderr.strip().splitlines()[-1] if process.stderr.strip() else "failed"}
    line = next(text for text in process.stdout.splitlines() if text.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


#: The figure's curves: column of a point -> matplotlib style (a simulation's fused and unfused curves share a colour).
SERIES = {
    "learned-inversion (CIFAR test sim.)": {"marker": "o", "linestyle": "-", "colour": "C0"},
    "learned-inversion (CIFAR test sim.), unfused": {"marker": "o", "linestyle": ":", "colour": "C0"},
    "learned-inversion (embedded sim.)": {"marker": "s", "linestyle": "-", "colour": "C2"},
    "learned-inversion (embedded sim.), unfused": {"marker": "s", "linestyle": ":", "colour": "C2"},
    "carlini-graph (CIFAR test sim.)": {"marker": "^", "linestyle": "-", "colour": "C3"},
    "zero (grey image)": {"marker": "", "linestyle": "--", "colour": "black"},
}


def _without_notes(argv: list[str]) -> list[str]:
    """The command line less its ``--note`` texts (they are stored apart, under ``notes``)."""
    kept, skip = [], False
    for item in argv:
        if skip or item == "--note" or item.startswith("--note="):
            skip = item == "--note"
            continue
        kept.append(item)
    return kept


def write_results(rows: list[dict], costs: dict[str, dict], args: argparse.Namespace, loads: list[str]) -> dict:
    """The measurement as the JSON the docs' figure and the matrix report are drawn from."""
    origin = "CIFAR-10 private, ImageNet public" if sources() else "embedded photographs"
    data = {
        "title": f"challenge-2020 ({origin}), {args.rows} rows per point, seed {args.seed}",
        "x": "T",
        "x_label": "encryptions per private image (T)",
        "y": "Max_SSIM",
        "points": rows,
        "series": SERIES,
        "costs": costs,
        "command": "python scripts/bench_learned_inversion.py " + " ".join(_without_notes(sys.argv[1:])),
        "measured": time.strftime("%Y-%m-%d"),
        "load": loads,
        "notes": args.note,
        "torch_threads": args.threads,
        "data": sources().get("private_source", "embedded"),
    }
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(json.dumps(data, indent=1) + "\n")
    return data


def draw(results: str, figure_path: str) -> None:
    from instahide_bench.benchmark.matrix.measured import draw_measured, load_measurement

    draw_measured(load_measurement(Path(results)), Path(figure_path))
    print(f"figure: {figure_path} (from {results})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "mode", nargs="?", default="sweep", choices=["sweep", "figure", "_one"], help="figure: redraw from --results"
    )
    parser.add_argument("--Ts", default="1,2,5,10,20,50")
    parser.add_argument("--carlini-Ts", default="2,5,10,20,50", help="T values carlini-graph runs at ('' = none)")
    parser.add_argument("--rows", type=int, default=1000, help="rows per set (n = rows / T)")
    parser.add_argument("--carlini-timeout", type=float, default=900, help="seconds before a carlini-graph run is cut")
    parser.add_argument("--seed", type=int, default=2, help="challenge seed (settings were chosen on seed 1)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of each attack process")
    parser.add_argument("--set", action="append", default=[], help="learned-inversion config key=value")
    parser.add_argument(
        "--simulations", default="CIFAR,embedded", help="learned-inversion's simulations to run (CIFAR, embedded)"
    )
    parser.add_argument("--figure", default="docs/images/learned-inversion.png")
    parser.add_argument(
        "--results",
        default="instahide_bench/benchmark/matrix/measured-learned-inversion.json",
        help="JSON the figure (docs and matrix report) is drawn from",
    )
    parser.add_argument(
        "--keep", help="keep sets, caches and finished measurements in this folder (a rerun reuses them)"
    )
    parser.add_argument(
        "--note", action="append", default=[], help="provenance kept in the results JSON (e.g. how --keep was filled)"
    )
    parser.add_argument("--attack", help=argparse.SUPPRESS)
    parser.add_argument("--challenge", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode == "_one":
        child(args)
        return
    if args.mode == "figure":
        draw(args.results, args.figure)
        return
    load = os.getloadavg()
    loads = [f"start {time.strftime('%H:%M')}: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} CPUs"]
    print(
        f"data: {sources().get('private_source', 'embedded')}; rows per set {args.rows}; torch threads "
        f"{args.threads}; learned-inversion settings {args.set}; machine load {loads[0]}",
        flush=True,
    )
    clock = time.perf_counter()
    carlini_Ts = {int(t) for t in args.carlini_Ts.split(",") if t}
    # the CIFAR subset's test split holds 1017 images; the embedded photographs give 353 tiles (default 300)
    matched_size = ["aux_images=1000", "aux_T=6"] if sources() else []
    simulations = {"CIFAR test sim.": matched_settings() + matched_size, "embedded sim.": []}
    chosen = {name.strip() for name in args.simulations.split(",") if name.strip()}
    simulations = {name: settings for name, settings in simulations.items() if name.split()[0] in chosen}
    from instahide_bench.attacks import ATTACKS

    version = ATTACKS.get("learned-inversion").version  # in the workdirs' names: a new version trains afresh
    rows: list[dict] = []
    costs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-learned-inversion-") as tmp:
        scratch = Path(args.keep) if args.keep else Path(tmp)
        scratch.mkdir(parents=True, exist_ok=True)
        for T in (int(t) for t in args.Ts.split(",")):
            n = args.rows // T
            challenge = make_challenge(scratch / f"challenge-n{n}-T{T}-s{args.seed}", n, T, args.seed)
            row: dict = {"T": T, "n": n, "E": n * T}
            zero = measure("zero", challenge, scratch / "work-zero", [], args.threads)
            row["zero (grey image)"] = zero.get("max_ssim")
            for name, settings in simulations.items():
                workdir = scratch / f"work-li-{name.split()[0]}-v{version}-T{T}"
                trained = scratch / f"work-li-{name.split()[0]}-v{version}-trained"
                if trained.is_dir() and not workdir.is_dir():  # the set-independent stages, trained once
                    shutil.copytree(trained, workdir)
                label = f"learned-inversion ({name})"
                fused = measure("learned-inversion", challenge, workdir, settings + args.set, args.threads)
                single = measure(
                    "learned-inversion", challenge, workdir, [*settings, *args.set, "fusion=none"], args.threads
                )
                row[label], row[label + ", unfused"] = fused.get("max_ssim"), single.get("max_ssim")
                row[label + " s"] = fused.get("seconds")
                if fused.get("trained_here"):
                    costs[name] = fused
                if not trained.is_dir() and (workdir / "cache" / "train").is_dir():
                    for stage in ("simulate", "train"):
                        shutil.copytree(workdir / "cache" / stage, trained / "cache" / stage)
                print(json.dumps({"T": T, "attack": label, **fused, "unfused_max_ssim": single.get("max_ssim")}))
            if T in carlini_Ts:
                carlini = measure(
                    "carlini-graph",
                    challenge,
                    scratch / f"work-carlini-{T}",
                    matched_settings(),
                    args.threads,
                    args.carlini_timeout,
                )
                row["carlini-graph (CIFAR test sim.)"] = carlini.get("max_ssim", carlini.get("error"))
                row["carlini-graph s"] = carlini.get("seconds")
                print(json.dumps({"T": T, "attack": "carlini-graph", **carlini}))
            rows.append(row)
            print(json.dumps(row), flush=True)
    columns = [
        "T",
        "n",
        "zero (grey image)",
        "learned-inversion (CIFAR test sim.)",
        "learned-inversion (CIFAR test sim.), unfused",
        "learned-inversion (embedded sim.)",
        "learned-inversion (embedded sim.), unfused",
        "carlini-graph (CIFAR test sim.)",
        "learned-inversion (CIFAR test sim.) s",
        "carlini-graph s",
    ]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    for name, cost in costs.items():
        print(
            f"training ({name}): {cost['train_seconds']} s; first whole run {cost['seconds']} s; "
            f"peak memory {cost['peak_rss_mib']} MiB; held-out simulated SSIM {cost['heldout_ssim_simulated']}"
        )
    load = os.getloadavg()
    loads.append(f"end {time.strftime('%H:%M')}: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    print(f"whole benchmark {time.perf_counter() - clock:.0f} s; machine load at the {loads[-1]}")
    write_results(rows, costs, args, loads)
    draw(args.results, args.figure)


if __name__ == "__main__":
    main()
