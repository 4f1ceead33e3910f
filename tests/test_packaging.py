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
