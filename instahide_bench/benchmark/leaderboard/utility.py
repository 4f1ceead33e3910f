"""Utility entries: how well a model trained on an encoder's output classifies clean images.

The privacy side of an encoder is in the attack entries; its cost is here. A utility entry
carries the same provenance as an attack entry (hardware, library versions, date, command)
and is stored the same way (one JSON file, written atomically under a unique name), in
``ROOT/utility/`` so that the attack tables never mistake it for one of theirs::

    ROOT/utility/<date>-<name>-<random>.json
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from instahide_bench.benchmark.leaderboard.entry import hardware_summary, provenance_from_json, provenance_to_json
from instahide_bench.benchmark.leaderboard.store import slug
from instahide_bench.core.errors import InputFileError
from instahide_bench.core.io import read_json, write_json_atomic
from instahide_bench.core.provenance import HardwareInfo, Provenance, hardware_info, scoring_versions, utc_now_iso

if TYPE_CHECKING:
    from instahide_bench.benchmark.utility import UtilityResult

logger = logging.getLogger(__name__)

UTILITY_DIR = "utility"
UTILITY_FORMAT_VERSION = 1


@dataclass(frozen=True)
class UtilityEntry:
    """One measured utility result with its provenance."""

    name: str
    encoder: str
    preset: str | None
    params: dict[str, Any]
    model: str
    epochs: int
    private: str
    test: str
    train_rows: int
    test_rows: int
    accuracy: float
    baseline_accuracy: float | None
    seconds: float
    images_per_second: float
    device: str
    hardware: HardwareInfo | str = "unknown"
    versions: dict[str, str] = field(default_factory=dict)
    date: str | None = None
    command: str | None = None
    notes: str = ""
    extras: dict[str, Any] = field(default_factory=dict)
    status: str = "measured"
    format_version: int = UTILITY_FORMAT_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "kind": "utility",
            "name": self.name,
            "status": self.status,
            "encoder": {"name": self.encoder, "preset": self.preset, "params": self.params},
            "training": {"model": self.model, "epochs": self.epochs, "device": self.device},
            "data": {
                "private": self.private,
                "test": self.test,
                "train_rows": self.train_rows,
                "test_rows": self.test_rows,
            },
            "metrics": {
                "accuracy": self.accuracy,
                "baseline_accuracy": self.baseline_accuracy,
                "seconds": self.seconds,
                "images_per_second": self.images_per_second,
            },
            **provenance_to_json(self),
        }

    @classmethod
    def from_json(cls, obj: Any, path: str | os.PathLike[str]) -> UtilityEntry:
        """Rebuild an entry read from ``path``; any malformation is one :class:`InputFileError`."""
        if not isinstance(obj, dict) or obj.get("kind") != "utility":
            raise InputFileError(path, "not a utility entry (a JSON object with kind 'utility')")
        if obj.get("format_version") != UTILITY_FORMAT_VERSION:
            raise InputFileError(path, f"utility entry format_version {obj.get('format_version')!r} is not supported")
        try:
            encoder, training, data, metrics = obj["encoder"], obj["training"], obj["data"], obj["metrics"]
            baseline = metrics.get("baseline_accuracy")
            return cls(
                name=str(obj["name"]),
                encoder=str(encoder["name"]),
                preset=None if encoder.get("preset") is None else str(encoder["preset"]),
                params=dict(encoder.get("params") or {}),
                model=str(training["model"]),
                epochs=int(training["epochs"]),
                device=str(training.get("device", "")),
                private=str(data["private"]),
                test=str(data["test"]),
                train_rows=int(data["train_rows"]),
                test_rows=int(data["test_rows"]),
                accuracy=float(metrics["accuracy"]),
                baseline_accuracy=None if baseline is None else float(baseline),
                seconds=float(metrics["seconds"]),
                images_per_second=float(metrics.get("images_per_second", 0.0)),
                **provenance_from_json(obj),
                status=str(obj.get("status", "measured")),
            )
        except KeyError as exc:
            raise InputFileError(path, f"utility entry lacks the field {exc.args[0]!r}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise InputFileError(path, f"malformed utility entry ({exc})") from None


def shown_source(spec: str) -> str:
    """A data-source spec without the machine's directories: ``cifar10:/x/y/cifar-10-batches-py?split=test``
    -> ``cifar10:cifar-10-batches-py?split=test`` (an entry is published; a local path means nothing elsewhere)."""
    kind, sep, rest = spec.partition(":")
    if not sep or not rest:
        return spec
    path, mark, query = rest.partition("?")
    name = Path(path).name if path else ""
    return f"{kind}:{name}{mark}{query}"


def utility_entry(
    result: UtilityResult, *, name: str | None = None, provenance: Provenance | None = None, notes: str = ""
) -> UtilityEntry:
    """The entry of a utility run measured here and now (provenance collected unless given)."""
    if provenance is None:
        provenance = Provenance(hardware=hardware_info(), versions=scoring_versions(), date=utc_now_iso())
    return UtilityEntry(
        name=name or result.encoder,
        encoder=result.encoder,
        preset=result.preset,
        params=dict(result.params),
        model=result.model,
        epochs=result.epochs,
        private=shown_source(result.private),
        test=shown_source(result.test),
        train_rows=result.train_rows,
        test_rows=result.test_rows,
        accuracy=result.accuracy,
        baseline_accuracy=result.baseline_accuracy,
        seconds=result.seconds,
        images_per_second=result.images_per_second,
        device=result.device,
        hardware=provenance.hardware,
        versions=dict(provenance.versions),
        date=provenance.date,
        command=provenance.command,
        notes=notes,
        extras={"train_config": result.train_config, "pretrain": result.pretrain},
    )


def record_utility_entry(entry: UtilityEntry, root: str | os.PathLike[str]) -> Path:
    """Write ``entry`` under ``root/utility/`` with a unique name; return the file's path."""
    directory = Path(root) / UTILITY_DIR
    directory.mkdir(parents=True, exist_ok=True)
    date = re.sub(r"[^0-9]", "", entry.date or "")[:14] or "undated"
    path = directory / f"{date}-{slug(entry.name)}-{uuid.uuid4().hex[:12]}.json"
    write_json_atomic(path, entry.to_json())
    logger.info("recorded utility entry %r in %s", entry.name, path)
    return path


