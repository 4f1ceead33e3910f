"""Typed configuration dataclasses: ``key=value`` overrides and self-description.

Encoders and attacks declare their parameters as dataclasses whose fields carry a short
``help`` in their metadata. The CLI's ``--set key=value`` goes through :func:`apply_overrides`,
which converts each value to the field's declared type and names the field on any error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import types
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from instahide_bench.core.errors import ConfigError

C = TypeVar("C")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class Endpoint(str):
    """A TCP address an attack may connect to, ``tcp://HOST:PORT`` (a remote Dask scheduler, say).

    Declaring a config field as ``Endpoint`` documents that it names the network; the runner
    opens the sandbox's network only for an endpoint the *user* set (``--set``, a matrix spec),
    never for a plugin's default.

    Examples
    --------
    >>> Endpoint("tcp://10.0.0.5:8786").port
    8786
    """

    def __new__(cls, value: object) -> Endpoint:
        parsed = parse_endpoint(value)
        if parsed is None:
            raise ConfigError(f"{value!r} is not a network endpoint tcp://HOST:PORT (port 1-65535)")
        return super().__new__(cls, str(value))

    @property
    def host(self) -> str:
        return parse_endpoint(self)[0]  # type: ignore[index]  # validated in __new__

    @property
    def port(self) -> int:
        return parse_endpoint(self)[1]  # type: ignore[index]  # validated in __new__


def parse_endpoint(value: object) -> tuple[str, int] | None:
    """``"tcp://HOST:PORT"`` -> ``(HOST, PORT)``; None for anything else (no path, no other scheme)."""
    if not isinstance(value, str) or not value.startswith("tcp://"):
        return None
    host, sep, port = value[len("tcp://") :].rpartition(":")
    if not sep or not host or "/" in host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host, int(port)


def _convert(value: Any, annotation: Any, name: str) -> Any:
    """Convert ``value`` (often a string from the command line) to ``annotation``."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        options = get_args(annotation)
        if type(None) in options and (value is None or (isinstance(value, str) and value.lower() in {"none", "null"})):
            return None
        for option in options:
            if option is type(None):
                continue
            with contextlib.suppress(ConfigError):  # try the next member of the union
                return _convert(value, option, name)
        raise ConfigError(f"{name}: cannot read {value!r} as {_type_name(annotation)}")
    if origin is Literal:
        choices = get_args(annotation)
        for choice in choices:
            if value == choice or (isinstance(value, str) and str(choice) == value):
                return choice
        raise ConfigError(f"{name}: {value!r} is not one of {', '.join(map(repr, choices))}")
    if annotation is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ConfigError(f"{name}: {value!r} is not a boolean (use true/false)")
    if annotation is int:
        if isinstance(value, bool):
            raise ConfigError(f"{name}: {value!r} is not an integer")
        try:
            if isinstance(value, str):
                return int(value, 0)
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: {value!r} is not an integer") from None
    if annotation is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: {value!r} is not a number") from None
    if annotation is Endpoint:
        try:
            return Endpoint(value)
        except ConfigError as exc:
            raise ConfigError(f"{name}: {exc}") from None
    if annotation is str:
        return str(value)
    if origin in (tuple, list):
        items = value.split(",") if isinstance(value, str) else list(value)
        (item_type, *_rest) = get_args(annotation) or (str,)
        converted = [_convert(item.strip() if isinstance(item, str) else item, item_type, name) for item in items]
        return tuple(converted) if origin is tuple else converted
    return value


def field_types(cls: type) -> dict[str, Any]:
    """Resolved type annotations of a dataclass's fields."""
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def parse_assignments(pairs: Iterable[str]) -> dict[str, str]:
    """``["k=4", "mask=false"]`` -> ``{"k": "4", "mask": "false"}``."""
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        result[key.strip()] = value.strip()
    return result


def apply_overrides(config: C, overrides: Mapping[str, Any]) -> C:
    """A copy of ``config`` with ``overrides`` converted to the declared field types."""
    types_by_name = field_types(type(config))
    changes = {}
    for key, value in overrides.items():
        if key not in types_by_name:
            known = f"known: {', '.join(types_by_name)}" if types_by_name else "it takes no parameters"
            raise ConfigError(f"unknown parameter {key!r}; {known}")
        changes[key] = _convert(value, types_by_name[key], key)
    try:
        # C is any config dataclass; bounding it by typeshed's DataclassInstance would refuse the
        # plain ``type`` that Attack.Config and Encoder.Config are declared as.
        return dataclasses.replace(config, **changes)  # type: ignore[type-var]
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from None


def config_from_dict(cls: type[C], values: Mapping[str, Any]) -> C:
    """Build a config dataclass from a JSON-like dict (unknown keys are an error)."""
    return apply_overrides(cls(), values)


def config_to_dict(config: Any) -> dict[str, Any]:
    """JSON-ready dict of a config dataclass (tuples become lists)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(config).items()}


@dataclasses.dataclass(frozen=True)
class FieldDoc:
    name: str
    type: str
    default: Any
    help: str


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Literal:
        return "|".join(map(str, get_args(annotation)))
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in get_args(annotation))
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))


def describe_config(cls: type) -> list[FieldDoc]:
    """Name, type, default and help of every field, for ``presets``/``attacks`` listings."""
    hints = field_types(cls)
    docs = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        docs.append(FieldDoc(f.name, _type_name(hints[f.name]), default, f.metadata.get("help", "")))
    return docs


def param(default: Any, help: str, *, data_source: bool = False, **kwargs: Any) -> Any:
    """A dataclass field with a help text: ``k: int = param(6, "images mixed per encryption")``.

    The help is what ``instahide-bench attacks`` and ``presets`` print for the field (see
    :func:`describe_config`), so a config documents itself where users look.

    Parameters
    ----------
    default
        The field's default value; immutable (configs are frozen dataclasses: use a tuple, not a list).
    help : str
        One line: what the field controls, and its units or accepted values.
    data_source : bool
        Marks a data-source spec (``cifar10:PATH`` ...): :func:`resolve_data_sources` makes its
        path absolute before the config travels to a process with another working directory.
    **kwargs
        Passed on to :func:`dataclasses.field` (``default_factory``, ``repr``, ``compare`` ...).

    Returns
    -------
    dataclasses.Field
        Typed as ``Any`` so that it can stand as the default of a field of any type.

    Examples
    --------
    >>> from dataclasses import dataclass, fields
    >>> @dataclass(frozen=True)
    ... class BlurConfig:
    ...     sigma: float = param(1.0, "Gaussian blur width, in pixels")
    >>> fields(BlurConfig)[0].metadata["help"]
    'Gaussian blur width, in pixels'
    >>> BlurConfig().sigma
    1.0
    """
    return dataclasses.field(default=default, metadata={"help": help, "data_source": data_source}, **kwargs)


def resolve_data_sources(config: Any, base: str | os.PathLike[str] | None = None) -> Any:
    """The config with every ``data_source`` field's relative path made absolute (against ``base`` or the cwd)."""
    from instahide_bench.core.data.sources import absolute_source

    changes = {
        field.name: absolute_source(getattr(config, field.name), base)
        for field in dataclasses.fields(config)
        if field.metadata.get("data_source") and isinstance(getattr(config, field.name), str)
    }
    return dataclasses.replace(config, **changes) if changes else config


__all__ = [
    "Endpoint",
    "FieldDoc",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "describe_config",
    "field_types",
    "param",
    "parse_assignments",
    "parse_endpoint",
    "resolve_data_sources",
]
