"""Parsing of source specifications (``cifar10:PATH``) into loaders.

A source is asked for a number of images in a role ("private" images to hide, or "public"
images to mix in) and returns an :class:`ImageSet` chosen deterministically from a seed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Literal, Protocol

from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.errors import ConfigError

Role = Literal["private", "public"]


class DataSource(Protocol):
    """A loader: ``load(count, seed)`` gives ``count`` images chosen deterministically by ``seed``."""

    spec: str

    def load(self, count: int, seed: int) -> ImageSet: ...


#: Kinds that take no path (their options follow a ``?``).
PATHLESS_KINDS = ("embedded", "mnist5k")

#: kind -> factory(path or None, role) -> DataSource; filled by the loader modules below.
SOURCE_KINDS: dict[str, Callable[[str | None, Role], DataSource]] = {}


def register_source(
    kind: str,
) -> Callable[[Callable[[str | None, Role], DataSource]], Callable[[str | None, Role], DataSource]]:
    def decorate(factory: Callable[[str | None, Role], DataSource]) -> Callable[[str | None, Role], DataSource]:
        SOURCE_KINDS[kind] = factory
        return factory

    return decorate


def parse_source(spec: str, role: Role) -> DataSource:
    """``embedded``, ``mnist5k[?split=test]``, ``cifar10:PATH``, ``folder:PATH`` or ``npy:PATH`` -> a loader.

    A kind without a path may take options directly (``mnist5k?split=test``); its factory then
    gets ``"?split=test"`` as its path argument.
    """
    _import_loaders()
    kind, sep, path = spec.partition(":")
    kind, query, options = kind.partition("?")
    if query and not sep:
        path, sep = "?" + options, ":"
    kind = kind.strip().lower()
    if kind not in SOURCE_KINDS:
        raise ConfigError(
            f"unknown data source {spec!r}; use one of: "
            + ", ".join(f"{k}:PATH" if k not in PATHLESS_KINDS else k for k in SOURCE_KINDS)
        )
    return SOURCE_KINDS[kind](path if sep else None, role)


def source_kinds() -> list[str]:
    """The registered kinds of data source (``cifar10``, ``folder``, ...), loaders imported."""
    _import_loaders()
    return sorted(SOURCE_KINDS)


def absolute_source(spec: str, base: str | os.PathLike[str] | None = None) -> str:
    """``spec`` with a relative PATH made absolute against ``base`` (default: the working directory).

    A spec's path means what it means where the user typed it; attacks run in a child process
    with its own working directory, so the runner hands them absolute paths.
    """
    kind, sep, rest = spec.partition(":")
    if not sep or not rest:
        return spec
    path, mark, query = rest.partition("?")
    if not path or os.path.isabs(path):
        return spec
    return f"{kind}:{os.path.abspath(os.path.join(base or os.getcwd(), path))}{mark}{query}"


def _import_loaders() -> None:
    """Import the loader modules so that they register themselves (kept lazy: some are heavy)."""
    from instahide_bench.core.data import arrays, cifar10, digits, embedded, folder  # noqa: F401
