"""Keeping attacks away from the key.

The attack runner starts each attack in a child process that only has a copy of the public
files. On top of that, the child (and every Python process it starts, e.g. Dask workers)
installs a CPython audit hook that refuses to open, list, link or hand to a subprocess any
path inside the original challenge directory, wherever the path came from (guessed, read
from /proc, reached through a symlink): a module that goes looking for ``key/`` finds nothing.

Threat model: this stops accidental use and path guessing by Python code. It is not a sandbox
against deliberately malicious native code (ctypes, compiled extensions calling ``open``
directly, non-Python subprocesses given paths in other encodings); run untrusted plugins in a
container as well.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

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
