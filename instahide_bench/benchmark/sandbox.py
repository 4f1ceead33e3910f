"""The kernel sandbox around an attack child: Landlock rules, and namespaces that hide the host.

The runner starts ``python -m instahide_bench.benchmark.sandbox STATUS_FD`` and writes a
:class:`SandboxPlan` to its standard input, so that the plan (which names directories around the
challenge) is never in a file or an argument the attack could read. The launcher then

1. tries to enter new user, mount, PID and (unless the attack needs a remote scheduler) network
   namespaces and forks: the attack becomes PID 1 of its own process tree, ``/proc`` is
   remounted to show only that tree (no parent's command line, working directory or memory),
   and the network is a private loopback (the attack's own Dask cluster works on it; nothing
   outside is reachable);
2. restricts itself with Landlock: read the system and Python directories, the public copy and
   the configured data sources; write only scratch, staging, work and cache directories;
   without a private network, TCP bind and connect are denied except on the configured
   scheduler's port (ABI 4); signals and abstract Unix sockets stay inside (ABI 6);
3. reports what it achieved on the status pipe, closes it, and ``exec``s the attack worker with
   standard input on ``/dev/null``: the worker starts with a fresh memory image that never held
   the plan.

A launcher that cannot apply Landlock exits with :data:`EXIT_SANDBOX_FAILED` before the attack
starts (the runner only asks for Landlock where the kernel reported it).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import logging
import os
import signal
import socket
import struct
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from instahide_bench.benchmark import landlock

logger = logging.getLogger(__name__)

#: Exit code of a launcher that could not build the sandbox (the attack never ran).
EXIT_SANDBOX_FAILED = 97

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REC, _MS_PRIVATE = 2, 4, 8, 1 << 14, 1 << 18
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
_PR_SET_PDEATHSIG = 1

#: System directories every Python process needs to read (missing ones are skipped).
SYSTEM_READ = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/opt", "/sys")


@dataclass(frozen=True)
class SandboxPlan:
    """What the attack child may touch. Paths are absolute; none lies inside the challenge."""

    read: list[str]
    write: list[str]
    argv: list[str]
    listed: list[str] = field(default_factory=list)
    private_network: bool = True
    connect_ports: list[int] = field(default_factory=list)
    namespaces: bool = True


@dataclass(frozen=True)
class SandboxStatus:
    """What the launcher achieved, as recorded in ``run.json``."""

    isolation: str
    namespaces: list[str] = field(default_factory=list)
    network: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------ parent side


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def grants_avoiding(
    paths: Iterable[str | os.PathLike[str]], excluded: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]
) -> list[str]:
    """``paths`` resolved, with any that contains an ``excluded`` directory replaced by its other children.

    A grant is a whole hierarchy: granting ``/work`` would grant a challenge in
    ``/work/sets/c``. Such a path is split into its entries, recursively along the way to each
    excluded directory, so that everything else stays readable and the challenges do not.
    Paths inside an excluded directory are dropped.
    """
    if isinstance(excluded, (str, os.PathLike)):
        excluded = [excluded]
    forbidden = [os.path.realpath(e) for e in excluded]
    found: list[str] = []
    seen: set[str] = set()

    def visit(path: str) -> None:
        # Landlock grants what a path resolves to: an entry that is a symlink to a directory above a
        # challenge (pytest's ``*current``, a user's shortcut) would grant the challenge itself.
        path = os.path.realpath(path)
        if path in seen or any(_inside(path, root) for root in forbidden):
            return
        seen.add(path)
        if not any(_inside(root, path) for root in forbidden):
            found.append(path)
            return
        try:
            entries = sorted(os.listdir(path))
        except OSError:
            return
        for name in entries:
            visit(os.path.join(path, name))

    for path in paths:
        resolved = os.path.realpath(path)
        if os.path.exists(resolved):
            visit(resolved)
    return sorted(set(found))


_MODULE_SUFFIXES = (".py", ".pyc", ".pth", ".so", ".pyd", ".dist-info", ".egg-info", ".egg-link", ".egg", ".zip")


def importable_entries(directory: str) -> list[str]:
    """What Python may import from ``directory``: modules, packages and their metadata, nothing else."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    found = []
    for name in names:
        path = os.path.join(directory, name)
        if name.endswith(_MODULE_SUFFIXES) or os.path.isfile(os.path.join(path, "__init__.py")):
            found.append(path)
    return found


