#!/usr/bin/env python
"""carlini-graph's colour correction, retrained offline with other settings on a kept run.

    python scripts/bench_carlini.py run --seed 1 --aux matched --keep /tmp/kept       # a full run, kept
    python scripts/bench_carlini_colour.py /tmp/kept/challenge-n100-T50-s1 /tmp/kept/work-n100-T50-s1

The kept run's cache holds its two auxiliary simulations and every polish round. This script
reconstructs the simulations from their truth (as the attack's colour stage does), retrains the
correction with each variant, applies it to the last polish round's raw images and scores the
result with the key: per-image SSIM of the recovered set and the decryption's Max_SSIM (the run's
own slot choice); then an ensemble of seeds, with and without test-time mirroring. It isolates
the correction from the polish loop, which re-assigns against corrected images, so a full run
with a setting can differ a little from its line here. The default variants are those of
docs/attacks/carlini-graph.md ("With the user's data").
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from instahide_bench.attacks import AttackContext
from instahide_bench.attacks.carlini.assignment import decryption_slots
from instahide_bench.attacks.carlini.attack import CarliniGraphAttack, CarliniGraphConfig, read_facts
from instahide_bench.attacks.carlini.colour import ColourCorrection, fit_colour
from instahide_bench.attacks.carlini.truth import image_ssim, majority_map, true_slot_images
from instahide_bench.attacks.common.simulate import Simulation
from instahide_bench.core.challenge import load_challenge, load_key
from instahide_bench.core.scoring import score_decryption

DEFAULT_VARIANTS = [
    "seed=0",
    "seed=1",
    "seed=2",
    "seed=0,holdout=0",
    "seed=0,steps=2000",
    "seed=0,steps=2000,lr=0.001",
    "seed=0,width=48",
    "seed=0,depth=6",
]
INTEGER = {"seed", "steps", "width", "depth"}


def parse_variant(text: str) -> dict[str, float | int]:
    """``"seed=0,steps=2000"`` -> keyword arguments of :func:`fit_colour` (width 32, depth 4, 1000 steps unless set)."""
    settings: dict[str, float | int] = {"width": 32, "depth": 4, "steps": 1000}
    for item in filter(None, text.split(",")):
        name, _, value = item.partition("=")
        settings[name] = int(value) if name in INTEGER else float(value)
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("challenge", type=Path, help="the kept challenge directory (with key/)")
    parser.add_argument("workdir", type=Path, help="the kept run's work directory (holding cache/)")
    parser.add_argument("--variant", action="append", help="fit_colour settings, e.g. seed=1,steps=2000 (repeatable)")
    parser.add_argument("--ensemble", default="0,1,2", help="seeds whose outputs are averaged (empty: none)")
    parser.add_argument("--ensemble-steps", type=int, default=1000, help="training steps of each ensemble member")
    args = parser.parse_args()

    cache = args.workdir / "cache"
    challenge = load_challenge(args.challenge)
    key = load_key(args.challenge, challenge.num_rows)
    config = CarliniGraphConfig(colour_data="auxiliary")
    facts = read_facts(challenge, config)
    simulations = [Simulation.from_arrays(dict(np.load(cache / f"simulate-{i}" / "output.npz"))) for i in range(2)]
    clock = time.perf_counter()
    attack, context = CarliniGraphAttack(config), AttackContext(seed=0)
    recovered = np.concatenate([attack._reconstruct_from_truth(sim, challenge, context) for sim in simulations])
    truth = np.concatenate([sim.private for sim in simulations])
    print(f"{len(truth)} simulated pairs reconstructed in {time.perf_counter() - clock:.0f} s", flush=True)

    last = max(cache.glob("polish-*"), key=lambda path: int(path.name.split("-")[1]))
    state = dict(np.load(last / "output.npz"))
    slot_image = state["slot_image"].astype(np.int64)
    truth_slots = true_slot_images(facts.slots, key.private_index, key.private_labels)
    mapping = majority_map(slot_image, truth_slots, facts.num_private)
    shown = slot_image[decryption_slots(facts.slots, state["margin"])]

    def report(name: str, images: np.ndarray) -> None:
        per_image = np.nanmean(image_ssim(images, key.private, mapping, challenge.pixels))
        scores = score_decryption(challenge, key, challenge.pixels.clip(images[shown])).scores
        print(f"{name:44s} per image {per_image:.4f}  Max_SSIM {scores.max_ssim:.4f}", flush=True)

    report(f"raw ({last.name})", state["images"])
    report("the run's own correction", state["corrected"])
    trained: dict[tuple[tuple[str, float | int], ...], ColourCorrection] = {}

    def train(variant: str) -> ColourCorrection:
        """The correction for ``variant``, trained once: the default variants and ensemble members overlap."""
        settings = parse_variant(variant)
        name = tuple(sorted(settings.items()))
        if name not in trained:
            trained[name] = fit_colour(recovered, truth, challenge.pixels, **settings)  # type: ignore[arg-type]
        return trained[name]

    for variant in args.variant or DEFAULT_VARIANTS:
        clock = time.perf_counter()
        correction = train(variant)
        report(f"{variant} ({time.perf_counter() - clock:.0f} s)", correction.apply(state["images"], challenge.pixels))
    seeds = [f"seed={seed},steps={args.ensemble_steps}" for seed in filter(None, args.ensemble.split(","))]
    members, mirrored = [], []
    for seed in seeds:
        correction = train(seed)
        members.append(correction.apply(state["images"], challenge.pixels))
        # test-time mirroring: correct the mirrored images and mirror the result back
        mirrored.append(correction.apply(state["images"][:, :, ::-1].copy(), challenge.pixels)[:, :, ::-1])
        report(f"{seed}, mirrored and averaged", (members[-1] + mirrored[-1]) / 2)
        report(f"mean of {len(members)} ({args.ensemble_steps} steps)", np.mean(members, axis=0))
        report(f"mean of {len(members)}, mirrored too", np.mean(members + mirrored, axis=0))


if __name__ == "__main__":
    main()
