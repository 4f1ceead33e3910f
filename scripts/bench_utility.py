#!/usr/bin/env python
"""Utility of each encoder (accuracy after training on its encodings) and the training loop's overhead.

    python scripts/bench_utility.py accuracy [--private mnist5k] [--epochs 10] [--seeds 0,1,2] \
        [--encoders vanilla,mixup,instahide-inside,instahide-cross,instahide-hardened] [--out DIR]
    python scripts/bench_utility.py throughput [--private mnist5k] [--rows 2048]
    python scripts/bench_utility.py summary --out DIR [DIR ...]
    python scripts/bench_utility.py record --out DIR [--leaderboard leaderboard]

``accuracy`` runs ``instahide-bench utility`` (the library call behind it) once per encoder and
seed with the same budget (model, epochs, data, augmentation), ``vanilla`` being the no-encoding
run, and prints a table: mean and spread (min-max, sample standard deviation) of the clean test
accuracy, seconds per run and per epoch. Each run's utility.json is kept under ``--out``.

``throughput`` measures, in one process and on the same model and data, images per second of a
plain torch loop (tensors prepared in advance, ``F.cross_entropy``, SGD) against the project's
loop fed by clean epochs (augmentation included) and by InstaHide encodings (augmentation and
mixing included), one epoch each after a warm-up epoch, and prints the ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from instahide_bench.benchmark.utility import (
    UtilityRequest,
    UtilityResult,
    default_augmentation,
    default_test_source,
    load_all,
    run_utility,
)
from instahide_bench.core.pixels import get_pixel_space
from instahide_bench.core.training import EvalSet, TrainConfig, build_model, train
from instahide_bench.core.training.epochs import clean_epochs, encoder_epochs
from instahide_bench.encoders import get_preset

ENCODERS = "vanilla,mixup,instahide-inside,instahide-cross,instahide-hardened"


def accuracy(args: argparse.Namespace) -> None:
    out = Path(args.out)
    results: list[UtilityResult] = []
    for name in args.encoders.split(","):
        runs = []
        for seed in (int(s) for s in args.seeds.split(",")):
            config = TrainConfig(
                model=args.model, epochs=args.epochs, seed=seed, augment=default_augmentation(args.private)
            )
            request = UtilityRequest(
                encoder=name,
                private=args.private,
                test=args.test,
                public=args.public,
                rows=args.rows,
                baseline=False,
                train=config,
            )
            result = run_utility(request, out / f"{name}-seed{seed}", resume=True)
            runs.append(result)
            print(f"  {name} seed {seed}: accuracy {result.accuracy:.4f} in {result.seconds:.0f}s", flush=True)
        results.extend(runs)
    print_table(results, out)


def print_table(results: list[UtilityResult], out: Path | None = None) -> None:
    """Per encoder: mean, sample standard deviation and range of the accuracy over seeds; time per run and epoch."""
    by_encoder: dict[str, list[UtilityResult]] = {}
    for result in results:
        by_encoder.setdefault(result.encoder, []).append(result)
    first = results[0]
    print(
        f"\n{first.private} -> {first.test}: {first.train_rows} training / {first.test_rows} test images, "
        f"{first.model}, {first.epochs} epochs, device {first.device}"
    )
    print("| encoder | seeds | accuracy mean | std | min-max | s/run | s/epoch | images/s |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for name, runs in by_encoder.items():
        accs = [r.accuracy for r in runs]
        seconds = statistics.mean(r.seconds for r in runs)
        row = {
            "encoder": name,
            "seeds": sorted(r.train_config["seed"] for r in runs),
            "mean": statistics.mean(accs),
            "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
            "min": min(accs),
            "max": max(accs),
            "seconds": seconds,
            "seconds_per_epoch": seconds / first.epochs,
            "images_per_second": statistics.mean(r.images_per_second for r in runs),
        }
        rows.append(row)
        print(
            f"| {name} | {','.join(map(str, row['seeds']))} | {row['mean']:.4f} | {row['std']:.4f} | "
            f"{row['min']:.4f}-{row['max']:.4f} | {seconds:.0f} | {row['seconds_per_epoch']:.1f} | "
            f"{row['images_per_second']:.0f} |"
        )
    if out is not None:
        (out / "summary.json").write_text(json.dumps(rows, indent=2))


def summary(args: argparse.Namespace) -> None:
    """The table of every run kept under the given ``--out`` folders (e.g. after an interrupted run)."""
    from instahide_bench.benchmark.utility import RESULT_FILE

    paths = sorted(p for folder in args.out for p in Path(folder).glob(f"*/{RESULT_FILE}"))
    print_table([UtilityResult.from_json(json.loads(p.read_text())) for p in paths])


def _plain_epoch(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, batch: int
) -> float:
    model.train()
    clock = time.perf_counter()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    for start in range(0, len(x), batch):
        rows = order[start : start + batch]
        loss = F.cross_entropy(model(x[rows]), y[rows])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return len(x) / (time.perf_counter() - clock)


def throughput(args: argparse.Namespace) -> None:
    images = load_all(args.private, args.rows, 0)
    test = load_all(default_test_source(args.private), 256, 0)
    pixels = get_pixel_space("cifar10-normalised")
    config = TrainConfig(model=args.model, epochs=2, augment=default_augmentation(args.private), device="cpu")
    eval_set = EvalSet(pixels.from_uint8(test.images), test.labels)
    x = torch.from_numpy(pixels.from_uint8(images.images)).permute(0, 3, 1, 2).contiguous()
    y = torch.from_numpy(images.labels)
    results: dict[str, list[float]] = {"plain": [], "clean": [], "instahide-inside": [], "encoding alone": []}
    encoder = get_preset("instahide-inside").build()
    for _ in range(args.repeats):  # interleaved, so that a change in machine load hits all three alike
        model = build_model(args.model, 10, torch.Generator().manual_seed(0))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        _plain_epoch(model, optimizer, x, y, config.batch_size)  # warm-up
        results["plain"].append(_plain_epoch(model, optimizer, x, y, config.batch_size))
        for name, source in (
            ("clean", clean_epochs(images, pixels, config)),
            ("instahide-inside", encoder_epochs(encoder, images, None, config)),
        ):
            result = train(config, 10, source, eval_set)
            results[name].append(result.history[-1].images / result.history[-1].train_seconds)
        clock = time.perf_counter()  # the encoding alone: what re-encoding adds to each epoch
        for _batch in encoder_epochs(encoder, images, None, config)(1):
            pass
        results["encoding alone"].append(len(images) / (time.perf_counter() - clock))
    plain = statistics.median(results["plain"])
    print(
        f"{len(images)} images of {args.private}, {args.model}, batch {config.batch_size}, "
        f"{torch.get_num_threads()} threads, {args.repeats} repeats (median)"
    )
    for name, values in results.items():
        speed = statistics.median(values)
        if name == "encoding alone":
            share = plain / speed
            print(f"  {name:<18} {speed:7.0f} images/s  ({len(images) / speed:.2f} s/epoch)  {share:.1%} of plain")
            continue
        print(
            f"  {name:<18} {speed:7.0f} images/s  ({len(images) / speed:.1f} s/epoch)  "
            f"cost vs plain loop: {plain / speed - 1:+.1%}"
        )


def record(args: argparse.Namespace) -> None:
    """A utility leaderboard entry for every run under ``--out`` (provenance: this machine, the command given)."""
    from instahide_bench.benchmark.leaderboard.utility import record_utility
    from instahide_bench.benchmark.utility import RESULT_FILE, UtilityResult

    for path in sorted(Path(args.out).glob(f"*/{RESULT_FILE}")):
        result = UtilityResult.from_json(json.loads(path.read_text()))
        seed = result.train_config["seed"]
        entry = record_utility(result, args.leaderboard, name=f"{result.encoder} (seed {seed})", command=args.command)
        print(f"{path.parent.name}: {entry}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    acc = sub.add_parser("accuracy")
    acc.add_argument("--private", default="mnist5k")
    acc.add_argument("--test", default=None)
    acc.add_argument("--public", default="embedded")
    acc.add_argument("--rows", type=int, default=None)
    acc.add_argument("--model", default="small-cnn")
    acc.add_argument("--epochs", type=int, default=10)
    acc.add_argument("--seeds", default="0,1,2")
    acc.add_argument("--encoders", default=ENCODERS)
    acc.add_argument("--out", default="bench-utility")
    thr = sub.add_parser("throughput")
    thr.add_argument("--private", default="mnist5k")
    thr.add_argument("--rows", type=int, default=2048)
    thr.add_argument("--model", default="small-cnn")
    thr.add_argument("--repeats", type=int, default=3)
    summ = sub.add_parser("summary")
    summ.add_argument("--out", nargs="+", required=True, help="--out folders of accuracy runs")
    rec = sub.add_parser("record")
    rec.add_argument("--out", required=True, help="the --out of an accuracy run")
    rec.add_argument("--leaderboard", default="leaderboard")
    rec.add_argument("--command", default="", help="the command that produced the runs (kept as provenance)")
    args = parser.parse_args()
    {"accuracy": accuracy, "throughput": throughput, "record": record, "summary": summary}[args.what](args)


if __name__ == "__main__":
    main()
