"""Run one attack on one challenge, isolated, measured, and optionally scored and recorded.

The attack runs in a child process (:mod:`.attack_worker`) that only has a copy of the
public files, inside a kernel sandbox (:mod:`.sandbox`: Landlock and namespaces) or, where the
kernel has no Landlock, behind the audit-hook guard (:mod:`.isolation`, which says which ran and
why). The parent watches the wall clock and the
resident memory of the child's whole process tree, kills it on a limit with a clear message,
and moves the outputs into ``out_dir`` only once the child has finished cleanly, so a crash
or a limit never leaves a partial ``decryption.npy``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from instahide_bench.benchmark import sandbox
from instahide_bench.benchmark.isolation import AUDIT_HOOK, IsolationMode, choose_isolation, sandbox_env, subprocess_env
from instahide_bench.core.attack import MEMBERSHIP, RECONSTRUCTION
from instahide_bench.core.challenge import KEY_DIR, META_FILE, copy_public_files, load_challenge
from instahide_bench.core.config import apply_overrides, config_to_dict, resolve_data_sources
from instahide_bench.core.errors import InputFileError, InstaHideBenchError, ResourceLimitError
from instahide_bench.core.io import read_json, write_json_atomic

logger = logging.getLogger(__name__)

_POLL_SECONDS = 0.2
_OUTPUT_FILES = ("decryption.npy", "recovered.npy", "assignment.npy", "membership_scores.npy")


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


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as handle:
                found.extend(int(c) for c in handle.read().split())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return found


def process_tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (0 where /proc is unavailable)."""
    total, stack, seen = 0, [pid], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            with open(f"/proc/{current}/status", encoding="ascii") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        stack.extend(_children(current))
    return total


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _watch(process: subprocess.Popen, options: RunOptions, attack: str) -> tuple[int, float, int]:
    """Wait for the child, enforcing limits; return (exit code, seconds, peak tree RSS)."""
    started = time.perf_counter()
    peak = 0
    while True:
        code = process.poll()
        elapsed = time.perf_counter() - started
        if code is not None:
            return code, elapsed, peak
        peak = max(peak, process_tree_rss(process.pid))
        if options.time_limit is not None and elapsed > options.time_limit:
            _kill_group(process)
            raise ResourceLimitError(
                f"attack {attack!r} hit the wall-clock limit of {options.time_limit:g} s and was stopped; "
                "no output was written"
            )
        if options.memory_limit_bytes is not None and peak > options.memory_limit_bytes:
            _kill_group(process)
            raise ResourceLimitError(
                f"attack {attack!r} used {peak / 2**20:.0f} MiB, over the memory limit of "
                f"{options.memory_limit_bytes / 2**20:.0f} MiB, and was stopped; no output was written"
            )
        time.sleep(_POLL_SECONDS)


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
) -> RunReport:
    """Run ``attack_name`` on the challenge in ``challenge_dir``; write its outputs to ``out_dir``.

    ``entry_stem`` fixes the leaderboard entry's file name (a rerun replaces it), for callers
    such as the matrix that may run the same cell again after being killed.
    """
    from instahide_bench.attacks import ATTACKS

    challenge_dir, out_dir = Path(challenge_dir).resolve(), Path(out_dir).resolve()
    challenge = load_challenge(challenge_dir)  # validates the public files before any work
    attack_cls = ATTACKS.get(attack_name)
    if attack_cls.threat_model == MEMBERSHIP and challenge.membership is None:
        raise InputFileError(
            challenge_dir / META_FILE,
            f"{attack_name!r} is a membership attack but this is not a membership challenge "
            "(generate it with --membership)",
        )
    config = resolve_data_sources(apply_overrides(attack_cls.Config(), overrides or {}))
    attack_cls(config)  # validates the config in the parent, where errors are cheap
    device = resolve_device(options.device)
    out_dir.mkdir(parents=True, exist_ok=True)
    workdir = out_dir / "work"
    workdir.mkdir(exist_ok=True)

    abi = choose_isolation(options.isolation)
    with tempfile.TemporaryDirectory(prefix="instahide-attack-") as scratch_name:
        scratch = Path(scratch_name)
        public_dir = copy_public_files(challenge_dir, scratch / "challenge")
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
        status: sandbox.SandboxStatus | None = None
        try:
            # Under Landlock the child is told nothing about the challenge: it may not open it anyway.
            forbidden = [] if abi else [str(challenge_dir / KEY_DIR)]
            job = {
                "attack": attack_name,
                "config": config_to_dict(config),
                "public_dir": str(public_dir),
                "staging_dir": str(staging),
                "workdir": str(workdir.resolve()),
                "device": device,
                "seed": options.seed,
                "resume": options.resume,
                "forbidden": forbidden,
                "log_level": logging.getLogger().getEffectiveLevel(),
            }
            job_path = scratch / "job.json"
            job_path.write_text(json.dumps(job), encoding="utf-8")
            argv = [sys.executable, "-m", "instahide_bench.benchmark.attack_worker", str(job_path)]
            status_fd: int | None = None
            if abi:
                plan = _sandbox_plan(config, challenge_dir, scratch, [staging, workdir], argv, options.namespaces)
                env = sandbox_env(challenge_dir, scratch)
                process, status_fd = sandbox.start(plan, env=env, cwd=scratch, **_streams(challenge_dir))
            else:
                env = subprocess_env(forbidden, scratch / "site")
                process = subprocess.Popen(argv, cwd=scratch, env=env, start_new_session=True, stdin=subprocess.DEVNULL)
            try:
                code, elapsed, peak = _watch(process, options, attack_name)
            except BaseException:
                if process.poll() is None:
                    _kill_group(process)
                raise
            finally:
                if status_fd is not None:
                    status = sandbox.read_status(status_fd)
            if status is not None:
                for warning in status.warnings:
                    logger.warning("attack sandbox: %s", warning)
            if abi and (status is None or status.isolation == "failed"):
                problem = "; ".join(status.warnings) if status else f"the launcher exited with code {code}"
                raise AttackRunError(f"attack {attack_name!r} did not run: {problem}")
            if code != 0:
                raise AttackRunError(_failure_message(attack_name, staging, code, out_dir))
            result = read_json(staging / "result.json")
            for name in _OUTPUT_FILES:
                if (staging / name).exists():
                    os.replace(staging / name, out_dir / name)
                else:
                    (out_dir / name).unlink(missing_ok=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    report = RunReport(
        attack=attack_name,
        attack_version=attack_cls.version,
        config=config_to_dict(config),
        complexity=attack_cls.complexity,
        challenge_id=challenge.meta.challenge_id,
        challenge_dir=str(challenge_dir),
        out_dir=str(out_dir),
        device=device,
        runtime_seconds=float(result.get("runtime_seconds", elapsed)),
        peak_memory_bytes=int(max(peak, result.get("peak_rss_bytes", 0))),
        succeeded=bool(result["succeeded"]),
        message=str(result.get("message", "")),
        info=dict(result.get("info", {})),
        isolation=status.isolation if status is not None else AUDIT_HOOK,
        isolation_details={} if status is None else {k: v for k, v in status.to_json().items() if k != "isolation"},
        threat_model=attack_cls.threat_model,
    )
    if score or record:
        _score_and_record(
            report, challenge_dir, out_dir, record, leaderboard_root, entry_name, command_line, entry_stem
        )
    write_json_atomic(out_dir / "run.json", asdict(report))
    return report


def _sandbox_plan(
    config: Any, challenge_dir: Path, scratch: Path, writable: list[Path], argv: list[str], namespaces: bool = True
) -> sandbox.SandboxPlan:
    """What the attack may read and write: never anything inside ``challenge_dir``."""
    from instahide_bench.core.data.patches import cache_root

    caches = [cache_root().expanduser(), Path(os.environ.get("NUMBA_CACHE_DIR") or cache_root() / "numba")]
    write = [scratch, *writable, *caches]
    for path in write:
        Path(path).mkdir(parents=True, exist_ok=True)
        resolved = Path(path).resolve()
        if _is_inside(resolved, challenge_dir):
            raise InstaHideBenchError(f"{path} lies inside the challenge directory {challenge_dir}; choose another")
        if _is_inside(challenge_dir, resolved):
            raise InstaHideBenchError(
                f"the challenge directory {challenge_dir} lies inside {path}, which the attack may write; move it"
            )
    data = _data_source_paths(config, challenge_dir)
    read = sandbox.grants_avoiding([*sandbox.SYSTEM_READ, *sandbox.python_read_paths(), *data], challenge_dir)
    ports = sorted(set(sandbox.iter_ports(config_to_dict(config).values())))
    # Listing a directory that holds the challenge would show where it is: such an entry lends its modules only.
    listed = [d for d in sandbox.python_listed_dirs() if not _is_inside(challenge_dir, Path(d))]
    return sandbox.SandboxPlan(
        read=read,
        listed=[d for d in listed if not _is_inside(Path(d), challenge_dir)],
        write=[str(Path(p).resolve()) for p in write],
        argv=argv,
        private_network=not ports,  # a remote scheduler needs the real network, filtered by port
        connect_ports=ports,
        namespaces=namespaces,
    )


def _is_inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _data_source_paths(config: Any, challenge_dir: Path) -> list[str]:
    """The paths named by the config's data sources (refusing any inside the challenge)."""
    import dataclasses

    paths = []
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        if not item.metadata.get("data_source") or not isinstance(value, str):
            continue
        _, sep, rest = value.partition(":")
        path = rest.partition("?")[0] if sep else ""
        if not path:
            continue
        if _is_inside(Path(path).resolve(), challenge_dir):
            raise InstaHideBenchError(
                f"the attack's {item.name} ({value}) lies inside the challenge directory {challenge_dir}; "
                "attacks may not read it"
            )
        paths.append(path)
    return paths


def _streams(challenge_dir: Path) -> dict[str, Any]:
    """Standard output/error for the child: ours, unless one is a file inside the challenge (its name would leak)."""
    streams: dict[str, Any] = {}
    for fd, name in ((1, "stdout"), (2, "stderr")):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(os.sep) and _is_inside(Path(target), challenge_dir):
                streams[name] = subprocess.DEVNULL
    return streams


def _failure_message(attack: str, staging: Path, code: int, out_dir: Path) -> str:
    error_path = staging / "error.json"
    if not error_path.exists():
        if code < 0:
            return f"attack {attack!r} was killed by signal {-code}; no output was written"
        return f"attack {attack!r} exited with code {code} without reporting an error; no output was written"
    error = json.loads(error_path.read_text(encoding="utf-8"))
    log_path = out_dir / "attack-error.log"
    log_path.write_text(error.get("traceback", ""), encoding="utf-8")
    return (
        f"attack {attack!r} failed: {error.get('type')}: {error.get('message')} (traceback in {log_path}); "
        "no output was written"
    )


def _score_and_record(
    report: RunReport,
    challenge_dir: Path,
    out_dir: Path,
    record: bool,
    leaderboard_root: str | os.PathLike[str] | None,
    entry_name: str | None,
    command_line: str | None,
    entry_stem: str | None = None,
) -> None:
    from instahide_bench.benchmark.recording import record_membership_run, record_run

    membership = report.threat_model == MEMBERSHIP
    record_as = record_membership_run if membership else record_run
    record_as(
        report,
        challenge_dir,
        out_dir / ("membership_scores.npy" if membership else "decryption.npy"),
        record=record,
        leaderboard_root=leaderboard_root,
        entry_name=entry_name,
        command_line=command_line or shlex.join(sys.argv),
        entry_stem=entry_stem,
    )
