"""Run one attack on one challenge, isolated, measured, and optionally scored and recorded.

Attack plugins are untrusted code, and this process never runs any of it: it does not import
the attack's module, build its config or construct it. The attack worker
(:mod:`.attack_worker`) does all of that in a child confined by :mod:`.confined` (the kernel
sandbox of :mod:`.sandbox`, or the audit-hook guard of :mod:`.isolation` where the kernel has
no Landlock), with a copy of the public files only. This process passes plain data in (the
name, the user's overrides) and reads plain data back (``result.json``, the output arrays),
checking them as it would any submission. Only the user's own values widen the sandbox
(:mod:`.grants`). Scoring and recording run in yet another process that has never loaded a
plugin (:mod:`.scoring_process`), from the files on disk.

The parent watches the wall clock and the resident memory of the child's whole process tree,
kills it on a limit with a clear message, and moves the outputs into ``out_dir`` only once the
child has finished cleanly, so a crash or a limit never leaves a partial ``decryption.npy``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from instahide_bench.benchmark import confined
from instahide_bench.benchmark.attack_worker import OUTPUT_FILES
from instahide_bench.benchmark.grants import user_grants
from instahide_bench.benchmark.isolation import AUDIT_HOOK, IsolationMode, choose_isolation
from instahide_bench.core.challenge import META_FILE, PublicChallenge, copy_public_files, load_challenge
from instahide_bench.core.errors import ConfigError, InputFileError, InstaHideBenchError
from instahide_bench.core.io import read_json, write_json_atomic, write_text_atomic
from instahide_bench.core.threats import MEMBERSHIP, RECONSTRUCTION, THREAT_MODELS

logger = logging.getLogger(__name__)

#: The largest result.json the parent reads back from a worker (it is a few kB in practice).
_MAX_RESULT_BYTES = 16 * 2**20
#: The longest text the parent repeats from a worker (messages, versions).
_MAX_TEXT = 2000


class AttackRunError(InstaHideBenchError):
    """The attack crashed or returned something unusable."""


@dataclass(frozen=True)
class RunOptions:
    """How to run an attack: limits, device, the attack's own seed, resuming from its caches."""

    time_limit: float | None = None
    memory_limit_bytes: int | None = None
    device: str = "auto"
    seed: int = 0
    resume: bool = False
    isolation: IsolationMode = "auto"
    namespaces: bool = True  # under Landlock, also hide the host (PID tree, /proc, network) where allowed
    plugin_paths: tuple[str, ...] = ()  # untrusted plugin packages, put on the attack's sys.path only


@dataclass
class RunReport:
    """What a run produced, as written to ``out_dir/run.json``."""

    attack: str
    attack_version: str
    config: dict[str, Any]
    complexity: str
    challenge_id: str
    challenge_dir: str
    out_dir: str
    device: str
    runtime_seconds: float
    peak_memory_bytes: int
    succeeded: bool
    message: str
    info: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, Any] | None = None
    entry_path: str | None = None
    isolation: str = AUDIT_HOOK
    isolation_details: dict[str, Any] = field(default_factory=dict)
    threat_model: str = RECONSTRUCTION


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InstaHideBenchError(f"device {name!r} requested but no CUDA device is available")
    return name


