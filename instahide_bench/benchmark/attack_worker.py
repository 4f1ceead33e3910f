"""Child-process side of the attack runner: run one attack on a copy of the public files.

Started as ``python -m instahide_bench.benchmark.attack_worker JOB.json`` by
:mod:`instahide_bench.benchmark.runner`. It installs the key guard first, then loads the
public challenge copy, runs the attack and writes its outputs into the job's staging
directory; the parent validates them and moves them into place. On failure it writes
``error.json`` (type, message, traceback) and exits 1, leaving no decryption behind.
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


@dataclass(frozen=True)
class WorkerJob:
    """Everything the child needs; written by the parent as JSON."""

    attack: str
    config: dict[str, Any]
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


def run_job(job: WorkerJob) -> None:
    from instahide_bench.benchmark.isolation import install_guard

    install_guard(job.forbidden)

    import torch

    from instahide_bench.attacks import ATTACKS, AttackContext
    from instahide_bench.core.attack import MEMBERSHIP
    from instahide_bench.core.challenge import load_challenge
    from instahide_bench.core.config import config_from_dict
    from instahide_bench.core.io import write_json_atomic
    from instahide_bench.encoders import ENCODERS  # noqa: F401  (registers the built-in encoders; lira re-runs one)

    staging = Path(job.staging_dir)
    challenge = load_challenge(job.public_dir)
    attack_cls = ATTACKS.get(job.attack)
    attack = attack_cls(config_from_dict(attack_cls.Config, job.config))
    context = AttackContext(
        device=torch.device(job.device), workdir=Path(job.workdir), seed=job.seed, resume=job.resume
    )
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
        error = {"type": type(exc).__name__, "message": str(exc), "traceback": traceback.format_exc()}
        Path(job.staging_dir, "error.json").write_text(json.dumps(error, indent=2), encoding="utf-8")
        for name in ("decryption.npy", "recovered.npy", "assignment.npy", "membership_scores.npy", "result.json"):
            Path(job.staging_dir, name).unlink(missing_ok=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
