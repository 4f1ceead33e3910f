"""Name -> class registries, extensible by third-party packages through entry points.

Built-in attacks and encoders register themselves with a decorator; a third-party package
adds its own by declaring, in its pyproject.toml::

    [project.entry-points."instahide_bench.attacks"]
    my-attack = "my_package.my_module:MyAttack"

Entry points are loaded lazily, the first time a name is looked up or the names are listed.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from instahide_bench.core.errors import ConfigError

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Registry(Generic[T]):
    """A dict of named plugin classes, filled by decorators and by an entry-point group."""

    def __init__(self, kind: str, group: str) -> None:
        self.kind = kind
        self.group = group
        self._items: dict[str, T] = {}
        self._lazy: dict[str, str] = {}
        self._entry_points_loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        """Class decorator: ``@ATTACKS.register("zero")``."""

        def decorate(obj: T) -> T:
            self.add(name, obj)
            return obj

        return decorate

    def add(self, name: str, obj: T) -> None:
        existing = self._items.get(name)
        if existing is not None and existing is not obj:
            raise ConfigError(f"{self.kind} name {name!r} is registered twice ({existing!r} and {obj!r})")
        self._items[name] = obj

    def add_lazy(self, name: str, target: str) -> None:
        """Register ``"package.module:Class"``, imported on first use: listing names stays cheap
        and a run only imports the plugin it needs."""
        if name in self._items or name in self._lazy:
            raise ConfigError(f"{self.kind} name {name!r} is registered twice")
        self._lazy[name] = target

    def _resolve_lazy(self, name: str) -> T:
        module_name, _, attribute = self._lazy[name].partition(":")
        obj = getattr(importlib.import_module(module_name), attribute)
        self._items.setdefault(name, obj)
        return self._items[name]

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=self.group):
            if ep.name in self._items or ep.name in self._lazy:
                continue
            try:
                self.add(ep.name, ep.load())
            except Exception as exc:  # a broken plugin must not take the whole tool down
                logger.warning("could not load %s %r from entry point %s: %s", self.kind, ep.name, ep.value, exc)

    def reload_entry_points(self) -> None:
        """Look at the entry-point group again (after installing a plugin in-process)."""
        self._entry_points_loaded = False
        self._load_entry_points()

    def get(self, name: str) -> T:
        if name in self._items:
            return self._items[name]
        if name in self._lazy:
            return self._resolve_lazy(name)
        self._load_entry_points()
        if name in self._items:
            return self._items[name]
        raise ConfigError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names()) or 'none'}")

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted({*self._items, *self._lazy})

    def __contains__(self, name: object) -> bool:
        self._load_entry_points()
        return name in self._items or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