def record_utility(
    result: UtilityResult, root: str | os.PathLike[str], *, name: str | None = None, command: str | None = None
) -> Path:
    """Build the entry of ``result`` (provenance of this process, ``command`` as run) and record it."""
    provenance = Provenance(
        hardware=hardware_info(), versions=scoring_versions(), date=utc_now_iso(), command=command or ""
    )
    return record_utility_entry(utility_entry(result, name=name, provenance=provenance), root)


def load_utility_entries(root: str | os.PathLike[str]) -> list[tuple[UtilityEntry, Path]]:
    """Every utility entry under ``root`` (by path); an unreadable one is skipped with a warning."""
    directory = Path(root) / UTILITY_DIR
    if not directory.is_dir():
        return []
    entries = []
    for path in sorted(p for p in directory.glob("*.json") if not p.name.startswith(".")):
        try:
            entries.append((UtilityEntry.from_json(read_json(path), path), path))
        except InputFileError as exc:
            logger.warning("skipping %s", exc)
    return entries


def utility_markdown(root: str | os.PathLike[str]) -> str:
    """The README section of the utility entries under ``root`` ("" when there are none), best first per data set."""
    from instahide_bench.benchmark.views import md_cell

    entries = load_utility_entries(root)
    if not entries:
        return ""
    lines = [
        "",
        "## Utility: accuracy of a model trained on the encodings",
        "",
        "Clean test accuracy after training on each encoder's output (a fresh encoding of every private "
        "image per epoch); `baseline` is the same recipe without encoding. Entries in `utility/`.",
        "",
        "| data | encoder | accuracy | baseline | model | epochs | train / test images | time | hardware | date |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    ordered = sorted(entries, key=lambda item: (item[0].private, -item[0].accuracy, str(item[1])))
    for entry, _ in ordered:
        baseline = "—" if entry.baseline_accuracy is None else f"{entry.baseline_accuracy:.4f}"
        hardware = hardware_summary(entry.hardware)
        cells = [
            entry.private,
            entry.name,
            f"{entry.accuracy:.4f}",
            baseline,
            entry.model,
            str(entry.epochs),
            f"{entry.train_rows} / {entry.test_rows}",
            f"{entry.seconds:.0f} s ({entry.device})",
            hardware,
            (entry.date or "")[:10],
        ]
        lines.append("| " + " | ".join(md_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


__all__ = [
    "UTILITY_DIR",
    "UtilityEntry",
    "load_utility_entries",
    "record_utility",
    "record_utility_entry",
    "shown_source",
    "utility_entry",
    "utility_markdown",
]
