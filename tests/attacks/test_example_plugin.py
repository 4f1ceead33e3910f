"""The example plugin of docs/writing-an-attack.md stays runnable as written."""

from __future__ import annotations

import importlib
import sys
import tomllib

import numpy as np
import pytest

from instahide_bench.attacks import Attack, AttackContext
from tests.conftest import REPO_ROOT, tiny_encoded

EXAMPLE = REPO_ROOT / "examples" / "plugin-attack"


@pytest.fixture
def example_module(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(EXAMPLE / "src"))
    sys.modules.pop("blur_attack", None)
    return importlib.import_module("blur_attack")


def test_entry_point_names_the_attack_class(example_module) -> None:
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())
    target = project["project"]["entry-points"]["instahide_bench.attacks"]["abs-blur"]
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    assert issubclass(cls, Attack) and cls.name == "abs-blur"


def test_example_attack_runs_in_the_pixel_range(example_module) -> None:
    encoded = tiny_encoded("instahide-unit-range")
    attack = example_module.AbsBlurAttack(example_module.AbsBlurConfig(sigma=1.0))
    result = attack.run(encoded.public_view(), AttackContext())
    assert result.decryption.shape == encoded.encryption.shape
    assert np.isfinite(result.decryption).all()
    assert result.decryption.min() >= 0.0 and result.decryption.max() <= 1.0  # [0, 1] pixel space


def test_the_example_imports_nothing_of_instahide_bench_but_the_api() -> None:
    import ast

    imported = set()
    for path in (EXAMPLE / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    assert {name for name in imported if name.split(".")[0] == "instahide_bench"} == {"instahide_bench.api"}


def test_the_guide_imports_nothing_of_instahide_bench_but_the_api() -> None:
    guide = (REPO_ROOT / "docs" / "writing-an-attack.md").read_text(encoding="utf-8")
    lines = [line for line in guide.splitlines() if line.startswith(("from instahide_bench", "import instahide_bench"))]
    assert lines and all(line.startswith("from instahide_bench.api import") for line in lines)
