"""The matrix's utility column: each encoder variant's accuracy after training on its encodings.

A ``[utility]`` table in a matrix TOML file (``regress``, ``demo``) or ``matrix --utility``
asks for it::

    [utility]
    private = "mnist5k"          # labelled training set (its test split is the test set)
    rows = 600                   # training images (default: all)
    test_rows = 300
    epochs = 2                   # optional cap: each variant trains its T epochs (one per encryption), at most this
    encoders = ["mixup"]         # variant labels (default: every variant)
    reference = true             # also train without encoding (vanilla); false saves a run in CI

One no-encoding run (``vanilla``) is the reference (unless ``reference = false``). Results go
to ``OUT/utility.json`` (a list of :class:`UtilityRow`), each run's own files to
``OUT/utility/<label>/``, and a utility entry per run to ``OUT/leaderboard/utility/``, with
the same provenance as the attack entries.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from instahide_bench.benchmark.matrix.spec import MatrixSpec, base_label
from instahide_bench.benchmark.utility import (
    DEFAULT_EPOCHS,
    VANILLA,
    UtilityRequest,
    default_augmentation,
    epochs_for,
    run_utility,
)
from instahide_bench.core.errors import ConfigError, InputFileError, InstaHideBenchError
from instahide_bench.core.io import read_json, write_json_atomic
from instahide_bench.core.training import DEFAULT_MODEL, TrainConfig

logger = logging.getLogger(__name__)

UTILITY_FILE = "utility.json"
_KEYS = {
    "private",
    "test",
    "public",
    "rows",
    "test_rows",
    "epochs",
    "model",
    "batch_size",
    "seed",
    "encoders",
    "reference",
}


@dataclass(frozen=True)
class UtilitySpec:
    """What the utility column trains on and for how long (the same budget for every variant)."""

    private: str = "mnist5k"
    test: str | None = None
    public: str | None = None
    rows: int | None = None
    test_rows: int | None = None
    epochs: int | None = None
    model: str = DEFAULT_MODEL
    batch_size: int = 128
    seed: int = 0
    encoders: tuple[str, ...] = ()
    reference: bool = True

    def applies_to(self, label: str) -> bool:
        return not self.encoders or label in self.encoders or base_label(label) in self.encoders


@dataclass
class UtilityRow:
    """One variant's utility (``vanilla`` is the no-encoding reference)."""

    encoder: str
    preset: str | None
    status: Literal["ok", "failed"]
    accuracy: float | None = None
    baseline_accuracy: float | None = None
    epochs: int = 0
    seconds: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    entry_path: str | None = None


def utility_spec_from_dict(document: dict[str, Any], path: str | os.PathLike[str]) -> UtilitySpec | None:
    """The ``[utility]`` table of a matrix TOML document, or None when there is none."""
    table = document.get("utility")
    if table is None:
        return None
    if not isinstance(table, dict):
        raise InputFileError(path, "[utility] must be a table")
    unknown = set(table) - _KEYS
    if unknown:
        raise InputFileError(path, f"[utility] has unknown key(s): {', '.join(sorted(unknown))}")
    encoders = table.get("encoders", [])
    if not isinstance(encoders, list) or not all(isinstance(name, str) for name in encoders):
        raise InputFileError(path, "utility.encoders must be a list of encoder labels")
    try:
        return UtilitySpec(
            private=str(table.get("private", "mnist5k")),
            test=None if table.get("test") is None else str(table["test"]),
            public=None if table.get("public") is None else str(table["public"]),
            rows=None if table.get("rows") is None else int(table["rows"]),
            test_rows=None if table.get("test_rows") is None else int(table["test_rows"]),
            epochs=None if table.get("epochs") is None else int(table["epochs"]),
            model=str(table.get("model", DEFAULT_MODEL)),
            batch_size=int(table.get("batch_size", 128)),
            seed=int(table.get("seed", 0)),
            encoders=tuple(encoders),
            reference=_boolean(table.get("reference", True)),
        )
    except (TypeError, ValueError) as exc:
        raise InputFileError(path, f"[utility]: {exc}") from None