def python_read_paths(extra: Iterable[str] = ()) -> list[str]:
    """What this Python needs to read: its installation whole, and what is importable elsewhere.

    The installation (prefixes, the interpreter's directory, ``sys.path`` entries inside them) is
    granted as a whole. Any other ``sys.path`` or ``PYTHONPATH`` entry (the working directory of
    ``python -m``, a test's root, a plugin folder) contributes only its modules, packages and
    their metadata: such a directory may also hold challenges and matrix outputs, whose keys
    (of the same private images, in a matrix) are none of the attack's business.
    """
    import instahide_bench

    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    prefixes = {os.path.realpath(p) for p in prefixes}
    paths = set(prefixes)
    paths.add(os.path.dirname(os.path.realpath(sys.executable)))
    paths.add(os.path.dirname(os.path.abspath(instahide_bench.__file__)))
    entries = [p for p in sys.path if p] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    for entry in entries:
        resolved = os.path.realpath(entry)
        if any(_inside(resolved, prefix) for prefix in prefixes) or os.path.isfile(resolved):
            paths.add(resolved)
        else:
            paths.update(importable_entries(resolved))
    paths.update(extra)
    return sorted(paths)


def python_listed_dirs() -> list[str]:
    """The ``sys.path``/``PYTHONPATH`` directories outside the installation.

    Python lists such a directory to import from it (and to find entry points), so it needs the
    right to list it, which Landlock grants for the whole tree beneath: names, never contents.
    """
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    entries = [p for p in sys.path if p] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    resolved = {os.path.realpath(p) for p in entries}
    return sorted(p for p in resolved if os.path.isdir(p) and not any(_inside(p, prefix) for prefix in prefixes))


def start(plan: SandboxPlan, *, env: dict[str, str], cwd: Path, **popen: Any) -> tuple[Any, int]:
    """Start the launcher for ``plan``; return the process and the read end of its status pipe."""
    import subprocess

    read_fd, write_fd = os.pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "instahide_bench.benchmark.sandbox", str(write_fd)],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            pass_fds=(write_fd,),
            start_new_session=True,
            **popen,
        )
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    assert process.stdin is not None
    with contextlib.suppress(BrokenPipeError):
        process.stdin.write(json.dumps(asdict(plan)).encode())
    with contextlib.suppress(BrokenPipeError):
        process.stdin.close()
    return process, read_fd


def read_status(read_fd: int) -> SandboxStatus | None:
    """The launcher's report (None if it died before writing one); closes ``read_fd``."""
    chunks = []
    with os.fdopen(read_fd, "rb") as pipe:
        chunks.append(pipe.read())
    text = b"".join(chunks).decode("utf-8", "replace").strip()
    if not text:
        return None
    data = json.loads(text)
    if "error" in data:
        return SandboxStatus(isolation="failed", warnings=[str(data["error"])])
    return SandboxStatus(**data)


# ---------------------------------------------------------------------------- launcher side


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as handle:
        handle.write(text)


def _enter_namespaces(private_network: bool) -> list[str]:
    """Unshare user, mount, PID (and network) namespaces; [] where the kernel refuses."""
    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = os.getuid(), os.getgid()
    names = ["user", "mount", "pid"]
    flags = _CLONE_NEWUSER | _CLONE_NEWNS | _CLONE_NEWPID
    if private_network:
        flags |= _CLONE_NEWNET
        names.append("net")
    if libc.unshare(flags) != 0:
        return []
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1")
    _write("/proc/self/gid_map", f"{gid} {gid} 1")
    return names


