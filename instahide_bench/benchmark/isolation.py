"""Keeping attacks away from the key: which isolation runs, and the audit-hook fallback.

The attack runner starts each attack in a child process that only has a copy of the public
files. Where the kernel has Landlock (Linux >= 5.13), the child runs inside the kernel sandbox of
:mod:`.sandbox`: the kernel refuses it every file outside the Python installation, its public
copy, its configured data sources and its own scratch, output and cache directories, however
the request is made (Python, ctypes, a ``cat`` subprocess, a Dask worker it starts). Where user
namespaces are allowed it also gets its own PID tree, ``/proc`` and loopback network, so it
cannot read its parents' command lines or reach anything over TCP outside its own cluster. It is
told nothing about the challenge's location (no path in its job file, arguments, environment or
file descriptors).

Where Landlock is missing, :func:`choose_isolation` logs a warning and the runner falls back to
the CPython audit hook below: the child (and every Python process it starts, e.g. Dask workers)
refuses to open, list, link or hand to a subprocess any path inside the original challenge
directory, wherever the path came from. That fallback stops accidental use and path guessing by
Python code; it is no sandbox against deliberately malicious native code (ctypes, compiled
extensions, non-Python subprocesses), and it has to know, and so reveals, the key's path.
``run.json`` and leaderboard entries record which isolation ran: ``landlock ABI N`` or
``audit-hook``. See ``docs/isolation.md`` for the threat model.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from instahide_bench.core.errors import InstaHideBenchError

logger = logging.getLogger(__name__)

#: ``run.json``'s ``isolation`` when the audit-hook guard ran instead of Landlock.
AUDIT_HOOK = "audit-hook"
#: ``auto``: Landlock where available, else the audit hook with a warning; or require one.
IsolationMode = Literal["auto", "landlock", "audit-hook"]

#: Environment variable that carries the forbidden roots to Python subprocesses.
FORBIDDEN_ENV = "INSTAHIDE_BENCH_FORBIDDEN_PATHS"

_PATH_EVENTS = frozenset(
    {
        "open",
        "os.listdir",
        "os.scandir",
        "os.chdir",
        "os.chmod",
        "os.chown",
        "os.truncate",
        "os.rename",
        "os.remove",
        "os.rmdir",
        "os.mkdir",
        "shutil.copyfile",
        "shutil.copytree",
        "shutil.rmtree",
        "os.link",
        "os.symlink",
        "os.utime",
        "glob.glob",
        "os.startfile",
    }
)
_SPAWN_EVENTS = frozenset({"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn"})


class KeyAccessError(PermissionError):
    """Raised inside an isolated attack that touches the challenge's original directory."""


def _resolve(candidate: object, cwd: str | None = None) -> str | None:
    if isinstance(candidate, int) or candidate is None:
        return None
    if isinstance(candidate, bytes):
        candidate = os.fsdecode(candidate)
    if not isinstance(candidate, (str, os.PathLike)):
        return None
    text = os.fspath(candidate)
    if not text:
        return None
    try:
        return os.path.realpath(os.path.join(cwd, text) if cwd and not os.path.isabs(text) else text)
    except (OSError, ValueError):
        return None


def _inside(resolved: str, roots: tuple[str, ...]) -> bool:
    return any(resolved == root or resolved.startswith(root + os.sep) for root in roots)


def install_guard(forbidden: Iterable[str | os.PathLike[str]]) -> None:
    """Install the audit hook in this process (it cannot be removed afterwards)."""
    roots = tuple(sorted({os.path.realpath(os.fspath(p)) for p in forbidden}))
    if not roots:
        return

    def deny(path: str) -> None:
        raise KeyAccessError(
            f"instahide-bench isolation: attacks may not access {path} (the challenge's key lives there)"
        )

    def hook(event: str, args: tuple) -> None:
        if event in _PATH_EVENTS:
            for arg in args[:2]:
                resolved = _resolve(arg)
                if resolved is not None and _inside(resolved, roots):
                    deny(resolved)
        elif event in _SPAWN_EVENTS:
            cwd = (
                args[2]
                if event == "subprocess.Popen" and len(args) > 2 and isinstance(args[2], (str, bytes, os.PathLike))
                else None
            )
            for arg in _flatten(args):
                resolved = _resolve(arg, os.fsdecode(cwd) if cwd is not None else None)
                if resolved is not None and _inside(resolved, roots):
                    deny(resolved)
                if isinstance(arg, str) and any(root in arg for root in roots):
                    deny(arg)

    sys.addaudithook(hook)
    os.environ[FORBIDDEN_ENV] = os.pathsep.join(roots)


