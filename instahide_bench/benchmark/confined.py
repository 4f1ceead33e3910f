"""Start a child process that may import plugin code, confined, and watch it.

Attack plugins are untrusted: their modules, config defaults and constructors run only in a
child confined here, never in the parent (which runs the suite's own code, scores and
records). Three kinds of child use it: the attack worker, the catalogue worker (listing and
checking attacks) and nothing else. What the child may reach is decided by the parent from
its own knowledge and the user's options, never from the plugin:

* read: the system and the Python installation (and the importable entries of other
  ``sys.path`` and plugin directories), plus the user's granted data sources;
* write: its scratch directory, the directories the caller names, the shared caches;
* never: any excluded directory (every challenge the runner knows of), however a grant is
  phrased: a grant that contains one is split around it (:func:`.sandbox.grants_avoiding`);
* network: its own loopback, or TCP connections to the user's granted ports only.

Where the kernel has Landlock the child runs inside :mod:`.sandbox`; elsewhere it runs
behind the audit-hook guard of :mod:`.isolation`, which is told the excluded directories.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from instahide_bench.benchmark import sandbox
from instahide_bench.benchmark.grants import Grants, is_inside
from instahide_bench.benchmark.isolation import sandbox_env, subprocess_env
from instahide_bench.core.errors import InstaHideBenchError, ResourceLimitError

logger = logging.getLogger(__name__)

_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Confinement:
    """What a confined child may reach.

    Attributes
    ----------
    abi : int
        The Landlock ABI to use, or 0 for the audit-hook fallback.
    exclude : tuple of Path
        Directories the child may never read, list or learn the name of (challenges: the
        attacked one, a matrix's siblings). Resolved.
    grants : Grants
        The user's read paths and TCP ports.
    write : tuple of Path
        Directories the child writes besides its scratch directory and the caches.
    namespaces : bool
        Also hide the host (PID tree, ``/proc``, network) where the kernel allows it.
    plugin_paths : tuple of str
        Directories of untrusted plugin packages: on the child's ``sys.path``, never the parent's.
    """

    abi: int
    exclude: tuple[Path, ...]
    grants: Grants = field(default_factory=Grants)
    write: tuple[Path, ...] = ()
    namespaces: bool = True
    plugin_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class Limits:
    """Wall-clock and resident-memory limits of a confined child's whole process tree."""

    time_limit: float | None = None
    memory_limit_bytes: int | None = None


@dataclass
class Finished:
    """How a confined child ended."""

    code: int
    seconds: float
    peak_rss_bytes: int
    status: sandbox.SandboxStatus | None


def _caches() -> list[Path]:
    from instahide_bench.core.data.patches import cache_root

    return [cache_root().expanduser(), Path(os.environ.get("NUMBA_CACHE_DIR") or cache_root() / "numba")]


def check_writable(paths: Sequence[Path], exclude: Sequence[Path]) -> list[str]:
    """``paths`` resolved (and created), refusing any inside an excluded directory or containing one."""
    from instahide_bench.core.challenge import refuse_inside_challenge

    resolved = []
    for path in paths:  # every check before the first directory is made
        real = Path(path).resolve()
        for root in exclude:
            if is_inside(real, root):
                raise InstaHideBenchError(f"{path} lies inside the challenge directory {root}; choose another")
            if is_inside(root, real):
                raise InstaHideBenchError(
                    f"the challenge directory {root} lies inside {path}, which the attack may write; move it"
                )
        refuse_inside_challenge(real, "an attack's output")
        resolved.append(real)
    for real in resolved:
        real.mkdir(parents=True, exist_ok=True)
    return [str(real) for real in resolved]


def _plan(confinement: Confinement, scratch: Path, argv: list[str]) -> sandbox.SandboxPlan:
    exclude = confinement.exclude
    write = check_writable([scratch, *confinement.write, *_caches()], exclude)
    plugins = [p for d in confinement.plugin_paths for p in sandbox.importable_entries(os.path.realpath(d))]
    read = sandbox.grants_avoiding(
        [*sandbox.SYSTEM_READ, *sandbox.python_read_paths(), *plugins, *confinement.grants.read], exclude
    )
    # Listing a directory that holds a challenge would show where it is: such an entry lends its modules only.
    listed = [
        d
        for d in [*sandbox.python_listed_dirs(), *map(os.path.realpath, confinement.plugin_paths)]
        if not any(is_inside(root, Path(d)) or is_inside(Path(d), root) for root in exclude)
    ]
    return sandbox.SandboxPlan(
        read=read,
        listed=sorted(set(listed)),
        write=write,
        argv=argv,
        private_network=not confinement.grants.connect,  # a remote scheduler needs the real network, by port
        connect_ports=list(confinement.grants.connect),
        namespaces=confinement.namespaces,
    )


def _streams(exclude: Sequence[Path]) -> dict[str, Any]:
    """Standard output/error for the child: ours, unless one is a file inside a challenge (its name would leak)."""
    streams: dict[str, Any] = {}
    for fd, name in ((1, "stdout"), (2, "stderr")):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(os.sep) and any(is_inside(Path(target), root) for root in exclude):
                streams[name] = subprocess.DEVNULL
    return streams


def _with_plugin_paths(env: dict[str, str], plugin_paths: Sequence[str]) -> dict[str, str]:
    if plugin_paths:
        paths = [os.path.realpath(p) for p in plugin_paths]
        env["PYTHONPATH"] = os.pathsep.join([*[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p], *paths])
    return env


def start(argv: list[str], confinement: Confinement, scratch: Path) -> tuple[subprocess.Popen, int | None]:
    """Start ``argv`` (the suite's own worker module) confined; return the process and its status pipe."""
    if confinement.abi:
        plan = _plan(confinement, scratch, argv)
        env = _with_plugin_paths(sandbox_env(confinement.exclude, scratch), confinement.plugin_paths)
        return sandbox.start(plan, env=env, cwd=scratch, **_streams(confinement.exclude))
    check_writable([scratch, *confinement.write], confinement.exclude)
    env = _with_plugin_paths(subprocess_env(confinement.exclude, scratch / "site"), confinement.plugin_paths)
    process = subprocess.Popen(
        argv, cwd=scratch, env=env, start_new_session=True, stdin=subprocess.DEVNULL, **_streams(confinement.exclude)
    )
    return process, None


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


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as handle:
                found.extend(int(c) for c in handle.read().split())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return found


def kill(process: subprocess.Popen) -> None:
    """SIGKILL the child's whole process group and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _watch(process: subprocess.Popen, limits: Limits, what: str) -> tuple[int, float, int]:
    """Wait for the child, enforcing limits; return (exit code, seconds, peak tree RSS)."""
    started = time.perf_counter()
    peak = 0
    while True:
        code = process.poll()
        elapsed = time.perf_counter() - started
        if code is not None:
            return code, elapsed, peak
        peak = max(peak, process_tree_rss(process.pid))
        if limits.time_limit is not None and elapsed > limits.time_limit:
            kill(process)
            raise ResourceLimitError(
                f"{what} hit the wall-clock limit of {limits.time_limit:g} s and was stopped; no output was written"
            )
        if limits.memory_limit_bytes is not None and peak > limits.memory_limit_bytes:
            kill(process)
            raise ResourceLimitError(
                f"{what} used {peak / 2**20:.0f} MiB, over the memory limit of "
                f"{limits.memory_limit_bytes / 2**20:.0f} MiB, and was stopped; no output was written"
            )
        time.sleep(_POLL_SECONDS)


def run(
    argv: list[str],
    confinement: Confinement,
    scratch: Path,
    limits: Limits,
    what: str,
    error: type[InstaHideBenchError] = InstaHideBenchError,
) -> Finished:
    """Run ``argv`` confined to the end (or a limit); a sandbox that could not be built raises ``error``.

    ``what`` names the child in messages ("attack 'zero'").
    """
    process, status_fd = start(argv, confinement, scratch)
    status: sandbox.SandboxStatus | None = None
    try:
        code, elapsed, peak = _watch(process, limits, what)
    except BaseException:
        if process.poll() is None:
            kill(process)
        raise
    finally:
        if status_fd is not None:
            status = sandbox.read_status(status_fd)
    if status is not None:
        for warning in status.warnings:
            logger.warning("sandbox of %s: %s", what, warning)
    if confinement.abi and (status is None or status.isolation == "failed"):
        problem = "; ".join(status.warnings) if status else f"the launcher exited with code {code}"
        raise error(f"{what} did not run: {problem}")
    return Finished(code, elapsed, peak, status)


def worker_argv(module: str, *args: str) -> list[str]:
    """``python -m MODULE ARGS`` with this interpreter."""
    return [sys.executable, "-m", module, *args]


__all__ = ["Confinement", "Finished", "Limits", "check_writable", "kill", "run", "start"]
