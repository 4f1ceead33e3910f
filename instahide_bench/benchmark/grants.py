"""What the user lets a sandboxed attack reach beyond its public files: read paths and TCP ports.

Only values the *user* typed widen the sandbox (``--set``, a matrix spec's ``overrides``): a
data-source spec with a path (``cifar10:PATH``, ``folder:PATH``, ``npy:PATH``) grants that
path for reading, a ``tcp://HOST:PORT`` value grants a connection to that port. A plugin's
defaults grant nothing, whatever they say, since the parent never even imports the plugin to
read them (docs/isolation.md). The parent decides from the strings alone, before any plugin
code runs anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from instahide_bench.core.config import parse_endpoint
from instahide_bench.core.errors import InstaHideBenchError


@dataclass(frozen=True)
class Grants:
    """Read paths and TCP ports the user granted, and the overrides with their paths made absolute."""

    read: tuple[str, ...] = ()
    connect: tuple[int, ...] = ()
    overrides: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, list[Any]]:
        return {"read": list(self.read), "connect": list(self.connect)}


def is_inside(path: Path, root: Path) -> bool:
    """Whether ``path`` is ``root`` or lies beneath it (both resolved by the caller)."""
    return path == root or root in path.parents


def _source_path(value: str) -> tuple[str, str, str] | None:
    """``(kind, path, rest)`` of a data-source spec with a path (``kind:PATH[?options]``), else None."""
    from instahide_bench.core.data.sources import PATHLESS_KINDS, source_kinds

    kind, sep, rest = value.partition(":")
    if not sep or kind.strip().lower() not in source_kinds() or kind.strip().lower() in PATHLESS_KINDS:
        return None
    path, mark, options = rest.partition("?")
    return (kind, path, mark + options) if path else None


def user_grants(
    overrides: Mapping[str, Any], exclude: Iterable[Path], base: str | os.PathLike[str] | None = None
) -> Grants:
    """The grants that ``overrides`` (the user's own values) ask for.

    A relative data-source path is made absolute against ``base`` (default: the working
    directory), as the user meant it; the child runs elsewhere. A path that lies inside an
    excluded directory (a challenge) is refused here, before anything starts.
    """
    excluded = [Path(p).resolve() for p in exclude]
    read: list[str] = []
    ports: set[int] = set()
    absolute: dict[str, Any] = {}
    for key, value in overrides.items():
        absolute[key] = value
        if not isinstance(value, str):
            continue
        endpoint = parse_endpoint(value.strip())
        if endpoint is not None:
            ports.add(endpoint[1])
            continue
        source = _source_path(value.strip())
        if source is None:
            continue
        kind, path, rest = source
        resolved = Path(os.path.join(base or os.getcwd(), os.path.expanduser(path))).resolve()
        for root in excluded:
            if is_inside(resolved, root):
                raise InstaHideBenchError(
                    f"{key}={value} lies inside the challenge directory {root}; attacks may not read it"
                )
        read.append(str(resolved))
        absolute[key] = f"{kind}:{os.path.abspath(os.path.join(base or os.getcwd(), os.path.expanduser(path)))}{rest}"
    return Grants(tuple(sorted(set(read))), tuple(sorted(ports)), absolute)


__all__ = ["Grants", "is_inside", "user_grants"]
