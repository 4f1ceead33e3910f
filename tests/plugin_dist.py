"""A fake installed plugin distribution, for the tests that discover plugins by entry point."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def write_plugin_distribution(root: Path, package: str, source: str, entries: dict[str, str], group: str) -> Path:
    """Write ``package`` (its ``__init__.py`` is ``source``) and a ``.dist-info`` declaring ``entries``.

    The layout an installed third-party plugin has: with ``root`` on a process's path,
    ``importlib.metadata`` finds the entry points,
    ``name -> "module:attribute"``, in ``group``. Returns ``root``.
    """
    (root / package).mkdir(parents=True, exist_ok=True)
    (root / package / "__init__.py").write_text(source)
    dist = root / f"{package}-0.1.dist-info"
    dist.mkdir()
    name = package.replace("_", "-")
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    lines = [f"[{group}]"] + [f"{entry} = {target}" for entry, target in entries.items()]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return root


@contextmanager
def installed_attacks(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The attack plugins under ``root``, discoverable by the suite's child processes only.

    The runner, the catalogue and the scorer never import plugin code in their own process, so
    the test process does not either: ``root`` goes on ``PYTHONPATH``, which child processes
    inherit, and never on this process's ``sys.path``.
    """
    monkeypatch.setenv("PYTHONPATH", str(root))
    yield root
