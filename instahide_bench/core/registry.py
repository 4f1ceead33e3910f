"""Name -> class registries, extensible by third-party packages through entry points.

Built-in attacks and encoders register themselves with a decorator; a third-party package
adds its own by declaring, in its pyproject.toml::

    [project.entry-points."instahide_bench.attacks"]
    my-attack = "my_package.my_module:MyAttack"

Entry points are loaded lazily, the first time a name is looked up or the names are listed.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from instahide_bench.core.errors import ConfigError

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Registry(Generic[T]):
    """A dict of named plugin classes, filled by decorators and by an entry-point group.

    Three ways in, so that each kind of plugin costs as little as possible: a decorator
    (:meth:`register`) for classes defined in an imported module; a lazy ``"module:attribute"``
    target (:meth:`add_lazy`) for built-ins whose import is heavy; and the entry-point group,
    read once, on the first lookup or listing, for installed third-party packages.

    Parameters
    ----------
    kind : str
        What the registry holds (``"attack"``, ``"encoder"``), for error messages.
    group : str
        The entry-point group scanned for third-party plugins.

    Attributes
    ----------
    kind : str
        As given.
    group : str
        As given.

    Examples
    --------
    >>> registry: Registry[type] = Registry("widget", "example.widgets")
    >>> @registry.register("plain")
    ... class Plain:
    ...     pass
    >>> registry.get("plain") is Plain
    True
    """

    def __init__(self, kind: str, group: str) -> None:
        self.kind = kind
        self.group = group
        self._items: dict[str, T] = {}
        self._lazy: dict[str, str] = {}
        self._entry_points_loaded = False
        self._failed: dict[str, str] = {}
        self._from_entry_points: set[str] = set()

    def register(self, name: str) -> Callable[[T], T]:
        """Class decorator that registers the class under ``name``: ``@ATTACKS.register("zero")``.

        Parameters
        ----------
        name : str
            The name users type on the command line.

        Returns
        -------
        Callable
            A decorator that registers its argument and returns it unchanged.

        Raises
        ------
        ConfigError
            When another object is already registered under ``name``.
        """

        def decorate(obj: T) -> T:
            self.add(name, obj)
            return obj

        return decorate

    def add(self, name: str, obj: T) -> None:
        """Register ``obj`` under ``name`` (what :meth:`register` does, without decorator syntax).

        Registering the same object twice under one name is allowed, since a lazily registered
        module registers itself again with its decorator when it is imported.

        Parameters
        ----------
        name : str
            The registered name.
        obj
            The plugin class.

        Raises
        ------
        ConfigError
            When a different object is already registered under ``name``.
        """
        existing = self._items.get(name)
        if existing is not None and existing is not obj:
            raise ConfigError(f"{self.kind} name {name!r} is registered twice ({existing!r} and {obj!r})")
        self._items[name] = obj

    def add_lazy(self, name: str, target: str) -> None:
        """Register ``"package.module:Class"``, imported on first use.

        Listing names stays cheap and a run only imports the plugin it needs.

        Parameters
        ----------
        name : str
            The registered name.
        target : str
            ``"package.module:attribute"``; the module is imported by the first :meth:`get` of ``name``.

        Raises
        ------
        ConfigError
            When ``name`` is already registered (eagerly or lazily).
        """
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
                self._from_entry_points.add(ep.name)
            except Exception as exc:  # a broken plugin must not take the whole tool down
                logger.warning("could not load %s %r from entry point %s: %s", self.kind, ep.name, ep.value, exc)
                self._failed[ep.name] = f"{ep.value}: {type(exc).__name__}: {exc}"

    def reload_entry_points(self) -> None:
        """Look at the entry-point group again (after installing a plugin in-process).

        Names registered already are kept; an entry point that fails to import is logged as
        a warning and skipped, so that one broken plugin does not take the whole tool down.
        """
        self._entry_points_loaded = False
        self._failed.clear()
        self._load_entry_points()

    def failures(self) -> dict[str, str]:
        """Entry points that failed to load: name -> ``"module:attr: Error: message"``."""
        self._load_entry_points()
        return dict(self._failed)

    def get(self, name: str) -> T:
        """The plugin registered under ``name``, importing it first if it was registered lazily.

        Parameters
        ----------
        name : str
            A registered name.

        Returns
        -------
        T
            The registered object (a class, for attacks and encoders).

        Raises
        ------
        ConfigError
            When no plugin has that name; the message lists the known names.
        """
        if name in self._items:
            return self._items[name]
        if name in self._lazy:
            return self._resolve_lazy(name)
        self._load_entry_points()
        if name in self._items:
            return self._items[name]
        if name in self._failed:
            raise ConfigError(f"{self.kind} {name!r} could not be loaded from its entry point {self._failed[name]}")
        raise ConfigError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names()) or 'none'}")

    def names(self) -> list[str]:
        """Every registered name, sorted.

        Lazily registered plugins are not imported; the entry-point group is read (and its
        plugins loaded) on the first call.

        Returns
        -------
        list of str
            Names registered by decorator, lazily and through entry points.
        """
        self._load_entry_points()
        return sorted({*self._items, *self._lazy})

    def builtin_names(self) -> list[str]:
        """The names registered by decorator or lazily (the suite's own), without reading entry points."""
        return sorted({*self._items, *self._lazy} - self._from_entry_points)

    def __contains__(self, name: object) -> bool:
        self._load_entry_points()
        return name in self._items or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    @contextlib.contextmanager
    def scoped(self) -> Iterator[Registry[T]]:
        """Undo every registration made inside the ``with`` block when it ends.

        For tests and notebooks that register throwaway plugins (by decorator, lazily or
        through :meth:`reload_entry_points`): the registered objects, the lazy targets and
        whether the entry points were read are snapshotted on entry and restored on exit,
        also when the block raises. Blocks may nest.

        Modules are not unloaded: a module first imported inside the block stays in
        ``sys.modules``, and its decorator registrations are dropped with the rest (a lazy
        name keeps working, since its target is imported again from ``sys.modules``).

        Yields
        ------
        Registry
            This registry.

        Examples
        --------
        >>> registry: Registry[type] = Registry("widget", "example.widgets")
        >>> with registry.scoped():
        ...     registry.add("throwaway", dict)
        ...     "throwaway" in registry
        True
        >>> "throwaway" in registry
        False
        """
        items, lazy, loaded = dict(self._items), dict(self._lazy), self._entry_points_loaded
        failed, from_entry_points = dict(self._failed), set(self._from_entry_points)
        try:
            yield self
        finally:
            self._items.clear()
            self._items.update(items)
            self._lazy.clear()
            self._lazy.update(lazy)
            self._entry_points_loaded = loaded
            self._failed.clear()
            self._failed.update(failed)
            self._from_entry_points.clear()
            self._from_entry_points.update(from_entry_points)
