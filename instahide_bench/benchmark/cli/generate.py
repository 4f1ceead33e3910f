"""``generate`` and ``presets``: build challenge sets from the named encoder presets."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from instahide_bench.benchmark.cli._options import (
    LEGACY_SEED,
    POSITIVE,
    SEED,
    add_set_option,
    print_json,
    real_number,
    whole_number,
)
from instahide_bench.core.config import config_to_dict, describe_config, parse_assignments

if TYPE_CHECKING:
    from instahide_bench.benchmark.generate import GradientRequest


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    gen = subparsers.add_parser(
        "generate",
        help="generate a challenge set from a preset",
        description="Encrypt private images with a preset encoder and write a challenge directory "
        "(public files + key/). Sources: embedded (default), cifar10:PATH, folder:PATH, npy:PATH.",
    )
    gen.add_argument("--preset", required=True, help="preset name (see `instahide-bench presets`)")
    gen.add_argument("--private", default="embedded", metavar="SOURCE", help="private images (default: embedded)")
    gen.add_argument("--public", default="embedded", metavar="SOURCE", help="public pool (default: embedded)")
    gen.add_argument(
        "--seed",
        type=LEGACY_SEED,
        default=None,
        help="legacy-seeded presets: the encoder seed (default: drawn from the OS, recorded in key/)",
    )
    gen.add_argument("--data-seed", type=SEED, default=0, help="which images the sources pick (default 0)")
    add_set_option(gen, "override a preset parameter, e.g. --set T=10 (repeatable)")
    gen.add_argument("--out", required=True, help="challenge directory to write")
    gen.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    gen.add_argument(
        "--original-layout",
        action="store_true",
        help="public part as the 2020 release shipped it: encryption.npy and label.npy, no challenge.json "
        "(readers assume the release's published parameters; key/ is still written for scoring)",
    )
    member = gen.add_argument_group("membership inference (docs/membership.md)")
    member.add_argument(
        "--membership",
        action="store_true",
        help="also write candidates.npy / candidate_labels.npy: private images (members) and held-out images "
        "(non-members), shuffled; the truth goes to key/membership.npy",
    )
    member.add_argument(
        "--candidates",
        type=whole_number(2, 10**7),
        default=None,
        metavar="N",
        help="total candidates, half members and half non-members (default: every private image and as many "
        "non-members)",
    )
    member.add_argument(
        "--non-members",
        default=None,
        metavar="SOURCE",
        help="where non-members come from (default: the --private source, minus the private images)",
    )
    fl = gen.add_argument_group("federated learning: a gradient challenge (docs/attacks/gradient-inversion.md)")
    fl.add_argument(
        "--gradients",
        action="store_true",
        help="a FedSGD client trains on the encodings, B rows per step; release what the server sees "
        "(weights.npz, gradients.npz) instead of the encodings",
    )
    fl.add_argument("--batch-size", type=whole_number(1, 4096), metavar="B", help="rows per step (default 1)")
    fl.add_argument("--steps", type=whole_number(1, 10**6), metavar="S", help="steps, one update each (default 10)")
    fl.add_argument("--model", help="the server's model: small-cnn (default), resnet18, mlp")
    fl.add_argument("--server-lr", type=real_number(0.0, 100.0), help="the server's SGD step (default 0.1)")
    fl.add_argument("--batchnorm", choices=("train", "eval"), help="BatchNorm mode of the client (default train)")
    fl.add_argument("--labels-public", action="store_true", default=None, help="release the rows' soft labels too")
    fl.add_argument("--prune", type=real_number(0.0, 1.0), help="defence: zero this fraction of each gradient tensor")
    fl.add_argument("--clip", type=POSITIVE, help="defence: clip each update's L2 norm to this")
    fl.add_argument("--noise", type=real_number(0.0), help="defence: Gaussian noise, times --clip (or absolute)")
    fl.add_argument("--model-seed", type=SEED, help="seed of the initial weights (public; default 0)")
    gen.set_defaults(func=run_generate)

    presets = subparsers.add_parser("presets", help="list the encoder presets and their parameters")
    presets.add_argument("--json", action="store_true", help="machine-readable output")
    presets.set_defaults(func=run_presets)


def run_generate(args: argparse.Namespace) -> int:
    from instahide_bench.benchmark.generate import MembershipRequest, generate
    from instahide_bench.core.errors import ConfigError

    if not args.membership and (args.candidates is not None or args.non_members is not None):
        raise ConfigError("--candidates and --non-members need --membership")
    membership = MembershipRequest(args.candidates, args.non_members) if args.membership else None
    gradients = _gradient_request(args)
    path, times = generate(
        args.preset,
        args.out,
        overrides=parse_assignments(args.overrides),
        private_source=args.private,
        public_source=args.public,
        seed=args.seed,
        data_seed=args.data_seed,
        overwrite=args.overwrite,
        original_layout=args.original_layout,
        membership=membership,
        gradients=gradients,
    )
    from instahide_bench.core.challenge import load_challenge

    meta = load_challenge(path).meta
    if meta.gradients is not None:
        setup = meta.gradients
        print(
            f"wrote {setup.steps} updates of {setup.batch_size} rows on {setup.model} "
            f"({setup.epochs:g} epochs; {meta.challenge_id}) to {path}"
        )
    else:
        print(f"wrote {meta.num_rows} encryptions ({meta.challenge_id}) to {path}")
    if meta.membership is not None:
        print(
            f"membership: {meta.membership['candidates']} candidates ({meta.membership['members']} members, "
            f"{meta.membership['non_members']} non-members from {meta.membership['non_member_source']})"
        )
    print(
        f"time: private {times.private_load:.2f}s, public pool {times.public_load:.2f}s, "
        f"encode {times.encode:.2f}s, write {times.write:.2f}s"
    )
    return 0


def _gradient_request(args: argparse.Namespace) -> GradientRequest | None:
    """The ``--gradients`` options (GradientRequest's defaults where not given), or None."""
    from instahide_bench.benchmark.generate import GradientRequest
    from instahide_bench.core.errors import ConfigError
    from instahide_bench.core.gradients import Defences

    request_options = ("batch_size", "steps", "model", "server_lr", "batchnorm", "labels_public", "model_seed")
    defence_options = ("prune", "clip", "noise")
    given = {name: getattr(args, name) for name in (*request_options, *defence_options)}
    given = {name: value for name, value in given.items() if value is not None}
    if not args.gradients:
        if given:
            raise ConfigError(f"--{next(iter(given)).replace('_', '-')} needs --gradients")
        return None
    defences = Defences(**{k: v for k, v in given.items() if k in defence_options})
    request = GradientRequest(**{k: v for k, v in given.items() if k in request_options}, defences=defences)
    request.validate()
    return request


def run_presets(args: argparse.Namespace) -> int:
    from instahide_bench.encoders.presets import PRESETS

    if args.json:
        out = {
            name: {"encoder": p.encoder, "description": p.description, "params": config_to_dict(p.config)}
            for name, p in PRESETS.items()
        }
        print_json(out)
        return 0
    for name, preset in PRESETS.items():
        print(f"{name}  (encoder: {preset.encoder})")
        print(f"    {preset.description}")
        values = config_to_dict(preset.config)
        for doc in describe_config(type(preset.config)):
            print(f"    {doc.name:<14} = {values[doc.name]!s:<16} {doc.help}")
        print()
    return 0