def run_attack(
    attack_name: str,
    challenge_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    overrides: dict[str, Any] | None = None,
    options: RunOptions = RunOptions(),
    score: bool = False,
    record: bool = False,
    leaderboard_root: str | os.PathLike[str] | None = None,
    entry_name: str | None = None,
    command_line: str | None = None,
    entry_stem: str | None = None,
    exclude: Sequence[str | os.PathLike[str]] = (),
) -> RunReport:
    """Run ``attack_name`` on the challenge in ``challenge_dir``; write its outputs to ``out_dir``.

    ``exclude`` names further directories the attack may never read, besides the attacked
    challenge (the matrix passes the folder of all its challenges, whose keys hold the same
    private images). ``entry_stem`` fixes the leaderboard entry's file name (a rerun replaces
    it), for callers such as the matrix that may run the same cell again after being killed.
    """
    challenge_dir, out_dir = Path(challenge_dir).resolve(), Path(out_dir).resolve()
    challenge = load_challenge(challenge_dir)  # validates the public files before any work
    excluded = tuple(dict.fromkeys([challenge_dir, *(Path(p).resolve() for p in exclude)]))
    grants = user_grants(overrides or {}, excluded)
    abi = choose_isolation(options.isolation)
    workdir = out_dir / "work"
    confined.check_writable([out_dir, workdir], excluded)  # refuses before creating anything

    with tempfile.TemporaryDirectory(prefix="instahide-attack-") as scratch_name:
        scratch = Path(scratch_name)
        public_dir = copy_public_files(challenge_dir, scratch / "challenge")
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
        try:
            job = {
                "attack": attack_name,
                "overrides": grants.overrides,
                "public_dir": str(public_dir),
                "staging_dir": str(staging),
                "workdir": str(workdir),
                "device": options.device,
                "seed": options.seed,
                "resume": options.resume,
                # Under Landlock the child is told nothing about the challenges: it may not open them anyway.
                "forbidden": [] if abi else [str(p) for p in excluded],
                "log_level": logging.getLogger().getEffectiveLevel(),
            }
            (scratch / "job.json").write_text(json.dumps(job), encoding="utf-8")
            confinement = confined.Confinement(
                abi, excluded, grants, (staging, workdir), options.namespaces, tuple(options.plugin_paths)
            )
            finished = confined.run(
                confined.worker_argv("instahide_bench.benchmark.attack_worker", str(scratch / "job.json")),
                confinement,
                scratch,
                confined.Limits(options.time_limit, options.memory_limit_bytes),
                f"attack {attack_name!r}",
                AttackRunError,
            )
            if finished.code != 0:
                raise _failure(attack_name, staging, finished.code, out_dir, challenge_dir)
            result = _read_result(staging / "result.json", attack_name)
            _check_outputs(staging, attack_name, challenge, result["threat_model"])
            for name in OUTPUT_FILES:
                if (staging / name).exists():
                    os.replace(staging / name, out_dir / name)
                else:
                    (out_dir / name).unlink(missing_ok=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    status = finished.status
    details = {} if status is None else {k: v for k, v in status.to_json().items() if k != "isolation"}
    report = RunReport(
        attack=attack_name,
        attack_version=result["attack_version"],
        config=result["config"],
        complexity=result["complexity"],
        challenge_id=challenge.meta.challenge_id,
        challenge_dir=str(challenge_dir),
        out_dir=str(out_dir),
        device=result["device"],
        runtime_seconds=result["runtime_seconds"] or finished.seconds,
        peak_memory_bytes=max(finished.peak_rss_bytes, result["peak_rss_bytes"]),
        succeeded=result["succeeded"],
        message=result["message"],
        info=result["info"],
        isolation=status.isolation if status is not None else AUDIT_HOOK,
        isolation_details={**details, "grants": grants.to_json()},
        threat_model=result["threat_model"],
    )
    if score or record:
        from instahide_bench.benchmark.scoring_process import score_run

        score_run(
            report,
            record=record,
            leaderboard_root=leaderboard_root,
            entry_name=entry_name,
            command_line=command_line or shlex.join(sys.argv),
            entry_stem=entry_stem,
        )
    write_json_atomic(out_dir / "run.json", asdict(report))
    return report


def _text(value: object, what: str, attack: str) -> str:
    """A short single line from the worker (which ran plugin code): a string, bounded, no control characters."""
    if not isinstance(value, str):
        raise AttackRunError(f"attack {attack!r} reported a {what} that is not text ({type(value).__name__})")
    cleaned = "".join(ch if ch.isprintable() else " " for ch in value)
    return cleaned if len(cleaned) <= _MAX_TEXT else cleaned[:_MAX_TEXT] + "..."


def _number(value: object, what: str, attack: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise AttackRunError(f"attack {attack!r} reported a {what} that is not a non-negative number: {value!r}")
    return float(value)


def _read_result(path: Path, attack: str) -> dict[str, Any]:
    """The worker's result.json, checked field by field: it was written in a process that ran plugin code."""
    if not path.is_file() or path.stat().st_size > _MAX_RESULT_BYTES:
        raise AttackRunError(f"attack {attack!r} left no readable result (missing or over {_MAX_RESULT_BYTES} bytes)")
    try:
        data = read_json(path)
    except (InstaHideBenchError, RecursionError) as exc:
        raise AttackRunError(f"attack {attack!r} left an unreadable result: {exc}") from None
    if not isinstance(data, dict):
        raise AttackRunError(f"attack {attack!r} left a result that is not a JSON object")
    threat_model = data.get("threat_model")
    if threat_model not in THREAT_MODELS:
        raise AttackRunError(f"attack {attack!r} reported an unknown threat model {threat_model!r}")
    for name in ("config", "info"):
        if not isinstance(data.get(name), dict):
            raise AttackRunError(f"attack {attack!r} reported a {name} that is not a JSON object")
    if not isinstance(data.get("succeeded"), bool):
        raise AttackRunError(f"attack {attack!r} reported no success flag")
    return {
        "attack_version": _text(data.get("attack_version"), "version", attack),
        "complexity": _text(data.get("complexity"), "complexity", attack),
        "threat_model": threat_model,
        "config": data["config"],
        "device": _text(data.get("device"), "device", attack),
        "succeeded": data["succeeded"],
        "message": _text(data.get("message"), "message", attack),
        "info": data["info"],
        "runtime_seconds": _number(data.get("runtime_seconds"), "run time", attack),
        "peak_rss_bytes": int(_number(data.get("peak_rss_bytes"), "peak memory", attack)),
    }


def _check_outputs(staging: Path, attack: str, challenge: PublicChallenge, threat_model: str) -> None:
    """The worker's answer, loaded as any submission is (shape, dtype, no pickles, finite values)."""
    try:
        if threat_model == MEMBERSHIP:
            from instahide_bench.core.membership_scoring import load_scores

            if challenge.membership is None:
                raise AttackRunError(f"attack {attack!r} answered as a membership attack on a plain challenge")
            load_scores(staging / "membership_scores.npy", len(challenge.membership))
            return
        from instahide_bench.core.submission import load_decryption

        load_decryption(staging / "decryption.npy", challenge, mmap=True)
        if (staging / "inputs.npy").exists():
            load_decryption(staging / "inputs.npy", challenge, mmap=True)
        if (staging / "input_labels.npy").exists():
            from instahide_bench.core.challenge import check_finite
            from instahide_bench.core.io import load_npy

            path = staging / "input_labels.npy"
            labels = load_npy(path, max_bytes=challenge.num_rows * challenge.meta.num_classes * 8)
            if labels.shape != (challenge.num_rows, challenge.meta.num_classes):
                raise InputFileError(path, f"has shape {labels.shape}, expected one label row per input")
            check_finite(labels, path)
    except InputFileError as exc:
        raise AttackRunError(f"attack {attack!r} returned an unusable answer: {exc.problem}") from None


def _failure(attack: str, staging: Path, code: int, out_dir: Path, challenge_dir: Path) -> InstaHideBenchError:
    """The error for a worker that exited non-zero: a one-line refusal, or a crash with its traceback on disk."""
    error_path = staging / "error.json"
    readable = error_path.is_file() and error_path.stat().st_size <= _MAX_RESULT_BYTES
    try:
        error = read_json(error_path) if readable else None
    except (InstaHideBenchError, RecursionError):
        error = None
    if not isinstance(error, dict):
        if code < 0:
            return AttackRunError(f"attack {attack!r} was killed by signal {-code}; no output was written")
        return AttackRunError(
            f"attack {attack!r} exited with code {code} without reporting an error; no output was written"
        )
    message = _text(str(error.get("message", "")), "message", attack).strip()
    if error.get("stage") == "setup":
        if error.get("about") == "challenge":
            return InputFileError(challenge_dir / META_FILE, message)
        return ConfigError(message if repr(attack) in message else f"attack {attack!r}: {message}")
    log_path = out_dir / "attack-error.log"
    write_text_atomic(log_path, str(error.get("traceback", "")))
    kind = _text(str(error.get("type", "")), "error type", attack)
    return AttackRunError(
        f"attack {attack!r} failed: {kind}: {message} (traceback in {log_path}); no output was written"
    )
