"""Typed configs: ``--set key=value`` conversion, self-description, and data-source fields.

Data-source fields are resolved before an attack's child process sees them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

import pytest

from instahide_bench.core.config import (
    FieldDoc,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    describe_config,
    param,
    parse_assignments,
    resolve_data_sources,
)
from instahide_bench.core.errors import ConfigError


@dataclass(frozen=True)
class _Config:
    source: str = param("embedded", "a data source", data_source=True)
    label: str = param("relative/but/not/a/source", "any other string")


def test_only_data_source_fields_are_resolved(tmp_path: Path) -> None:
    config = resolve_data_sources(_Config(source="folder:pics", label="folder:pics"), tmp_path)
    assert config.source == f"folder:{tmp_path / 'pics'}"
    assert config.label == "folder:pics"
    assert resolve_data_sources(_Config(), tmp_path) == _Config()


# ------------------------------------------------------------------ --set conversion, directly


@dataclass(frozen=True)
class _Typed:
    """One field of every kind that ``--set`` converts."""

    count: int = param(6, "an integer")
    rate: float = param(0.5, "a float")
    flag: bool = param(True, "a boolean")
    limit: float | None = param(None, "optional, PEP 604 spelling")
    legacy_limit: Optional[int] = param(3, "optional, typing.Optional spelling")  # noqa: UP045
    mode: Literal["cross", "inside"] = param("cross", "a choice of strings")
    level: Literal[1, 2, 4] = param(1, "a choice of integers")
    sizes: tuple[int, ...] = param((1, 2), "a tuple of ints")
    tags: list[str] = dataclasses.field(default_factory=lambda: ["a"], metadata={"help": "a list, with a factory"})
    name: str = param("x", "a string")
    plain: int = 0


def _set(**overrides: object) -> _Typed:
    return apply_overrides(_Typed(), overrides)


def test_parse_assignments_splits_on_the_first_equals_and_strips() -> None:
    pairs = ["count = 4", "name=a=b", "flag=", " mode =inside "]
    assert parse_assignments(pairs) == {"count": "4", "name": "a=b", "flag": "", "mode": "inside"}
    assert parse_assignments([]) == {}


@pytest.mark.parametrize("pair", ["count", "=4", "  =4", ""])
def test_parse_assignments_rejects_pairs_without_key_or_equals(pair: str) -> None:
    with pytest.raises(ConfigError, match=r"--set expects key=value, got"):
        parse_assignments([pair])


@pytest.mark.parametrize(
    ("text", "expected"),
    [("4", 4), ("-3", -3), ("0x10", 16), ("0o17", 15), ("0b101", 5), ("1_000", 1000), (7, 7), (3.0, 3)],
)
def test_int_fields_accept_python_integer_literals(text: object, expected: int) -> None:
    value = _set(count=text).count
    assert value == expected and type(value) is int


@pytest.mark.parametrize("bad", ["4.0", "four", "", "010", 3.5, True, None])
def test_int_fields_reject_non_integers(bad: object) -> None:
    with pytest.raises(ConfigError, match=r"^count: .* is not an integer$"):
        _set(count=bad)


@pytest.mark.parametrize(("text", "expected"), [("0.25", 0.25), ("1e-3", 1e-3), ("2", 2.0), ("-inf", float("-inf"))])
def test_float_fields(text: str, expected: float) -> None:
    value = _set(rate=text).rate
    assert value == expected and type(value) is float


def test_float_field_rejects_text() -> None:
    with pytest.raises(ConfigError, match=r"^rate: 'fast' is not a number$"):
        _set(rate="fast")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("false", False),
        ("yes", True),
        ("no", False),
        ("1", True),
        ("0", False),
        ("on", True),
        ("off", False),
        ("TRUE", True),
        (" No ", False),
        (False, False),
        (1, True),
    ],
)
def test_bool_fields(text: object, expected: bool) -> None:
    assert _set(flag=text).flag is expected


@pytest.mark.parametrize("bad", ["maybe", "", "2", "t"])
def test_bool_field_rejects_other_words(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"^flag: .* is not a boolean \(use true/false\)$"):
        _set(flag=bad)


@pytest.mark.parametrize("text", ["none", "null", "None", "NULL", None])
@pytest.mark.parametrize("field", ["limit", "legacy_limit"])
def test_optional_fields_read_none_and_null(field: str, text: object) -> None:
    assert getattr(_set(**{field: text}), field) is None


def test_optional_fields_convert_other_values_to_the_inner_type() -> None:
    config = _set(limit="0.75", legacy_limit="0x20")
    assert config.limit == 0.75 and config.legacy_limit == 32


def test_optional_field_rejects_a_bad_value_naming_the_type() -> None:
    with pytest.raises(ConfigError, match=r"^limit: cannot read 'lots' as float \| None$"):
        _set(limit="lots")


def test_literal_fields_accept_a_choice() -> None:
    config = _set(mode="inside", level="4")
    assert config.mode == "inside"
    assert config.level == 4 and type(config.level) is int
    assert _set(level=2).level == 2


def test_literal_field_rejects_another_value_listing_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"^mode: 'diagonal' is not one of 'cross', 'inside'$"):
        _set(mode="diagonal")
    with pytest.raises(ConfigError, match=r"^level: '3' is not one of 1, 2, 4$"):
        _set(level="3")


def test_tuple_and_list_fields_split_on_commas() -> None:
    config = _set(sizes="3, 4,5", tags="a,b")
    assert config.sizes == (3, 4, 5)
    assert config.tags == ["a", "b"]
    assert _set(sizes="7").sizes == (7,)
    assert _set(sizes=[8, "9"]).sizes == (8, 9), "JSON lists are converted item by item"


def test_tuple_field_rejects_a_bad_item() -> None:
    with pytest.raises(ConfigError, match=r"^sizes: 'x' is not an integer$"):
        _set(sizes="1,x")


def test_str_and_unannotated_default_fields() -> None:
    config = _set(name=5, plain="0x1f")
    assert config.name == "5" and config.plain == 31


def test_unknown_field_names_the_known_fields() -> None:
    with pytest.raises(ConfigError) as info:
        _set(cuont="4")
    message = str(info.value)
    assert message.startswith("unknown parameter 'cuont'; known: count, rate, flag, limit")
    assert message.endswith("name, plain")


def test_apply_overrides_returns_a_copy_and_converts_every_value() -> None:
    original = _Typed()
    changed = apply_overrides(original, parse_assignments(["count=0x10", "flag=no", "limit=null", "mode=inside"]))
    assert original == _Typed()
    assert (changed.count, changed.flag, changed.limit, changed.mode) == (16, False, None, "inside")
    assert apply_overrides(original, {}) == original


@dataclass(frozen=True)
class _Checked:
    k: int = param(2, "must be at least 2")

    def __post_init__(self) -> None:
        if self.k < 2:
            raise ValueError(f"k must be at least 2, got {self.k}")


def test_errors_raised_while_building_the_copy_become_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"^k must be at least 2, got 1$"):
        apply_overrides(_Checked(), {"k": "1"})


def test_config_from_dict_and_back() -> None:
    config = config_from_dict(_Typed, {"count": 9, "sizes": [1, 2, 3], "limit": None})
    assert config.count == 9 and config.sizes == (1, 2, 3) and config.limit is None
    as_dict = config_to_dict(config)
    assert as_dict["sizes"] == [1, 2, 3], "tuples become JSON lists"
    assert config_from_dict(_Typed, as_dict) == config
    with pytest.raises(ConfigError, match="unknown parameter 'nope'"):
        config_from_dict(_Typed, {"nope": 1})


def test_param_stores_help_and_data_source_metadata() -> None:
    by_name = {f.name: f for f in dataclasses.fields(_Typed)}
    assert by_name["count"].metadata["help"] == "an integer"
    assert by_name["count"].metadata["data_source"] is False
    assert by_name["count"].default == 6
    assert by_name["tags"].default is dataclasses.MISSING and _Typed().tags == ["a"]
    assert "help" not in by_name["plain"].metadata
    source = {f.name: f for f in dataclasses.fields(_Config)}["source"]
    assert source.metadata == {"help": "a data source", "data_source": True}


def test_describe_config_lists_name_type_default_and_help() -> None:
    docs = {doc.name: doc for doc in describe_config(_Typed)}
    assert list(docs) == [f.name for f in dataclasses.fields(_Typed)]
    assert docs["count"] == FieldDoc("count", "int", 6, "an integer")
    assert docs["limit"] == FieldDoc("limit", "float | None", None, "optional, PEP 604 spelling")
    assert docs["legacy_limit"].type == "int | None"
    assert docs["mode"].type == "cross|inside"
    assert docs["level"].type == "1|2|4"
    assert docs["sizes"] == FieldDoc("sizes", "tuple", (1, 2), "a tuple of ints")
    assert docs["tags"] == FieldDoc("tags", "list", ["a"], "a list, with a factory")
    assert docs["plain"] == FieldDoc("plain", "int", 0, "")
