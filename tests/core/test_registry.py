"""The plugin registry on its own: decorators, lazy targets, entry points and scoped changes.

Each test builds its own :class:`Registry` on an entry-point group no installed package
uses, so nothing here depends on (or changes) the global ATTACKS and ENCODERS registries,
except the one test of ``ATTACKS.scoped()``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from instahide_bench.attacks import ATTACKS
from instahide_bench.core.attack import Attack, AttackContext, AttackResult
from instahide_bench.core.challenge import PublicChallenge
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.registry import Registry
from tests.plugin_dist import write_plugin_distribution

GROUP = "instahide_bench_tests.widgets"
#: Modules written by these tests; removed from sys.modules after each test.
PLUGIN_MODULES = ("registry_test_lazy", "registry_test_entry_points")


class Alpha:
    pass


class Beta:
    pass


@pytest.fixture
def registry() -> Registry[type]:
    return Registry("widget", GROUP)


@pytest.fixture
def forget_plugin_modules() -> Iterator[None]:
    yield
    for name in PLUGIN_MODULES:
        sys.modules.pop(name, None)


@pytest.fixture
def lazy_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forget_plugin_modules: None) -> str:
    """A module ``registry_test_lazy`` on sys.path, not imported yet, defining ``Gamma``."""
    (tmp_path / "registry_test_lazy.py").write_text("class Gamma:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "registry_test_lazy" not in sys.modules
    return "registry_test_lazy"


def make_entry_point_dir(root: Path, entries: dict[str, str]) -> Path:
    """A package and a ``.dist-info`` folder declaring ``entries`` (name -> target) in GROUP.

    The same layout an installed third-party plugin has: put ``root`` on sys.path and
    ``importlib.metadata`` finds the entry points.
    """
    source = "class Delta:\n    pass\n\n\nclass Epsilon:\n    pass\n"
    return write_plugin_distribution(root, "registry_test_entry_points", source, entries, GROUP)


# ------------------------------------------------------------------------------ by decorator


def test_register_decorator_returns_the_class_and_get_finds_it(registry: Registry[type]) -> None:
    decorated = registry.register("alpha")(Alpha)
    assert decorated is Alpha
    assert registry.get("alpha") is Alpha
    assert "alpha" in registry and "beta" not in registry
    assert registry.names() == ["alpha"] == list(registry)


def test_register_as_class_decorator(registry: Registry[type]) -> None:
    @registry.register("local")
    class Local:
        pass

    assert registry.get("local") is Local


def test_names_are_sorted_and_cover_eager_and_lazy(registry: Registry[type]) -> None:
    registry.add("zeta", Alpha)
    registry.add_lazy("eta", "nowhere:Nothing")
    registry.add("beta", Beta)
    assert registry.names() == ["beta", "eta", "zeta"]


def test_registering_a_name_twice_is_an_error(registry: Registry[type]) -> None:
    registry.add("alpha", Alpha)
    registry.add("alpha", Alpha)  # the same object again: a lazily imported module re-registering itself
    with pytest.raises(ConfigError, match=r"widget name 'alpha' is registered twice \(.*Alpha.* and .*Beta.*\)"):
        registry.add("alpha", Beta)
    with pytest.raises(ConfigError, match="registered twice"):
        registry.register("alpha")(Beta)
    assert registry.get("alpha") is Alpha


def test_lazy_name_cannot_shadow_or_be_shadowed(registry: Registry[type]) -> None:
    registry.add("alpha", Alpha)
    with pytest.raises(ConfigError, match="widget name 'alpha' is registered twice"):
        registry.add_lazy("alpha", "somewhere:Alpha")
    registry.add_lazy("gamma", "somewhere:Gamma")
    with pytest.raises(ConfigError, match="widget name 'gamma' is registered twice"):
        registry.add_lazy("gamma", "elsewhere:Gamma")


# ------------------------------------------------------------------------------ lazily


def test_lazy_target_is_imported_on_first_get_only(registry: Registry[type], lazy_module: str) -> None:
    registry.add_lazy("gamma", f"{lazy_module}:Gamma")
    assert registry.names() == ["gamma"]
    assert "gamma" in registry
    assert lazy_module not in sys.modules, "listing names must not import a lazy plugin"

    gamma = registry.get("gamma")
    assert lazy_module in sys.modules
    assert gamma is sys.modules[lazy_module].Gamma
    assert registry.get("gamma") is gamma


#: The registry that the module of the next test registers itself in (it imports it from here).
SELF_REGISTERING: Registry[type] = Registry("widget", GROUP)


def test_lazy_module_that_registers_itself_is_not_a_duplicate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forget_plugin_modules: None
) -> None:
    """The built-in heavy attacks are registered lazily *and* carry the decorator."""
    (tmp_path / "registry_test_lazy.py").write_text(
        f'from {__name__} import SELF_REGISTERING\n\n\n@SELF_REGISTERING.register("gamma")\nclass Gamma:\n    pass\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with SELF_REGISTERING.scoped():
        SELF_REGISTERING.add_lazy("gamma", "registry_test_lazy:Gamma")
        gamma = SELF_REGISTERING.get("gamma")
        assert gamma is sys.modules["registry_test_lazy"].Gamma
        assert SELF_REGISTERING.names() == ["gamma"]


# ------------------------------------------------------------------------------ unknown names


def test_unknown_name_lists_the_known_ones(registry: Registry[type]) -> None:
    registry.add("beta", Beta)
    registry.add_lazy("alpha", "nowhere:Alpha")
    with pytest.raises(ConfigError, match=r"^unknown widget 'omega'; known: alpha, beta$"):
        registry.get("omega")


def test_unknown_name_in_an_empty_registry(registry: Registry[type]) -> None:
    with pytest.raises(ConfigError, match=r"^unknown widget 'omega'; known: none$"):
        registry.get("omega")


# ------------------------------------------------------------------------------ entry points


def test_entry_points_are_discovered_on_first_lookup(
    registry: Registry[type], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forget_plugin_modules: None
) -> None:
    root = make_entry_point_dir(tmp_path / "plugins", {"delta": "registry_test_entry_points:Delta"})
    monkeypatch.syspath_prepend(str(root))
    delta = registry.get("delta")
    assert delta.__name__ == "Delta" and delta.__module__ == "registry_test_entry_points"
    assert registry.names() == ["delta"]


def test_entry_points_are_read_once_until_reloaded(
    registry: Registry[type], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forget_plugin_modules: None
) -> None:
    assert registry.names() == []  # reads the (empty) group
    root = make_entry_point_dir(tmp_path / "plugins", {"delta": "registry_test_entry_points:Delta"})
    monkeypatch.syspath_prepend(str(root))
    assert "delta" not in registry, "the group is read once, not on every lookup"
    registry.reload_entry_points()
    assert registry.names() == ["delta"]
    assert registry.get("delta").__name__ == "Delta"
    registry.add("alpha", Alpha)
    assert registry.builtin_names() == ["alpha"], "what an entry point brought is not the suite's own"


def test_entry_point_does_not_replace_a_registered_name(
    registry: Registry[type], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forget_plugin_modules: None
) -> None:
    registry.add("delta", Alpha)
    registry.add_lazy("epsilon", "nowhere:Nothing")
    entries = {"delta": "registry_test_entry_points:Delta", "epsilon": "registry_test_entry_points:Epsilon"}
    monkeypatch.syspath_prepend(str(make_entry_point_dir(tmp_path / "plugins", entries)))
    registry.reload_entry_points()
    assert registry.get("delta") is Alpha
    assert "registry_test_entry_points" not in sys.modules, "a shadowed entry point is not even imported"


def test_broken_entry_point_logs_a_warning_instead_of_raising(
    registry: Registry[type],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    forget_plugin_modules: None,
) -> None:
    entries = {
        "delta": "registry_test_entry_points:Delta",
        "missing-module": "registry_test_no_such_module:Thing",
        "missing-class": "registry_test_entry_points:NoSuchClass",
    }
    monkeypatch.syspath_prepend(str(make_entry_point_dir(tmp_path / "plugins", entries)))
    with caplog.at_level(logging.WARNING, logger="instahide_bench.core.registry"):
        names = registry.names()
    assert names == ["delta"], "the working plugin still loads"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert any("could not load widget 'missing-module'" in w and "registry_test_no_such_module" in w for w in warnings)
    assert any("could not load widget 'missing-class'" in w for w in warnings)
    with pytest.raises(
        ConfigError, match=r"^widget 'missing-module' could not be loaded from its entry point .*ModuleNotFoundError"
    ):
        registry.get("missing-module")  # the reason it is missing, not "unknown"
    assert set(registry.failures()) == {"missing-module", "missing-class"}


# ------------------------------------------------------------------------------ scoped


def test_scoped_restores_items_lazy_names_and_entry_point_state(
    registry: Registry[type], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forget_plugin_modules: None
) -> None:
    registry.add("alpha", Alpha)
    registry.add_lazy("lazy", "nowhere:Nothing")
    assert registry.names() == ["alpha", "lazy"]  # entry points read: the group is empty
    root = make_entry_point_dir(tmp_path / "plugins", {"delta": "registry_test_entry_points:Delta"})
    monkeypatch.syspath_prepend(str(root))

    with registry.scoped() as inside:
        assert inside is registry
        registry.add("beta", Beta)
        registry.add_lazy("gamma", "nowhere:Gamma")
        registry.reload_entry_points()
        assert registry.names() == ["alpha", "beta", "delta", "gamma", "lazy"]

    assert registry.names() == ["alpha", "lazy"]
    # The entry points count as read again (as before the block), so the plugin still on
    # sys.path is not picked up behind the caller's back; an explicit reload finds it.
    assert "delta" not in registry
    registry.reload_entry_points()
    assert "delta" in registry


def test_scoped_restores_unread_entry_points(
    registry: Registry[type], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forget_plugin_modules: None
) -> None:
    """Entry points not read before the block are read afresh after it."""
    with registry.scoped():
        assert registry.names() == []
    monkeypatch.syspath_prepend(
        str(make_entry_point_dir(tmp_path / "plugins", {"delta": "registry_test_entry_points:Delta"}))
    )
    assert registry.names() == ["delta"]


def test_scoped_restores_after_an_exception(registry: Registry[type]) -> None:
    registry.add("alpha", Alpha)

    def register_then_fail() -> None:
        with registry.scoped():
            registry.add("beta", Beta)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        register_then_fail()
    assert registry.names() == ["alpha"]


def test_scoped_blocks_nest(registry: Registry[type]) -> None:
    with registry.scoped():
        registry.add("alpha", Alpha)
        with registry.scoped():
            registry.add("beta", Beta)
            assert registry.names() == ["alpha", "beta"]
        assert registry.names() == ["alpha"]
    assert registry.names() == []


def test_scoped_lazy_name_still_resolves_after_the_block(registry: Registry[type], lazy_module: str) -> None:
    registry.add_lazy("gamma", f"{lazy_module}:Gamma")
    with registry.scoped():
        gamma = registry.get("gamma")
    assert registry.names() == ["gamma"]
    assert registry.get("gamma") is gamma


class _ThrowawayAttack(Attack):
    name = "throwaway-scoped"
    Config = dict

    def run(self, challenge: PublicChallenge, context: AttackContext) -> AttackResult:
        raise NotImplementedError


def test_global_attacks_registry_scoped() -> None:
    before = ATTACKS.names()
    with ATTACKS.scoped():
        ATTACKS.register("throwaway-scoped")(_ThrowawayAttack)
        assert ATTACKS.get("throwaway-scoped") is _ThrowawayAttack
    assert ATTACKS.names() == before
    assert "throwaway-scoped" not in ATTACKS
