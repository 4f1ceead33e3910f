"""A fake installed plugin distribution, for the tests that discover plugins by entry point."""

from __future__ import annotations

from pathlib import Path


def write_plugin_distribution(root: Path, package: str, source: str, entries: dict[str, str], group: str) -> Path:
    """Write ``package`` (its ``__init__.py`` is ``source``) and a ``.dist-info`` declaring ``entries``.

    The layout an installed third-party plugin has: put ``root`` on ``sys.path`` (and on
    ``PYTHONPATH`` for child processes) and ``importlib.metadata`` finds the entry points,
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
