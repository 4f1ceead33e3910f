"""What a wheel of this project contains: every subpackage, the templates, one version."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages

import instahide_bench
from tests.conftest import REPO_ROOT

PACKAGE_ROOT = Path(instahide_bench.__file__).parent


def test_every_folder_of_python_modules_is_a_regular_package() -> None:
    """A folder without ``__init__.py`` imports from a checkout but is left out of the wheel."""
    folders = {path.parent for path in PACKAGE_ROOT.rglob("*.py")}
    missing = sorted(str(folder.relative_to(REPO_ROOT)) for folder in folders if not (folder / "__init__.py").exists())
    assert not missing, f"no __init__.py in {missing}"


def test_setuptools_finds_every_subpackage() -> None:
    found = set(find_packages(str(REPO_ROOT), include=["instahide_bench*"]))
    expected = {".".join(path.parent.relative_to(REPO_ROOT).parts) for path in PACKAGE_ROOT.rglob("__init__.py")}
    assert expected <= found


def test_the_version_is_written_in_one_place() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "instahide_bench.__version__"}
    assert instahide_bench.__version__.count(".") == 2


def _imported_distributions() -> set[str]:
    """Distributions that provide the third-party modules the package imports (any import statement)."""
    import ast
    import sys
    from importlib.metadata import packages_distributions

    modules = set()
    for path in PACKAGE_ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    third_party = {m for m in modules if m not in sys.stdlib_module_names and m != "instahide_bench"}
    providers = packages_distributions()
    return {dist.lower() for module in third_party for dist in providers.get(module, [module])}


def test_every_imported_package_is_declared() -> None:
    import re

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = {
        re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower()
        for requirement in project["project"]["dependencies"]
    }
    declared = {name.replace("_", "-") for name in declared}
    imported = {name.replace("_", "-") for name in _imported_distributions()}
    assert imported <= declared, f"imported but not declared: {sorted(imported - declared)}"
