"""The package's layers, enforced on every import statement (function-level and TYPE_CHECKING ones included).

    core                  -> nothing above it (the root package only, for ``__version__``)
    encoders              -> core
    attacks.common        -> core
    attacks.<one attack>  -> core, attacks.common, itself (never another attack)
    api                   -> core, attacks.common (the plugin author's one import)
    benchmark             -> anything (orchestration: runner, matrix, leaderboard, CLI)

The checker reads the source with :mod:`ast`, so an import hidden inside a function (the way
upward arrows used to hide) counts like any other.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import instahide_bench

PACKAGE = "instahide_bench"
PACKAGE_ROOT = Path(instahide_bench.__file__).parent
_LAYERS = {"core", "encoders", "attacks", "api", "benchmark", "__main__"}


@dataclass(frozen=True)
class Violation:
    path: Path
    line: int
    importer: str
    imported: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.imported}"


def _layer(module: str) -> str:
    """The layer a module belongs to: 'core', 'encoders', 'attacks.common', 'attacks.<name>', 'api', ..."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] not in _LAYERS:
        return "root"  # the package itself, or a name imported from it (``__version__``)
    if parts[1] == "attacks" and len(parts) > 2:
        return f"attacks.{parts[2]}"
    return parts[1]


def _allowed(importer: str, imported: str) -> bool:
    if not (imported == PACKAGE or imported.startswith(PACKAGE + ".")):
        return True  # third-party and standard library
    source, target = _layer(importer), _layer(imported)
    if target == "root":
        return True  # the root package holds only the version
    if source in ("benchmark", "root", "__main__"):
        return True
    if source == "core" or source == "encoders":
        return target in {"core", source}
    if source == "api":
        return target in {"core", "attacks.common"}
    if source == "attacks":  # attacks/__init__.py registers the built-in attacks
        return target == "core" or target.startswith("attacks")
    if source.startswith("attacks."):
        return target in {"core", "attacks.common", source}
    return False


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing module's package
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # ``from pkg import submodule`` imports the submodule too
            found.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
    return found


def layer_violations(root: Path) -> list[Violation]:
    """Every import under ``root`` (a copy of the package directory) that crosses a layer upwards."""
    violations = []
    for path in sorted(root.rglob("*.py")):
        module = _module_name(path, root)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, imported in _imports(tree, module, path.name == "__init__.py"):
            if not _allowed(module, imported):
                violations.append(Violation(path, line, module, imported))
    return violations


def test_the_package_respects_its_layers() -> None:
    violations = layer_violations(PACKAGE_ROOT)
    assert not violations, "imports that cross a layer upwards:\n" + "\n".join(map(str, violations))


def _scratch_package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / PACKAGE
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_an_upward_import_hidden_in_a_function_is_caught(tmp_path: Path) -> None:
    root = _scratch_package(
        tmp_path,
        {
            "core/__init__.py": "",
            "core/scoring.py": "def f():\n    from instahide_bench.benchmark.runner import run_attack\n",
            "benchmark/runner.py": "from instahide_bench.core import scoring\n",
        },
    )
    assert [(v.importer, v.imported) for v in layer_violations(root)] == [
        ("instahide_bench.core.scoring", "instahide_bench.benchmark.runner"),
        ("instahide_bench.core.scoring", "instahide_bench.benchmark.runner.run_attack"),
    ]


def test_one_attack_importing_another_is_caught(tmp_path: Path) -> None:
    root = _scratch_package(
        tmp_path,
        {
            "attacks/carlini/attack.py": "from instahide_bench.attacks.mixup_sign_recovery import labels\n"
            "from instahide_bench.attacks.common import demix\n",
            "attacks/mixup_sign_recovery/labels.py": "from ..common import signs\n",
        },
    )
    found = {(v.importer, v.imported) for v in layer_violations(root)}
    assert found == {
        ("instahide_bench.attacks.carlini.attack", "instahide_bench.attacks.mixup_sign_recovery"),
        ("instahide_bench.attacks.carlini.attack", "instahide_bench.attacks.mixup_sign_recovery.labels"),
    }


def test_encoders_may_not_import_attacks_but_may_import_core(tmp_path: Path) -> None:
    root = _scratch_package(
        tmp_path,
        {
            "encoders/new.py": "import instahide_bench.core.pixels\nimport instahide_bench.attacks.common.signs\n",
        },
    )
    assert [v.imported for v in layer_violations(root)] == ["instahide_bench.attacks.common.signs"]
