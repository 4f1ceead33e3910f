"""What a matrix runs: encoder variants x attack variants, on which data, within which limits.

A spec comes from command-line flags (``matrix``) or from a TOML file (``regress``, ``demo``)::

    [matrix]
    private = "embedded"                           # data sources, as for `generate`
    public = "embedded"
    encoder_set = { n = 20, T = 10 }               # applied to every encoder variant
    time_limit = 600                               # seconds per cell (optional)
    membership = true                              # optional: membership challenges (docs/membership.md)
    candidates = 40                                # optional, with membership: total candidates

    [encoders.weak-cross]                          # a variant: a preset plus overrides
    preset = "instahide-cross"
    set = { rng = "legacy-seeded", seed_bits = 16 }
    sweep = { T = [5, 10, 20] }                    # optional: one variant per value

    [attacks.prng-seed-search]                     # attack variants: an attack plus overrides
    set = { seed_range = "0:16777216", engine = "local" }
    only = ["weak-cross"]                          # optional: the encoder variants it applies to

Encoder labels name the variant (``weak-cross``, or ``weak-cross[T=5]`` for sweeps);
attack labels are the table's keys (the attack name unless ``attack = "..."`` says otherwise).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from instahide_bench.core.errors import ConfigError, InputFileError
from instahide_bench.core.io import read_toml

if TYPE_CHECKING:
    from instahide_bench.benchmark.generate import GradientRequest

DEFAULT_SOURCE = "embedded"


def base_label(label: str) -> str:
    """The variant a swept encoder label came from: ``weak-cross[T=5]`` -> ``weak-cross``."""
    return label.split("[", 1)[0]


@dataclass(frozen=True)
class EncoderVariant:
    """A preset with overrides; ``seed`` pins a legacy-seeded encoder (None: drawn from the OS).

    ``gradients`` (the keyword arguments of :class:`~instahide_bench.benchmark.generate.GradientRequest`,
    e.g. ``{batch_size = 4, steps = 50, model = "mlp"}``) makes the variant's challenge a gradient
    challenge: a federated client trains on the encodings and the server's view is released.
    """

    label: str
    preset: str
    overrides: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    gradients: dict[str, Any] | None = None

    @property
    def kind(self) -> str:
        """The kind of challenge the variant makes: ``release`` or ``gradients``."""
        return "release" if self.gradients is None else "gradients"


@dataclass(frozen=True)
class AttackVariant:
    """An attack with config overrides, under a label.

    ``only`` names the encoder variants the attack applies to (an attack built for one family,
    such as cross-dataset InstaHide, would only fail elsewhere); empty means all. A swept
    variant ``label[T=5]`` matches its base label.
    """

    label: str
    attack: str
    overrides: dict[str, Any] = field(default_factory=dict)
    only: tuple[str, ...] = ()

    def applies_to(self, encoder_label: str) -> bool:
        return not self.only or base_label(encoder_label) in self.only or encoder_label in self.only


@dataclass(frozen=True)
class MatrixSpec:
    """Everything a matrix run needs besides where to write."""

    encoders: tuple[EncoderVariant, ...]
    attacks: tuple[AttackVariant, ...]
    private: str = DEFAULT_SOURCE
    public: str = DEFAULT_SOURCE
    data_seed: int = 0
    time_limit: float | None = None
    memory_limit_mib: float | None = None
    membership: bool = False
    candidates: int | None = None

    def __post_init__(self) -> None:
        if not self.encoders:
            raise ConfigError("a matrix needs at least one encoder")
        if not self.attacks:
            raise ConfigError("a matrix needs at least one attack")
        for kind, labels in (
            ("encoder", [e.label for e in self.encoders]),
            ("attack", [a.label for a in self.attacks]),
        ):
            duplicates = sorted({label for label in labels if labels.count(label) > 1})
            if duplicates:
                raise ConfigError(f"{kind} label(s) used twice: {', '.join(duplicates)}")
        known = {e.label for e in self.encoders} | {base_label(e.label) for e in self.encoders}
        for attack in self.attacks:
            unknown = sorted(set(attack.only) - known)
            if unknown:
                raise ConfigError(
                    f"attack {attack.label!r}: 'only' names unknown encoder variant(s) {', '.join(unknown)}"
                )
        if not self.cells():
            raise ConfigError("no attack applies to any encoder variant")

    def cells(self) -> list[tuple[EncoderVariant, AttackVariant]]:
        """The (encoder, attack) pairs to run, encoder-major, skipping attacks that do not apply."""
        return [(e, a) for e in self.encoders for a in self.attacks if a.applies_to(e.label)]

    def validate(self, exclude: Sequence[str | os.PathLike[str]] = ()) -> dict[str, tuple[str, ...]]:
        """Check presets, attacks and every override before any work is started.

        Attack configs are plugin code: they are checked by the confined attack catalogue
        (:mod:`instahide_bench.benchmark.catalogue`), never in this process; ``exclude`` names
        directories (the matrix's challenges) that the check may not read. Returns, per attack
        label, the kinds of challenge it attacks (see :meth:`runnable_cells`).
        """
        from instahide_bench.benchmark.catalogue import check_attacks
        from instahide_bench.encoders import get_preset

        for encoder in self.encoders:
            get_preset(encoder.preset).build(encoder.overrides)
            if encoder.gradients is not None:
                gradient_request(encoder.gradients)
        checks = check_attacks([(a.attack, a.overrides) for a in self.attacks], exclude=[Path(p) for p in exclude])
        kinds = {}
        for attack, check in zip(self.attacks, checks):
            if check.error is not None:
                raise ConfigError(f"attack {attack.label!r} ({attack.attack}): {check.error}")
            kinds[attack.label] = check.challenge_kinds
        return kinds

    def runnable_cells(self, kinds: Mapping[str, Sequence[str]]) -> list[tuple[EncoderVariant, AttackVariant]]:
        """:meth:`cells` without the attacks that do not attack their encoder variant's kind of challenge."""
        return [(e, a) for e, a in self.cells() if e.kind in kinds.get(a.label, ("release",))]

    def to_json(self) -> dict[str, Any]:
        return {
            "encoders": [vars(e) | {"overrides": dict(e.overrides), "gradients": e.gradients} for e in self.encoders],
            "attacks": [vars(a) | {"overrides": dict(a.overrides), "only": list(a.only)} for a in self.attacks],
            "private": self.private,
            "public": self.public,
            "data_seed": self.data_seed,
            "time_limit": self.time_limit,
            "memory_limit_mib": self.memory_limit_mib,
            "membership": self.membership,
            "candidates": self.candidates,
        }


def gradient_request(table: Mapping[str, Any]) -> GradientRequest:
    """A spec's ``gradients`` table as a validated GradientRequest (``prune``, ``clip``, ``noise`` are its defences)."""
    from instahide_bench.benchmark.generate import GradientRequest
    from instahide_bench.core.gradients import Defences

    values = dict(table)
    defences = {name: values.pop(name) for name in ("prune", "clip", "noise") if name in values}
    try:
        request = GradientRequest(**values, defences=Defences(**defences))
    except TypeError as exc:
        raise ConfigError(f"gradients: {exc}") from None
    request.validate()
    return request


def _sweep_variants(
    label: str,
    preset: str,
    overrides: Mapping[str, Any],
    sweep: Mapping[str, Sequence[Any]],
    seed: int | None,
    gradients: dict[str, Any] | None = None,
) -> list[EncoderVariant]:
    if not sweep:
        return [EncoderVariant(label, preset, dict(overrides), seed, gradients)]
    names = list(sweep)
    variants = []
    for values in itertools.product(*(list(sweep[name]) for name in names)):
        changes = dict(zip(names, values))
        suffix = ",".join(f"{name}={value}" for name, value in changes.items())
        variants.append(EncoderVariant(f"{label}[{suffix}]", preset, {**overrides, **changes}, seed, gradients))
    return variants


def parse_sweeps(items: Iterable[str]) -> dict[str, list[str]]:
    """``["T=10,20,50", "k=4,6"]`` -> ``{"T": ["10", "20", "50"], "k": ["4", "6"]}``."""
    sweeps: dict[str, list[str]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        parts = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not name.strip() or not parts:
            raise ConfigError(f"--sweep expects NAME=V1,V2,..., got {item!r}")
        sweeps[name.strip()] = parts
    return sweeps


def spec_from_cli(
    encoders: str,
    attacks: str,
    *,
    private: str = DEFAULT_SOURCE,
    public: str = DEFAULT_SOURCE,
    encoder_set: Mapping[str, Any] | None = None,
    attack_set: Mapping[str, Any] | None = None,
    sweeps: Mapping[str, Sequence[Any]] | None = None,
    seed: int | None = None,
    data_seed: int = 0,
    time_limit: float | None = None,
    memory_limit_mib: float | None = None,
) -> MatrixSpec:
    """A spec from ``--encoders A,B --attacks X,Y``; ``attack_set`` keys are ``ATTACK.FIELD``."""
    encoder_names = [name.strip() for name in encoders.split(",") if name.strip()]
    attack_names = [name.strip() for name in attacks.split(",") if name.strip()]
    per_attack: dict[str, dict[str, Any]] = {name: {} for name in attack_names}
    for key, value in (attack_set or {}).items():
        attack, dot, field_name = key.partition(".")
        if not dot or attack not in per_attack:
            raise ConfigError(
                f"--set-attack expects ATTACK.FIELD=VALUE for one of {', '.join(attack_names)}, got {key!r}"
            )
        per_attack[attack][field_name] = value
    variants = [
        v
        for name in encoder_names
        for v in _sweep_variants(name, name, dict(encoder_set or {}), dict(sweeps or {}), seed)
    ]
    return MatrixSpec(
        encoders=tuple(variants),
        attacks=tuple(AttackVariant(name, name, per_attack[name]) for name in attack_names),
        private=private,
        public=public,
        data_seed=data_seed,
        time_limit=time_limit,
        memory_limit_mib=memory_limit_mib,
    )


def _table(value: Any, where: str, path: Path) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputFileError(path, f"{where} must be a table")
    return value


def _typed(table: Mapping[str, Any], name: str, kind: type, path: Path, default: Any) -> Any:
    """``table[name]`` when it has type ``kind`` (``default`` when absent), else one error naming the field."""
    value = table.get(name, default)
    if not isinstance(value, kind):
        raise InputFileError(path, f"matrix.{name} must be a {kind.__name__}, got {value!r}")
    return value


def _number(table: Mapping[str, Any], name: str, path: Path, *, low: float, whole: bool = False) -> Any:
    """An optional finite number ``>= low`` (an integer with ``whole``; ``> 0`` for limits), else one error."""
    value: Any = table.get(name)
    if value is None:
        return None
    wrong_type = isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and isinstance(value, float))
    if wrong_type or not math.isfinite(value) or value < low:
        what = "an integer" if whole else "a finite number"
        raise InputFileError(path, f"matrix.{name} must be {what} of at least {low:g}, got {value!r}")
    if not whole and value == 0:
        raise InputFileError(path, f"matrix.{name} must be positive, got 0")
    return value


def spec_from_dict(document: Mapping[str, Any], path: Path) -> MatrixSpec:
    """A spec from a parsed TOML document (see the module docstring)."""
    matrix = _table(document.get("matrix"), "[matrix]", path)
    shared = _table(matrix.get("encoder_set"), "matrix.encoder_set", path)
    encoders: list[EncoderVariant] = []
    for label, table in _table(document.get("encoders"), "[encoders]", path).items():
        table = _table(table, f"[encoders.{label}]", path)
        overrides = {**shared, **_table(table.get("set"), f"encoders.{label}.set", path)}
        sweep = _table(table.get("sweep"), f"encoders.{label}.sweep", path)
        if any(not isinstance(v, list) or not v for v in sweep.values()):
            raise InputFileError(path, f"encoders.{label}.sweep values must be non-empty lists")
        gradients = table.get("gradients")
        if gradients is not None:
            gradients = dict(_table(gradients, f"encoders.{label}.gradients", path))
        encoders += _sweep_variants(
            label, str(table.get("preset", label)), overrides, sweep, table.get("seed"), gradients
        )
    attacks = []
    for label, table in _table(document.get("attacks"), "[attacks]", path).items():
        table = _table(table, f"[attacks.{label}]", path)
        only = table.get("only", [])
        if not isinstance(only, list) or not all(isinstance(name, str) for name in only):
            raise InputFileError(path, f"attacks.{label}.only must be a list of encoder labels")
        attacks.append(
            AttackVariant(
                label,
                str(table.get("attack", label)),
                dict(_table(table.get("set"), f"attacks.{label}.set", path)),
                tuple(only),
            )
        )
    try:
        return MatrixSpec(
            encoders=tuple(encoders),
            attacks=tuple(attacks),
            private=_typed(matrix, "private", str, path, DEFAULT_SOURCE),
            public=_typed(matrix, "public", str, path, DEFAULT_SOURCE),
            data_seed=_number(matrix, "data_seed", path, low=0, whole=True) or 0,
            time_limit=_number(matrix, "time_limit", path, low=0),
            memory_limit_mib=_number(matrix, "memory_limit_mib", path, low=0),
            membership=_typed(matrix, "membership", bool, path, False),
            candidates=_number(matrix, "candidates", path, low=2, whole=True),
        )
    except ConfigError as exc:
        raise InputFileError(path, str(exc)) from None


def spec_from_toml(path: str | os.PathLike[str]) -> MatrixSpec:
    """The matrix a TOML file describes (see docs/regress.md)."""
    return spec_from_dict(read_toml(path), Path(path))


def demo_spec() -> MatrixSpec:
    """The matrix ``instahide-bench demo`` runs (``demo.toml``, shipped inside the package)."""
    from importlib.resources import as_file, files

    with as_file(files("instahide_bench.benchmark.matrix").joinpath("demo.toml")) as path:
        return spec_from_toml(path)
