"""Child-process side of the attack runner: resolve, check and run one attack on a copy of the public files.

Started (inside the sandbox of :mod:`.confined`) as ``python -m
instahide_bench.benchmark.attack_worker JOB.json`` by :mod:`instahide_bench.benchmark.runner`.
Everything that executes plugin code happens here and nowhere else: importing the attack's
module (registry and entry points), building its config from the user's overrides (its
defaults run here), validating it, constructing the attack and running it. The parent only
passes plain data in (:class:`WorkerJob`) and reads plain data back: ``result.json`` (what the
attack says about itself and its run) and the output arrays, which it validates as it would
any submission. A refusal before the attack starts (unknown name, bad override, wrong kind of
challenge) is written as ``error.json`` with ``stage: "setup"`` and a one-line message; a
crash afterwards as ``stage: "run"`` with its traceback. Either way no output is left behind.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from instahide_bench.core.resources import peak_memory_bytes

#: Files the worker may leave in staging; the parent moves the ones present into the output directory.
OUTPUT_FILES = (
    "decryption.npy",
    "recovered.npy",
    "assignment.npy",
    "membership_scores.npy",
    "inputs.npy",
    "input_labels.npy",
)


@dataclass(frozen=True)
class WorkerJob:
    """Everything the child needs; written by the parent as JSON (no path of the challenge in it)."""

    attack: str
    overrides: dict[str, Any]
    public_dir: str
    staging_dir: str
    workdir: str
    device: str
    seed: int
    resume: bool
    forbidden: list[str]
    log_level: int = logging.INFO

    @classmethod
    def read(cls, path: Path) -> WorkerJob:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


class SetupRefused(Exception):
    """The attack cannot start: a one-line reason for the user.

    ``about`` is ``"config"`` (unknown name, bad override or device) or ``"challenge"`` (the
    attack's threat model does not fit this kind of challenge).
    """

    def __init__(self, message: str, about: str = "config") -> None:
        super().__init__(message)
        self.about = about


def _setup(job: WorkerJob, challenge: Any) -> tuple[Any, Any]:
    """The attack class and instance, from the name and the user's overrides; plugin code runs from here on."""
    import torch

    from instahide_bench.attacks import ATTACKS
    from instahide_bench.benchmark.runner import resolve_device
    from instahide_bench.core.config import apply_overrides
    from instahide_bench.core.errors import InstaHideBenchError
    from instahide_bench.core.threats import MEMBERSHIP

    try:
        attack_cls = ATTACKS.get(job.attack)
        if challenge.meta.kind not in attack_cls.challenge_kinds:
            raise SetupRefused(
                f"{job.attack!r} attacks {' and '.join(attack_cls.challenge_kinds)} challenges; this is a "
                f"{challenge.meta.kind} challenge",
                about="challenge",
            )
        if attack_cls.threat_model == MEMBERSHIP and challenge.membership is None:
            raise SetupRefused(
                f"{job.attack!r} is a membership attack but this is not a membership challenge "
                "(generate it with --membership)",
                about="challenge",
            )
        attack = attack_cls(apply_overrides(attack_cls.Config(), job.overrides))
        device = torch.device(resolve_device(job.device))
    except InstaHideBenchError as exc:
        raise SetupRefused(str(exc)) from None
    return attack, device


def run_job(job: WorkerJob) -> None:
    from instahide_bench.benchmark.isolation import install_guard

    install_guard(job.forbidden)

    import torch

    from instahide_bench.attacks import AttackContext
    from instahide_bench.core.challenge import load_challenge
    from instahide_bench.core.config import config_to_dict
    from instahide_bench.core.io import write_json_atomic
    from instahide_bench.core.threats import MEMBERSHIP
    from instahide_bench.encoders import ENCODERS  # noqa: F401  (registers the built-in encoders; lira re-runs one)

    staging = Path(job.staging_dir)
    challenge = load_challenge(job.public_dir)
    attack, device = _setup(job, challenge)
    attack_cls = type(attack)
    context = AttackContext(device=device, workdir=Path(job.workdir), seed=job.seed, resume=job.resume)
    threads = getattr(attack.config, "threads", None)
    if context.device.type == "cpu" and type(threads) is int and threads > 0:
        torch.set_num_threads(threads)  # this process exists for this attack: its thread count is ours to set
    started = time.perf_counter()
    result = attack.run(challenge, context)
    runtime = time.perf_counter() - started

    if attack_cls.threat_model == MEMBERSHIP:
        _save_membership_scores(job.attack, challenge, result, staging)
    else:
        _save_decryption(job.attack, challenge, result, staging)
    write_json_atomic(
        staging / "result.json",
        {
            "attack": job.attack,
            "attack_version": str(attack_cls.version),
            "complexity": str(attack_cls.complexity),
            "threat_model": str(attack_cls.threat_model),
            "config": _jsonable(config_to_dict(attack.config)),
            "device": str(device),
            "succeeded": bool(result.succeeded),
            "message": result.message,
            "info": _jsonable(result.info),
            "runtime_seconds": runtime,
            "peak_rss_bytes": peak_memory_bytes(children=True),
        },
    )


def _save_membership_scores(attack: str, challenge: Any, result: Any, staging: Path) -> None:
    """A membership attack's answer: one finite float per candidate."""
    from instahide_bench.core.io import save_npy_atomic
    from instahide_bench.core.membership import SCORES_FILE
    from instahide_bench.core.membership_scoring import check_scores

    if result.membership_scores is None:
        raise ValueError(f"membership attack {attack!r} returned no membership_scores")
    scores = check_scores(result.membership_scores, len(challenge.membership), f"<membership scores of {attack}>")
    save_npy_atomic(staging / SCORES_FILE, scores)


def _save_decryption(attack: str, challenge: Any, result: Any, staging: Path) -> None:
    """A reconstruction attack's answer: the decryption (and its optional extras)."""
    from instahide_bench.core.challenge import check_finite
    from instahide_bench.core.io import save_npy_atomic

    if result.decryption is None:
        raise ValueError(f"attack {attack!r} returned no decryption")
    decryption = np.asarray(result.decryption)
    expected = (challenge.num_rows, 32, 32, 3)
    if decryption.shape != expected:
        raise ValueError(f"attack {attack!r} returned a decryption of shape {decryption.shape}, expected {expected}")
    decryption = decryption.astype(np.float32, copy=False)
    check_finite(decryption, Path(f"<decryption returned by {attack}>"))
    save_npy_atomic(staging / "decryption.npy", decryption)
    if result.recovered is not None:
        save_npy_atomic(staging / "recovered.npy", np.asarray(result.recovered, dtype=np.float32))
    if result.assignment is not None:
        save_npy_atomic(staging / "assignment.npy", np.asarray(result.assignment, dtype=np.int64))
    if result.inputs is not None:
        inputs = np.asarray(result.inputs, dtype=np.float32)
        if inputs.shape != expected:
            raise ValueError(f"attack {attack!r} returned inputs of shape {inputs.shape}, expected {expected}")
        check_finite(inputs, Path(f"<inputs returned by {attack}>"))
        save_npy_atomic(staging / "inputs.npy", inputs)
    if result.labels is not None:
        labels = np.asarray(result.labels, dtype=np.float32)
        if labels.shape != (challenge.num_rows, challenge.meta.num_classes):
            raise ValueError(f"attack {attack!r} returned labels of shape {labels.shape}")
        check_finite(labels, Path(f"<labels returned by {attack}>"))
        save_npy_atomic(staging / "input_labels.npy", labels)


def _jsonable(value: Any) -> Any:
    """Attack info made JSON-safe (numpy scalars and arrays become numbers and lists)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def main(argv: list[str]) -> int:
    job = WorkerJob.read(Path(argv[0]))
    logging.basicConfig(
        level=job.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    try:
        run_job(job)
    except BaseException as exc:  # report every failure to the parent, readable
        stage = "setup" if isinstance(exc, SetupRefused) else "run"
        error = {
            "stage": stage,
            "about": getattr(exc, "about", ""),
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": traceback.format_exc(),
        }
        Path(job.staging_dir, "error.json").write_text(json.dumps(error, indent=2), encoding="utf-8")
        for name in (*OUTPUT_FILES, "result.json"):
            Path(job.staging_dir, name).unlink(missing_ok=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