def _boolean(value: Any) -> bool:
    """A TOML boolean, or its spelling on the command line (``--set-utility reference=false``)."""
    if isinstance(value, bool):
        return value
    if str(value).strip().lower() in ("true", "1", "yes"):
        return True
    if str(value).strip().lower() in ("false", "0", "no"):
        return False
    raise ValueError(f"reference must be true or false, not {value!r}")


def _epochs_or_none(preset: str, overrides: dict[str, Any], cap: int | None) -> int | None:
    """:func:`epochs_for`, or None for a variant that cannot be built (its row reports why)."""
    try:
        return epochs_for(preset, overrides, cap)
    except InstaHideBenchError:
        return None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text)


def run_matrix_utility(
    spec: MatrixSpec,
    utility: UtilitySpec,
    out_dir: str | os.PathLike[str],
    *,
    resume: bool = False,
    record: bool = True,
) -> list[UtilityRow]:
    """Train on every applicable variant's encodings (and once without encoding); write OUT/utility.json.

    A variant that cannot be trained on (its encoder has no ``training_epoch``, a bad setting)
    gets a ``failed`` row with the reason, never a missing one.
    """
    out = Path(out_dir)
    variants: list[tuple[str, str, dict[str, Any]]] = [(VANILLA, VANILLA, {})] if utility.reference else []
    variants += [(v.label, v.preset, dict(v.overrides)) for v in spec.encoders if utility.applies_to(v.label)]
    unknown = sorted(
        set(utility.encoders) - {v.label for v in spec.encoders} - {base_label(v.label) for v in spec.encoders}
    )
    if unknown:
        raise ConfigError(f"[utility] names unknown encoder variant(s): {', '.join(unknown)}")
    rows: list[UtilityRow] = []
    reference: float | None = None
    encoded = [e for label, p, o in variants if label != VANILLA and (e := _epochs_or_none(p, o, utility.epochs))]
    for label, preset, overrides in variants:
        # each variant trains its own T epochs; the reference as long as the longest of them
        epochs = utility.epochs or DEFAULT_EPOCHS
        try:
            epochs = max(encoded, default=epochs) if label == VANILLA else epochs_for(preset, overrides, utility.epochs)
            config = TrainConfig(
                model=utility.model,
                epochs=epochs,
                batch_size=utility.batch_size,
                seed=utility.seed,
                augment=default_augmentation(utility.private),
            )
            request = UtilityRequest(
                encoder=preset,
                overrides=overrides,
                private=utility.private,
                test=utility.test,
                public=utility.public or spec.public,
                rows=utility.rows,
                test_rows=utility.test_rows,
                data_seed=spec.data_seed,
                baseline=False,
                train=config,
            )
            result = run_utility(request, out / "utility" / _slug(label), resume=resume)
        except InstaHideBenchError as exc:
            logger.warning("utility of %s failed: %s", label, exc)
            preset_name = None if label == VANILLA else preset
            rows.append(UtilityRow(label, preset_name, "failed", epochs=epochs, message=str(exc)))
            continue
        if label == VANILLA:
            reference = result.accuracy
        entry_path = None
        if record:
            from instahide_bench.benchmark.leaderboard.utility import record_utility
            from instahide_bench.core.provenance import command_line

            entry_path = str(record_utility(result, out / "leaderboard", name=label, command=command_line()))
        rows.append(
            UtilityRow(
                encoder=label,
                preset=result.preset,
                status="ok",
                accuracy=result.accuracy,
                baseline_accuracy=reference,
                epochs=result.epochs,
                seconds=result.seconds,
                params=result.params,
                entry_path=entry_path,
            )
        )
    write_json_atomic(out / UTILITY_FILE, [asdict(row) for row in rows])
    return rows


def load_matrix_utility(path: str | os.PathLike[str]) -> list[UtilityRow]:
    """The rows of a utility.json written by :func:`run_matrix_utility`."""
    data = read_json(path)
    try:
        return [UtilityRow(**row) for row in data]
    except TypeError as exc:
        raise InputFileError(path, f"not a matrix utility file ({exc})") from None


__all__ = [
    "UTILITY_FILE",
    "UtilityRow",
    "UtilitySpec",
    "load_matrix_utility",
    "run_matrix_utility",
    "utility_spec_from_dict",
]