def _private_proc_and_loopback(namespaces: list[str]) -> list[str]:
    """In the new namespaces (as their PID 1): a /proc of this tree only, and the loopback up.

    Returns warnings: some container runtimes forbid mounting a fresh /proc, and the host's
    then stays visible (Landlock still guards it as without namespaces).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    warnings = []
    try:
        _check(libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "mount --make-rprivate /")
        _check(libc.mount(b"proc", b"/proc", b"proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, None), "mount proc")
    except OSError as exc:
        warnings.append(f"could not mount a private /proc ({exc}): the attack can read its parents' command lines")
    if "net" in namespaces:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            request = struct.pack("16sH22x", b"lo", 0)
            flags = struct.unpack("16sH22x", fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, request))[1]
            fcntl.ioctl(sock.fileno(), _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))
    return warnings


def _restrict(plan: SandboxPlan, abi: int, private_network: bool) -> None:
    ruleset = landlock.Ruleset(abi, restrict_tcp=not private_network)
    ruleset.allow_paths(plan.read, landlock.READ)
    ruleset.allow_paths(plan.listed, landlock.FS.READ_DIR)
    ruleset.allow_paths(["/proc"], landlock.READ)
    ruleset.allow_paths(["/dev"], landlock.READ | landlock.FS.WRITE_FILE | landlock.FS.IOCTL_DEV)
    ruleset.allow_paths(["/dev/shm", *plan.write], ruleset.fs)
    for port in plan.connect_ports:
        ruleset.allow_port(port)
    ruleset.restrict_self()


def _report(status_fd: int, payload: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        os.write(status_fd, json.dumps(payload).encode())
    with contextlib.suppress(OSError):
        os.close(status_fd)


def _wait_and_exit(child: int) -> None:
    """The launcher outside the namespaces: wait for the sandboxed tree's PID 1, pass on its status."""
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)


def _die_with_parent() -> None:
    """SIGKILL this process when its parent dies: a runner killed mid-run leaves no attack behind."""
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(EXIT_SANDBOX_FAILED)


def launch(plan: SandboxPlan, status_fd: int) -> None:
    """Build the sandbox and exec ``plan.argv`` inside it (does not return)."""
    _die_with_parent()
    abi = landlock.abi_version()
    namespaces = _enter_namespaces(plan.private_network) if plan.namespaces else []
    if "pid" in namespaces:
        child = os.fork()
        if child:
            os.close(status_fd)
            _wait_and_exit(child)
        _die_with_parent()
    warnings = []
    try:
        if namespaces:
            warnings += _private_proc_and_loopback(namespaces)
        private_network = "net" in namespaces
        _restrict(plan, abi, private_network)
    except OSError as exc:
        _report(status_fd, {"error": f"could not build the sandbox: {exc}"})
        os._exit(EXIT_SANDBOX_FAILED)
    if not namespaces and plan.namespaces:
        warnings.append(
            "no user/PID namespaces (unprivileged user namespaces are disabled): the attack can read its "
            "parents' command lines in /proc (Landlock still denies their memory, environment and files)"
        )
    if private_network:
        network = "private loopback (network namespace)"
    elif abi >= 4:
        ports = ",".join(map(str, plan.connect_ports))
        network = f"tcp denied except connect to ports {ports}" if ports else "tcp denied"
    else:
        network = "unrestricted"
        warnings.append(f"Landlock ABI {abi} cannot restrict TCP and there is no network namespace")
    _report(
        status_fd,
        {"isolation": f"landlock ABI {abi}", "namespaces": namespaces, "network": network, "warnings": warnings},
    )
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.execv(plan.argv[0], plan.argv)


def _read_plan() -> SandboxPlan:
    return SandboxPlan(**json.loads(sys.stdin.buffer.read()))


def main(argv: list[str]) -> int:
    status_fd = int(argv[0])
    try:
        plan = _read_plan()
    except (ValueError, TypeError) as exc:
        _report(status_fd, {"error": f"unreadable sandbox plan: {exc}"})
        return EXIT_SANDBOX_FAILED
    launch(plan, status_fd)
    return EXIT_SANDBOX_FAILED  # pragma: no cover - launch execs or exits


def iter_ports(addresses: Iterable[object]) -> Iterator[int]:
    """TCP ports named by ``tcp://HOST:PORT`` strings among ``addresses`` (others are skipped)."""
    for address in addresses:
        if isinstance(address, str) and "://" in address:
            _, _, rest = address.partition("://")
            port = rest.rsplit(":", 1)[-1].split("/", 1)[0]
            if port.isdigit():
                yield int(port)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