def _flatten(args: object) -> Iterable[object]:
    if isinstance(args, (list, tuple)):
        for item in args:
            yield from _flatten(item)
    elif isinstance(args, dict):
        yield from _flatten(list(args.values()))
    else:
        yield args


_SITECUSTOMIZE = '''"""Written by instahide-bench: extends the key guard to Python subprocesses of an attack."""
import os as _os
_roots = _os.environ.get("{env}")
if _roots:
    from instahide_bench.benchmark.isolation import install_guard as _install_guard
    _install_guard(_roots.split(_os.pathsep))
'''


def subprocess_env(
    forbidden: Iterable[str | os.PathLike[str]], site_dir: Path, base_env: dict[str, str] | None = None
) -> dict[str, str]:
    """Environment for the attack child: guard roots, a sitecustomize that re-installs the guard, no stray paths."""
    site_dir.mkdir(parents=True, exist_ok=True)
    (site_dir / "sitecustomize.py").write_text(_SITECUSTOMIZE.format(env=FORBIDDEN_ENV), encoding="utf-8")
    env = dict(base_env if base_env is not None else os.environ)
    for name in ("OLDPWD", "PWD"):
        env.pop(name, None)
    env[FORBIDDEN_ENV] = os.pathsep.join(os.path.realpath(os.fspath(p)) for p in forbidden)
    env["PYTHONPATH"] = os.pathsep.join([str(site_dir), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
    return env


def choose_isolation(mode: IsolationMode = "auto") -> int:
    """The Landlock ABI to sandbox the attack with, or 0 for the audit-hook fallback.

    ``auto`` falls back with a logged warning; ``landlock`` fails where the kernel lacks it;
    ``audit-hook`` forces the fallback (e.g. to measure what Landlock costs).
    """
    from instahide_bench.benchmark.landlock import abi_version

    if mode == AUDIT_HOOK:
        return 0
    abi = abi_version()
    if abi:
        return abi
    if mode == "landlock":
        raise InstaHideBenchError("Landlock isolation was requested but this kernel has no Landlock (Linux >= 5.13)")
    logger.warning(
        "Landlock is not available in this kernel: the attack runs behind the audit-hook guard only, "
        "which native code (ctypes, compiled extensions, non-Python subprocesses) can bypass; "
        "run untrusted attacks on Linux >= 5.13 with Landlock enabled, or in a container"
    )
    return 0


def sandbox_env(
    excluded: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    scratch: Path,
    base_env: dict[str, str] | None = None,
) -> dict[str, str]:
    """Environment for a sandboxed child: nothing that names a challenge, temp files in scratch.

    Variables whose value mentions an excluded directory (as given or resolved) are dropped,
    as are the shell's ``PWD``/``OLDPWD``; temporary, matplotlib and XDG cache directories point
    into the scratch directory, the only place outside the caches the child may write.
    """
    env = dict(base_env if base_env is not None else os.environ)
    roots = [excluded] if isinstance(excluded, (str, os.PathLike)) else list(excluded)
    names = {name for root in roots for name in (os.fspath(root), os.path.realpath(root), os.path.abspath(root))}
    for key, value in list(env.items()):
        if key in ("PWD", "OLDPWD", FORBIDDEN_ENV) or any(name in value for name in names):
            del env[key]
    for key, sub in (("TMPDIR", "tmp"), ("MPLCONFIGDIR", "mpl"), ("XDG_CACHE_HOME", "cache")):
        (scratch / sub).mkdir(parents=True, exist_ok=True)
        env[key] = str(scratch / sub)
    from instahide_bench.core.data.patches import cache_root

    env["INSTAHIDE_BENCH_CACHE"] = str(cache_root().expanduser().resolve())
    env.setdefault("NUMBA_CACHE_DIR", str(cache_root().expanduser().resolve() / "numba"))
    return env
